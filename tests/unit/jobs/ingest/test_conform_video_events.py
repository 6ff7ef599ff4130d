"""Video-analytics event conform rules: each bad event with its reason, and attributes in either landed form."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pyspark.testing import assertDataFrameEqual

from jobs.ingest.conform.common import REJECT_REASON
from jobs.ingest.conform.video_events import conform_video_events
from schemas.landing import VIDEO_EVENTS
from tests.unit.jobs.ingest.raw import raw_frame

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
EVENT = {
    "event_id": "E1",
    "camera_id": "C1",
    "detected_at": "2026-12-01T10:00:00Z",
    "object_class": "vehicle",
    "confidence": "0.9",
    "attributes": '{"Colour": " Red ", "vehicle_type": "van"}',
}


def conform(spark, fields=VIDEO_EVENTS.fields, **values):  # type: ignore[no-untyped-def]
    raw = raw_frame(spark, fields, [{**EVENT, **values}])
    cameras = spark.createDataFrame(
        [("C1", datetime(2020, 1, 1, tzinfo=UTC), None, -0.1, 51.5, 530000.0, 180000.0, "cell")],
        "camera_id string, valid_from timestamp, valid_to timestamp, longitude double, latitude double, "
        "easting double, northing double, h3_cell string",
    )
    return conform_video_events(raw, cameras, now=NOW, clock_skew_s=60, retention_days=365)


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({}, None),
        ({"attributes": None}, None),
        ({"object_class": "WEAPON"}, None),
        ({"camera_id": "C9"}, "unknown_camera"),
        ({"confidence": "1.01"}, "invalid_confidence"),
        ({"confidence": "high"}, "invalid_confidence"),
        ({"confidence": ""}, "missing_required_field"),
        ({"object_class": "tank"}, "invalid_value"),
        ({"attributes": "red"}, "invalid_attributes"),
        ({"attributes": '["red"]'}, "invalid_attributes"),
        ({"attributes": "{not json"}, "invalid_attributes"),
        ({"detected_at": "2026-12-01 10:00"}, "invalid_timestamp"),
        ({"detected_at": "2026-12-02T10:00:00Z"}, "future_timestamp"),
        ({"detected_at": "2024-01-01T10:00:00Z"}, "beyond_retention"),
    ],
)
def test_each_event_rule_gives_its_reason(spark, values, reason) -> None:  # type: ignore[no-untyped-def]
    out = conform(spark, **values).select(REJECT_REASON)
    assertDataFrameEqual(out, spark.createDataFrame([(reason,)], out.schema))


def test_attributes_are_a_lower_case_json_object_located_at_the_camera(spark) -> None:  # type: ignore[no-untyped-def]
    row = conform(spark).first()
    assert json.loads(row["attributes"]) == {"colour": "red", "vehicle_type": "van"}
    assert (row["longitude"], row["latitude"], row["object_class"]) == (-0.1, 51.5, "vehicle")


def test_a_nested_jsonl_object_is_put_back_together(spark) -> None:  # type: ignore[no-untyped-def]
    fields = (*[f for f in VIDEO_EVENTS.fields if f != "attributes"], "attributes_colour", "attributes_make")
    row = conform(spark, fields=fields, attributes_colour="RED", attributes_make=None).first()
    assert row[REJECT_REASON] is None and json.loads(row["attributes"]) == {"colour": "red"}
