"""Camera conform rules: camera CSV and JamCam GeoJSON fields to camera attributes, each rule on a tiny frame."""

from __future__ import annotations

import pytest
from pyspark.testing import assertDataFrameEqual

from jobs.ingest.conform.cameras import conform_cameras
from jobs.ingest.conform.common import REJECT_REASON
from schemas.landing import CAMERA_CSV, JAMCAM_GEOJSON
from tests.unit.jobs.ingest.raw import raw_frame

BBOX = (-0.65, 51.2, 0.45, 51.8)
GOOD = {"camera_id": "C1", "longitude": "-0.1", "latitude": "51.5"}


def conform(spark, fmt=CAMERA_CSV, **fields):  # type: ignore[no-untyped-def]
    row = {**(GOOD if fmt is CAMERA_CSV else {}), **fields}
    return conform_cameras(raw_frame(spark, fmt.fields, [row]), fmt, bbox=BBOX, h3_resolution=9)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({}, None),
        ({"camera_id": ""}, "missing_required_field"),
        ({"longitude": ""}, "missing_required_field"),
        ({"longitude": "west"}, "invalid_coordinates"),
        ({"longitude": "0", "latitude": "0"}, "null_island"),
        ({"longitude": "51.5", "latitude": "-0.1"}, "swapped_coordinates"),
        ({"longitude": "2.35", "latitude": "48.85"}, "outside_region"),  # Paris
        ({"longitude": "-200"}, "invalid_coordinates"),
        ({"camera_type": "CCTV"}, None),  # case does not matter
        ({"camera_type": "drone"}, "invalid_value"),
        ({"status": "broken"}, "invalid_value"),
        ({"bearing_deg": "north"}, "invalid_value"),
        ({"installed_at": "last year"}, "invalid_timestamp"),
    ],
)
def test_each_camera_rule_gives_its_reason(spark, fields: dict[str, str], reason: str | None) -> None:  # type: ignore[no-untyped-def]
    out = conform(spark, **fields).select(REJECT_REASON)
    assertDataFrameEqual(out, spark.createDataFrame([(reason,)], out.schema))


def test_defaults_and_derived_columns(spark) -> None:  # type: ignore[no-untyped-def]
    import h3

    out = conform(spark).select("camera_id", "camera_type", "status", "available", "h3_cell")
    cell = h3.latlng_to_cell(51.5, -0.1, 9)
    expected = spark.createDataFrame([("C1", "anpr", "active", True, cell)], out.schema)
    assertDataFrameEqual(out, expected)


def test_jamcam_id_comes_from_the_image_file_name(spark) -> None:  # type: ignore[no-untyped-def]
    out = conform(
        spark,
        JAMCAM_GEOJSON,
        imageurl="https://s3-eu-west-1.amazonaws.com/jamcams.tfl.gov.uk/00001.07450.jpg",
        view="Westminster Bridge \\/ Parliament",
        available="false",
        longitude="-0.12",
        latitude="51.5",
    ).select("camera_id", "name", "camera_type", "owner", "status", REJECT_REASON)
    expected = spark.createDataFrame(
        [("00001.07450", "Westminster Bridge / Parliament", "traffic", "TfL", "inactive", None)], out.schema
    )
    assertDataFrameEqual(out, expected)


def test_the_attribute_hash_changes_with_any_versioned_attribute_only(spark) -> None:  # type: ignore[no-untyped-def]
    base = conform(spark).first()["attributes_hash"]  # type: ignore[index]
    assert conform(spark, name="renamed").first()["attributes_hash"] != base  # type: ignore[index]
    assert conform(spark, latitude="51.501").first()["attributes_hash"] != base  # type: ignore[index]
    assert conform(spark, camera_id="C2").first()["attributes_hash"] == base  # type: ignore[index]
