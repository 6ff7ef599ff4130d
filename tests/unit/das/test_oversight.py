"""The LFR oversight report's arithmetic: totals, rates, Wilson intervals and the small-count warnings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from das.oversight import GroupFigures, group_comparison_warning, lfr_report, render_text, wilson_interval

START, END = datetime(2024, 9, 1, tzinfo=UTC), datetime(2025, 9, 1, tzinfo=UTC)


def deployment(id_: str, borough: str, faces: int | None, alerts: int, false: int, arrests: int) -> dict:
    return {
        "deployment_id": id_,
        "borough": borough,
        "faces_scanned": faces,
        "alerts": alerts,
        "false_alerts": false,
        "true_matches": alerts - false,
        "not_engaged": 0,
        "arrests": arrests,
    }


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [(0, 10, 0.0, 0.2775), (5, 10, 0.2366, 0.7634), (10, 2077, 0.0026, 0.0088), (1, 1, 0.2065, 1.0)],
)
def test_the_wilson_interval_matches_published_values(k: int, n: int, low: float, high: float) -> None:
    interval = wilson_interval(k, n)
    assert interval is not None
    assert interval == pytest.approx((low, high), abs=5e-4)


def test_no_interval_without_trials() -> None:
    assert wilson_interval(0, 0) is None


def test_totals_boroughs_and_rates_add_up() -> None:
    rows = [
        deployment("D1", "Croydon", 1_000_000, 600, 4, 300),
        deployment("D2", "Croydon", 2_000_000, 1400, 6, 650),
        deployment("D3", "Westminster", 100_000, 77, 0, 12),
    ]
    report = lfr_report(rows, [], START, END)
    total = report["total"]
    assert (total["deployments"], total["faces_scanned"], total["alerts"], total["false_alerts"], total["arrests"]) == (
        3,
        3_100_000,
        2077,
        10,
        962,
    )
    assert total["false_alert_rate"] == pytest.approx(10 / 2077)
    assert total["false_alerts_per_1000_faces"] == pytest.approx(10 / 3100)
    croydon = next(b for b in report["boroughs"] if b["borough"] == "Croydon")
    assert (croydon["deployments"], croydon["alerts"]) == (2, 2000)
    assert [d["deployment_id"] for d in report["deployments"]] == ["D1", "D2", "D3"]


def test_a_deployment_without_faces_is_left_out_of_the_per_face_rate_only() -> None:
    rows = [deployment("D1", "X", 1000, 10, 1, 0), deployment("D2", "X", None, 10, 3, 0)]
    total = lfr_report(rows, [], START, END)["total"]
    assert total["false_alerts"] == 4 and total["deployments_without_faces"] == 1
    assert total["false_alerts_per_1000_faces"] == pytest.approx(1.0)  # D1's one false alert in its 1,000 faces


def test_small_groups_are_warned_about_and_block_comparison() -> None:
    groups = [GroupFigures("Black", 425, 1), GroupFigures("White", 860, 4)]
    assert all(g.warning for g in groups)
    warning = group_comparison_warning(groups)
    assert warning and "too small" in warning


def test_large_groups_with_overlapping_intervals_show_no_difference() -> None:
    groups = [GroupFigures("A", 1000, 50), GroupFigures("B", 1000, 55)]
    assert not any(g.warning for g in groups)
    assert "overlaps" in (group_comparison_warning(groups) or "")


def test_separated_intervals_allow_a_comparison() -> None:
    groups = [GroupFigures("A", 1000, 20), GroupFigures("B", 1000, 90), GroupFigures("not recorded", 5, 0)]
    assert group_comparison_warning(groups) is None


def test_the_text_names_every_figure() -> None:
    rows = [deployment("D1", "Croydon", 3_100_000, 2077, 10, 962)]
    text = render_text(lfr_report(rows, [{"group": "White", "alerts": 2077, "false_alerts": 10}], START, END))
    for figure in ("3,100,000", "2,077", "false alerts 10", "arrests 962", "Croydon", "White", "WARNING"):
        assert figure in text
