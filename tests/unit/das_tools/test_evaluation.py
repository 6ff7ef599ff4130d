"""evaluate(): TP/FP/FN counting and the per-type matching rules, on hand-made flags and truth."""

from __future__ import annotations

import h3
import pytest

from das_tools.evaluation import evaluate

pytestmark = pytest.mark.unit

CELL = h3.latlng_to_cell(51.5, -0.1, 8)
NEIGHBOUR = next(c for c in h3.grid_disk(CELL, 1) if c != CELL)
TWO_AWAY = next(c for c in h3.grid_disk(CELL, 2) if c not in h3.grid_disk(CELL, 1))

TRUTH = {
    "flags": {
        "hotlist_hit": [
            {"subject": "AB12CDE", "related": [], "planted": True},
            {"subject": "XY34ZZZ", "related": [], "planted": True},
        ],
        "convoy": [{"subject": "AA11AAA", "related": ["BB22BBB", "CC33CCC"], "planted": True}],
        "emerging_hotspot": [{"subject": CELL, "related": [], "planted": True}],
        "near_repeat": [{"subject": "CR3", "related": ["CR1", "CR2", "CR3"], "planted": True}],
        "vehicle_near_crimes": [{"subject": "OF11END", "related": ["CR7", "CR8"], "planted": True}],
    },
    "ignore": {
        "vehicle_near_crimes": [{"subject": "BUS1", "related": []}, "TAXI2"],
    },
}


def flag(flag_type: str, subject: str, related: list[str] | None = None) -> dict[str, object]:
    return {"flag_type": flag_type, "subject": subject, "related": related or []}


def test_counts_tp_fp_fn_and_duplicates() -> None:
    report = evaluate(
        [
            flag("hotlist_hit", "AB12CDE"),
            flag("hotlist_hit", "AB12CDE"),  # the same entry flagged again (e.g. another day): a duplicate
            flag("hotlist_hit", "NOT0NLIST"),
        ],
        TRUTH,
    )
    s = report.scores["hotlist_hit"]
    assert (s.tp, s.fp, s.fn, s.duplicates, s.flags) == (1, 1, 1, 1, 3)
    assert s.precision == pytest.approx(0.5)
    assert s.recall == pytest.approx(0.5)
    assert s.f1 == pytest.approx(0.5)
    assert s.missed == ["XY34ZZZ"] and s.false_positives == ["NOT0NLIST"]


def test_convoy_matches_on_two_shared_plates() -> None:
    report = evaluate(
        [
            flag("convoy", "BB22BBB", ["CC33CCC"]),  # two of the three plates: a match
            flag("convoy", "AA11AAA", ["ZZ99ZZZ"]),  # only one plate in common: a false positive
        ],
        TRUTH,
    )
    s = report.scores["convoy"]
    assert (s.tp, s.fp, s.fn) == (1, 1, 0)


def test_hotspot_accepts_the_cell_and_its_ring_only() -> None:
    near = evaluate([flag("emerging_hotspot", NEIGHBOUR)], TRUTH).scores["emerging_hotspot"]
    assert (near.tp, near.fp) == (1, 0)
    far = evaluate([flag("emerging_hotspot", TWO_AWAY)], TRUTH).scores["emerging_hotspot"]
    assert (far.tp, far.fp, far.fn) == (0, 1, 1)


def test_near_repeat_accepts_any_crime_of_the_cluster() -> None:
    s = evaluate([flag("near_repeat", "CR2", ["CR1"]), flag("near_repeat", "CR9", ["CR8"])], TRUTH).scores[
        "near_repeat"
    ]
    assert (s.tp, s.fp, s.fn) == (1, 1, 0)


def test_ignored_subjects_are_neither_true_nor_false_positives() -> None:
    s = evaluate(
        [
            flag("vehicle_near_crimes", "OF11END", ["CR7", "CR8"]),
            flag("vehicle_near_crimes", "BUS1", ["CR7", "CR9"]),
            flag("vehicle_near_crimes", "TAXI2", ["CR1", "CR2"]),
            flag("vehicle_near_crimes", "RANDOM9", ["CR1", "CR2"]),
        ],
        TRUTH,
    ).scores["vehicle_near_crimes"]
    assert (s.tp, s.fp, s.fn, s.ignored) == (1, 1, 0, 2)
    assert s.precision == pytest.approx(0.5)


def test_types_with_nothing_to_count_report_one_and_na() -> None:
    report = evaluate([], TRUTH)
    silent = report.scores["camera_silent"]
    assert (silent.precision, silent.recall) == (1.0, 1.0)
    hot = report.scores["hotlist_hit"]
    assert hot.recall == 0.0 and hot.precision == 1.0 and not hot.precision_defined
    table = report.format_table()
    silent_line = next(line for line in table.splitlines() if line.startswith("camera_silent"))
    assert silent_line.split()[-4:] == ["n/a", "n/a", "n/a", "-"]  # not a ranked type: no precision at k
    hot_line = next(line for line in table.splitlines() if line.startswith("hotlist_hit"))
    assert hot_line.split()[-4:] == ["n/a", "0.000", "0.000", "-"]


def test_ranked_types_report_precision_at_k() -> None:
    truth = {"flags": {"vehicle_near_crimes": [{"subject": "OFF1"}, {"subject": "OFF2"}]}}
    flags = [
        {"flag_type": "vehicle_near_crimes", "subject": "CHANCE", "score": 0.9, "flag_id": "a"},
        {"flag_type": "vehicle_near_crimes", "subject": "OFF1", "score": 0.8, "flag_id": "b"},
        {"flag_type": "vehicle_near_crimes", "subject": "OFF2", "score": 0.1, "flag_id": "c"},
    ]
    scored = evaluate(flags, truth).scores["vehicle_near_crimes"]
    assert scored.recall == 1.0 and scored.precision_at_k == 0.5  # the top 2 hold one offender
    assert evaluate(flags, truth).to_dict()["vehicle_near_crimes"]["precision_at_k"] == 0.5
    assert evaluate(flags, truth).scores["hotlist_hit"].precision_at_k is None


def test_related_may_come_as_json_text_and_report_serialises() -> None:
    report = evaluate([{"flag_type": "convoy", "subject": "AA11AAA", "related": '["CC33CCC"]'}], TRUTH)
    assert report.scores["convoy"].tp == 1
    as_dict = report.to_dict()
    assert as_dict["convoy"]["precision"] == 1.0 and as_dict["convoy"]["tp"] == 1
    assert report.failures(0.9, 0.9)  # hotlist_hit etc. have recall 0 here
    assert evaluate([flag("camera_silent", "00001.1")], {"flags": {}}).failures(0.9, 0.9) == [
        "camera_silent: precision 0.000 < 0.9 (false positives: ['00001.1'])"
    ]
