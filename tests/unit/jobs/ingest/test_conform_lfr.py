"""LFR conform rules: deployments and alerts, each bad input with its reason."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from jobs.ingest.conform.common import REJECT_REASON
from jobs.ingest.conform.lfr import conform_alerts, conform_deployments, deployment_totals
from jobs.sources import LFR_ALERTS, LFR_DEPLOYMENTS
from schemas.landing import LFR_ALERTS_CSV, LFR_DEPLOYMENTS_CSV
from tests.unit.jobs.ingest.raw import raw_frame

LONDON = (-0.52, 51.28, 0.34, 51.70)
NOW = datetime(2025, 10, 1, tzinfo=UTC)
DEPLOYMENT = {
    "deployment_id": "D1",
    "location_name": "Croydon, North End",
    "longitude": "-0.0988",
    "latitude": "51.3762",
    "starts_at": "2025-03-01T10:00:00Z",
    "ends_at": "2025-03-01T16:00:00Z",
    "watchlist_size": "16000",
    "faces_scanned": "15234",
    "camera_ids": "C1;C2",
}
ALERT = {
    "alert_id": "A1",
    "deployment_id": "D1",
    "alerted_at": "2025-03-01T11:00:00Z",
    "watchlist_category": "wanted_by_police_or_courts",
    "operator_verdict": "true_match",
    "outcome": "arrest",
    "demographic_group": "White",
}


def deployments(spark, **fields):  # type: ignore[no-untyped-def]
    raw = raw_frame(spark, LFR_DEPLOYMENTS_CSV.fields, [{**DEPLOYMENT, **fields}])
    return conform_deployments(raw, bbox=LONDON, h3_resolution=9)


def alerts(spark, held=("D1",), **fields):  # type: ignore[no-untyped-def]
    raw = raw_frame(spark, LFR_ALERTS_CSV.fields, [{**ALERT, **fields}])
    known = spark.createDataFrame([(d,) for d in held], "deployment_id string")
    return conform_alerts(raw, known, now=NOW, clock_skew_s=60)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({}, None),
        ({"ends_at": "", "faces_scanned": "", "watchlist_size": "", "camera_ids": ""}, None),
        ({"deployment_id": ""}, "missing_required_field"),
        ({"starts_at": ""}, "missing_required_field"),
        ({"starts_at": "next Tuesday"}, "invalid_timestamp"),
        ({"ends_at": "2025-03-01T09:00:00Z"}, "invalid_timestamp"),
        ({"faces_scanned": "-3"}, "invalid_value"),
        ({"faces_scanned": "1.5e3"}, "invalid_value"),
        ({"watchlist_size": "many"}, "invalid_value"),
        ({"camera_ids": "[not json"}, "invalid_value"),
        ({"longitude": "0", "latitude": "0"}, "null_island"),
        ({"longitude": "2.35", "latitude": "48.85"}, "outside_region"),
    ],
)
def test_each_deployment_rule_gives_its_reason(spark, fields, reason) -> None:  # type: ignore[no-untyped-def]
    out = deployments(spark, **fields).select(REJECT_REASON)
    assertDataFrameEqual(out, spark.createDataFrame([(reason,)], out.schema))


@pytest.mark.parametrize(
    ("listed", "ids"),
    [("C1;C2", ["C1", "C2"]), ("C1 | C2 |", ["C1", "C2"]), ('["C1", "C2"]', ["C1", "C2"]), ("", []), ("C9", ["C9"])],
)
def test_camera_ids_are_read_from_a_list_in_any_usual_form(spark, listed, ids) -> None:  # type: ignore[no-untyped-def]
    assert deployments(spark, camera_ids=listed).first()["camera_ids"] == ids


def test_a_deployment_is_typed_and_located(spark) -> None:  # type: ignore[no-untyped-def]
    row = deployments(spark).first()
    assert (row["faces_scanned"], row["watchlist_size"]) == (15234, 16000)
    assert row["starts_at"] < row["ends_at"]
    assert 530_000 < row["easting"] < 535_000 and row["h3_cell"]


@pytest.mark.parametrize(
    ("fields", "held", "reason"),
    [
        ({}, ("D1",), None),
        ({"outcome": "", "demographic_group": ""}, ("D1",), None),
        ({"operator_verdict": "TRUE_MATCH"}, ("D1",), None),
        ({"deployment_id": "D2"}, ("D1",), "unknown_deployment"),
        ({}, (), "unknown_deployment"),
        ({"operator_verdict": "probably"}, ("D1",), "invalid_value"),
        ({"operator_verdict": ""}, ("D1",), "missing_required_field"),
        ({"outcome": "cautioned"}, ("D1",), "invalid_value"),
        ({"alerted_at": "yesterday"}, ("D1",), "invalid_timestamp"),
        ({"alerted_at": "2025-10-02T00:00:00Z"}, ("D1",), "future_timestamp"),
        ({"alert_id": ""}, ("D1",), "missing_required_field"),
    ],
)
def test_each_alert_rule_gives_its_reason(spark, fields, held, reason) -> None:  # type: ignore[no-untyped-def]
    out = alerts(spark, held=held, **fields).select(REJECT_REASON)
    assertDataFrameEqual(out, spark.createDataFrame([(reason,)], out.schema))


def test_an_alert_keeps_the_recorded_group_and_a_lower_case_verdict(spark) -> None:  # type: ignore[no-untyped-def]
    row = alerts(spark, operator_verdict="False_Alert", outcome="No_Action").first()
    assert (row["operator_verdict"], row["outcome"], row["demographic_group"]) == ("false_alert", "no_action", "White")


def test_deployment_totals_count_each_deployments_alerts(spark) -> None:  # type: ignore[no-untyped-def]
    held = spark.createDataFrame([("D1", 3), ("D2", None), ("D3", 0)], "deployment_id string, faces_scanned long")
    alert_rows = spark.createDataFrame(
        [("A1", "D1"), ("A2", "D1"), ("A3", "D2")], "alert_id string, deployment_id string"
    )
    out = deployment_totals(held, alert_rows).orderBy("deployment_id")
    assert [tuple(r) for r in out.collect()] == [("D1", 3, 2), ("D2", None, 1), ("D3", 0, 0)]


@pytest.mark.parametrize(
    ("fields", "deployments_take", "alerts_take"),
    [
        (set(LFR_DEPLOYMENTS_CSV.fields), True, False),
        (set(LFR_ALERTS_CSV.fields), False, True),
        ({"something", "else"}, True, False),  # nobody's: deployments quarantines it with the reason
        (None, True, False),  # unreadable
    ],
)
def test_files_in_the_shared_lfr_folder_go_to_one_source_each(fields, deployments_take, alerts_take) -> None:
    assert (LFR_DEPLOYMENTS.takes(fields), LFR_ALERTS.takes(fields)) == (deployments_take, alerts_take)
    assert LFR_DEPLOYMENTS.folder == LFR_ALERTS.folder == "lfr"


def test_conform_returns_every_declared_content_column(spark) -> None:  # type: ignore[no-untyped-def]
    for spec, out in ((LFR_DEPLOYMENTS, deployments(spark)), (LFR_ALERTS, alerts(spark))):
        missing = [c for c in spec.content_columns if c not in out.columns]
        assert not missing, f"{spec.name}: conform lacks declared columns {missing}"
        assert out.where(F.col(REJECT_REASON).isNull()).count() == 1
