"""Crime conform rules: occurrence windows, precision, categories and ids for each landing format."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from pyspark.testing import assertDataFrameEqual

from jobs.ingest.conform.common import REJECT_REASON
from jobs.ingest.conform.crimes import conform_crimes
from schemas.landing import INCIDENT_CSV, POLICE_UK_CSV
from tests.unit.jobs.ingest.raw import raw_frame

UTC = timezone.utc
BBOX = (-0.65, 51.2, 0.45, 51.8)
INCIDENT = {
    "crime_id": "K1",
    "crime_type": "Burglary",
    "occurred_from": "2024-04-01T22:00:00Z",
    "longitude": "-0.1",
    "latitude": "51.5",
}
STREET = {"month": "2023-01", "crime_type": "Vehicle crime", "falls_within": "Metropolitan Police Service"}


def conform(spark, fmt, rows):  # type: ignore[no-untyped-def]
    return conform_crimes(raw_frame(spark, fmt.fields, rows), fmt, bbox=BBOX, h3_resolution=9)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({}, None),
        ({"crime_id": ""}, "missing_required_field"),
        ({"crime_type": ""}, "missing_required_field"),
        ({"occurred_from": "", "occurred_at": "2024-04-01T22:00:00Z"}, None),  # occurred_at stands in
        ({"occurred_from": ""}, "missing_required_field"),
        ({"occurred_from": "1 April"}, "invalid_timestamp"),
        ({"occurred_to": "2024-04-01T21:00:00Z"}, "invalid_timestamp"),  # ends before it starts
        ({"longitude": "0", "latitude": "0"}, "null_island"),
    ],
)
def test_incident_rules(spark, fields: dict[str, str], reason: str | None) -> None:  # type: ignore[no-untyped-def]
    out = conform(spark, INCIDENT_CSV, [{**INCIDENT, **fields}]).select(REJECT_REASON)
    assertDataFrameEqual(out, spark.createDataFrame([(reason,)], out.schema))


def test_an_incident_is_exact_in_time_and_place_with_a_police_uk_category(spark) -> None:  # type: ignore[no-untyped-def]
    out = conform(spark, INCIDENT_CSV, [INCIDENT]).select(
        "crime_type", "crime_type_original", "occurred_from", "occurred_to", "time_precision", "location_precision"
    )
    at = datetime(2024, 4, 1, 22, 0, tzinfo=UTC)
    expected = spark.createDataFrame([("burglary", "Burglary", at, at, "exact", "exact")], out.schema)
    assertDataFrameEqual(out, expected)


@pytest.mark.parametrize(
    ("label", "category"),
    [("Vehicle crime", "vehicle-crime"), ("theft-from-the-person", "theft-from-the-person"), ("Fraud", "other-crime")],
)
def test_categories(spark, label: str, category: str) -> None:  # type: ignore[no-untyped-def]
    out = conform(spark, POLICE_UK_CSV, [{**STREET, "crime_type": label}]).select("crime_type")
    assertDataFrameEqual(out, spark.createDataFrame([(category,)], out.schema))


def test_a_street_record_covers_its_month_at_a_snapped_point_and_gets_a_content_id(spark) -> None:  # type: ignore[no-untyped-def]
    same = {**STREET, "longitude": "-0.1", "latitude": "51.5"}
    out = conform(spark, POLICE_UK_CSV, [same, same, {**STREET, "month": "Jan"}])
    rows = out.select(
        "crime_id", "occurred_from", "occurred_to", "time_precision", "location_precision", "crime_month", REJECT_REASON
    ).collect()
    first, second, bad = rows
    # collect() gives naive datetimes in the session time zone, which is UTC.
    assert first["occurred_from"] == datetime(2023, 1, 1)
    assert first["occurred_to"] == datetime(2023, 1, 31, 23, 59, 59)
    assert (first["time_precision"], first["location_precision"], first["crime_month"]) == (
        "month",
        "snapped",
        "2023-01",
    )
    # Identical rows without a crime id are separate incidents: each gets its own content id.
    assert first["crime_id"].startswith("h:") and first["crime_id"] != second["crime_id"]
    assert bad[REJECT_REASON] == "invalid_timestamp"


def test_a_street_record_without_coordinates_has_no_location(spark) -> None:  # type: ignore[no-untyped-def]
    out = conform(spark, POLICE_UK_CSV, [STREET]).select("location_precision", REJECT_REASON)
    assertDataFrameEqual(out, spark.createDataFrame([("none", None)], out.schema))
