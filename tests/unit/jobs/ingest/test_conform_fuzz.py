"""Conform on random field values: never an error, one output row per input row, every reject with a reason and
a detail, and every accepted row with the silver fields its table requires."""

from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs.ingest.conform.anpr import conform_anpr
from jobs.ingest.conform.common import REJECT_DETAIL, REJECT_REASON
from jobs.ingest.conform.crimes import conform_crimes
from jobs.ingest.conform.hotlist import conform_hotlist
from schemas.landing import ANPR_CSV, HOTLIST_CSV, INCIDENT_CSV
from schemas.tables import QUARANTINE_REASONS, SILVER_CAMERAS
from tests.unit.jobs.detectors.builders import camera, silver_frame
from tests.unit.jobs.ingest.raw import raw_frame

NOW = datetime(2024, 4, 2, 12, 0, tzinfo=timezone.utc)
BBOX = (-0.65, 51.2, 0.45, 51.8)
FUZZ = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
VALUE = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.sampled_from(["CAM1", "AB12CDE", "2024-04-02T08:00:00Z", "-0.1", "51.5", "0", "1.5", "high", "stolen"]),
)


def rows_for(fields: tuple[str, ...]):  # type: ignore[no-untyped-def]
    return st.lists(st.fixed_dictionaries({f: VALUE for f in fields}), min_size=1, max_size=8)


def checked(out, n: int, required: list[str]) -> None:  # type: ignore[no-untyped-def]
    rows = out.collect()
    assert len(rows) == n
    for row in rows:
        if row[REJECT_REASON] is None:
            assert all(row[c] is not None for c in required), row
        else:
            assert row[REJECT_REASON] in QUARANTINE_REASONS and row[REJECT_DETAIL], row


@FUZZ
@given(rows=rows_for(ANPR_CSV.fields))
def test_anpr(spark, rows) -> None:  # type: ignore[no-untyped-def]
    cameras = silver_frame(spark, SILVER_CAMERAS, [camera("CAM1")])
    out = conform_anpr(raw_frame(spark, ANPR_CSV.fields, rows), cameras, now=NOW, clock_skew_s=300, retention_days=365)
    checked(out, len(rows), ["read_id", "camera_id", "plate", "read_at", "read_date"])


@FUZZ
@given(rows=rows_for(INCIDENT_CSV.fields))
def test_crimes(spark, rows) -> None:  # type: ignore[no-untyped-def]
    out = conform_crimes(raw_frame(spark, INCIDENT_CSV.fields, rows), INCIDENT_CSV, bbox=BBOX, h3_resolution=9)
    checked(out, len(rows), ["crime_id", "crime_type", "time_precision", "location_precision"])


@FUZZ
@given(rows=rows_for(HOTLIST_CSV.fields))
def test_hotlist(spark, rows) -> None:  # type: ignore[no-untyped-def]
    out = conform_hotlist(raw_frame(spark, HOTLIST_CSV.fields, rows))
    checked(out, len(rows), ["hotlist_entry_id", "plate", "list_name", "priority"])
