"""ANPR conform rules, one tiny frame each: the output columns and the first failed check's reason."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from pyspark.testing import assertDataFrameEqual

from jobs.ingest.conform.anpr import conform_anpr
from jobs.ingest.conform.common import REJECT_REASON
from schemas.landing import ANPR_CSV
from schemas.tables import SILVER_CAMERAS
from tests.unit.jobs.detectors.builders import camera, silver_frame
from tests.unit.jobs.ingest.raw import raw_frame

UTC = timezone.utc
NOW = datetime(2024, 4, 2, 12, 0, tzinfo=UTC)
CAMERAS = [
    camera("CAM1"),
    # CAM2 exists only from 09:00 on 2 April: reads before that cannot be located.
    camera("CAM2", 100, 0, valid_from=datetime(2024, 4, 2, 9, 0, tzinfo=UTC)),
]
GOOD = {"read_id": "r1", "camera_id": "CAM1", "plate": "AB12CDE", "read_at": "2024-04-02T08:00:00Z"}


def conform(spark, **fields):  # type: ignore[no-untyped-def]
    raw = raw_frame(spark, ANPR_CSV.fields, [{**GOOD, **fields}])
    cameras = silver_frame(spark, SILVER_CAMERAS, CAMERAS)
    return conform_anpr(raw, cameras, now=NOW, clock_skew_s=300, retention_days=365)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({}, None),
        ({"plate": ""}, "missing_required_field"),
        ({"plate": " - "}, "invalid_plate"),  # nothing left after normalisation
        ({"plate": "Ä1"}, "invalid_plate"),  # not "1": a letter would be lost
        ({"plate": "ab 12-cde"}, None),  # spaces and punctuation go, letters and digits stay
        ({"read_id": " "}, "missing_required_field"),
        ({"read_at": "yesterday"}, "invalid_timestamp"),
        ({"read_at": "2024-04-02T08:00:00"}, "invalid_timestamp"),  # no offset: the local time is ambiguous
        ({"read_at": "2024-04-02T12:04:00Z"}, None),  # in the future, but within the clock-skew tolerance
        ({"read_at": "2024-04-02T12:06:00Z"}, "future_timestamp"),
        ({"read_at": "2023-03-01T00:00:00Z"}, "beyond_retention"),
        ({"confidence": "1.5"}, "invalid_confidence"),
        ({"confidence": "high"}, "invalid_confidence"),
        ({"confidence": "0.25"}, None),
        ({"camera_id": "NOPE"}, "unknown_camera"),
        ({"camera_id": "CAM2"}, "unknown_camera"),  # 08:00 is before CAM2's first version
        ({"camera_id": "CAM2", "read_at": "2024-04-02T09:30:00Z"}, None),
        ({"plate": "", "camera_id": "NOPE"}, "missing_required_field"),  # the first failed check wins
    ],
)
def test_each_rule_gives_its_reason(spark, fields: dict[str, str], reason: str | None) -> None:  # type: ignore[no-untyped-def]
    out = conform(spark, **fields).select("read_id", REJECT_REASON)
    expected = spark.createDataFrame([((fields.get("read_id", "r1")).strip() or None, reason)], out.schema)
    assertDataFrameEqual(out, expected)


def test_a_good_read_is_normalised_and_located(spark) -> None:  # type: ignore[no-untyped-def]
    out = conform(spark, plate="ab12 cde", read_at="2024-04-02T09:00:00+01:00", confidence="0.9", country="")
    columns = ["plate", "plate_raw", "read_at", "confidence", "country", "longitude", "latitude", "read_date"]
    cam = CAMERAS[0]
    expected = spark.createDataFrame(
        [
            (
                "AB12CDE",
                "ab12 cde",
                datetime(2024, 4, 2, 8, 0, tzinfo=UTC),
                0.9,
                "GB",
                cam["longitude"],
                cam["latitude"],
                NOW.date(),
            )
        ],
        out.select(*columns).schema,
    )
    assertDataFrameEqual(out.select(*columns), expected)


def test_a_read_at_a_moved_camera_takes_the_position_valid_at_read_time(spark) -> None:  # type: ignore[no-untyped-def]
    moved_at = datetime(2024, 4, 2, 6, 0, tzinfo=UTC)
    history = [
        camera("CAM1", 0, 0, valid_to=moved_at, is_current=False),
        camera("CAM1", 5_000, 0, valid_from=moved_at),
    ]
    raw = raw_frame(
        spark,
        ANPR_CSV.fields,
        [{**GOOD, "read_id": "before", "read_at": "2024-04-02T05:00:00Z"}, {**GOOD, "read_id": "after"}],
    )
    out = conform_anpr(raw, silver_frame(spark, SILVER_CAMERAS, history), now=NOW, clock_skew_s=0, retention_days=1)
    expected = spark.createDataFrame(
        [("before", history[0]["easting"]), ("after", history[1]["easting"])], "read_id string, easting double"
    )
    assertDataFrameEqual(out.select("read_id", "easting"), expected)
