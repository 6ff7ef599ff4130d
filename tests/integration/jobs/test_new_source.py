"""A fifth source needs only a spec and a conform function: parking tickets, ingested end to end.

Nothing outside this file knows about the source: the spec is registered for the test, the silver table is
declared here, and the same task functions the DAGs run ingest it and publish its ledger rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from das.config import Settings
from das.lake import DeltaRsLake
from jobs import tasks
from jobs.ingest.conform.common import (
    Check,
    ConformContext,
    apply_reasons,
    missing,
    normalise_plate,
    parse_timestamp,
    text,
)
from jobs.ingest.spec import SourceSpec
from jobs.sources import registered, source_names
from schemas.landing import LandingFormat
from schemas.model import LINEAGE_COLUMNS, Column, Table
from schemas.tables import INGEST_RUNS, QUARANTINE
from tests.postgres_fixtures import elsewhere, own_database

NOW = datetime(2024, 4, 2, 12, 0, tzinfo=timezone.utc)

PARKING_CSV = LandingFormat(
    "parking_csv",
    fields=("ticket_id", "plate", "issued_at", "street"),
    required=("ticket_id", "plate", "issued_at"),
)
PARKING_TICKETS = Table(
    name="parking_tickets",
    layer="silver",
    description="Parking enforcement tickets",
    columns=(
        Column("ticket_id", "string", False, "Ticket number"),
        Column("plate", "string", False, "Normalised VRM"),
        Column("plate_raw", "string", False, "VRM as written on the ticket"),
        Column("issued_at", "timestamp", False, "When the ticket was issued (UTC)"),
        Column("street", "string", True, "Where"),
        Column("ticket_month", "string", False, "Partition: YYYY-MM of issued_at"),
        *LINEAGE_COLUMNS,
    ),
    partition_by=("ticket_month",),
    key=("ticket_id",),
)


def conform_parking(raw: DataFrame, fmt: LandingFormat, ctx: ConformContext) -> DataFrame:
    issued = parse_timestamp(text("issued_at", raw))
    checks: list[Check] = [
        *missing(raw, ["ticket_id", "plate", "issued_at"]),
        (issued.isNull(), "invalid_timestamp", "issued_at is not ISO 8601"),
    ]
    conformed = raw.select(
        "*",
        text("ticket_id", raw).alias("ticket_id"),
        normalise_plate(text("plate", raw)).alias("plate"),
        text("plate", raw).alias("plate_raw"),
        issued.alias("issued_at"),
        text("street", raw).alias("street"),
        F.date_format(issued, "yyyy-MM").alias("ticket_month"),
    )
    return apply_reasons(conformed, checks, None)


PARKING = SourceSpec(
    "parking",
    (PARKING_CSV,),
    PARKING_TICKETS,
    conform_parking,
    schedule="@daily",
    description="Parking tickets (a test source).",
    publish="none",
)


@pytest.fixture
def parking() -> Iterator[SourceSpec]:
    with registered(PARKING) as spec:
        yield spec


def test_a_new_source_ingests_end_to_end_with_only_a_spec_and_a_conform_function(
    parking: SourceSpec, spark: object, pg_settings: Settings, tmp_path: Path
) -> None:
    assert "parking" in source_names()
    landing = tmp_path / "landing" / "parking"
    landing.mkdir(parents=True)
    (landing / "tickets.csv").write_text(
        "ticket_id,plate,issued_at,street\n"
        "T1,ab12 cde,2024-04-01T09:00:00Z,Strand\n"
        "T2,XY99ZZZ,2024-04-01T10:00:00Z,Whitehall\n"
        "T1,ab12 cde,2024-04-01T09:00:00Z,Strand\n"  # the same ticket again
        "T3,,2024-04-01T11:00:00Z,Mall\n"  # no plate
        "T4,GH12JKL,2024-04-01T12:00:00Z\n"  # a field short: malformed
    )
    with own_database(pg_settings, "das_new_source_test", load_boundaries=False) as db:
        settings = elsewhere(db, tmp_path / "home")
        summary = tasks.ingest("parking", landing, settings=settings, now=NOW)
        published = tasks.publish("parking", summary, settings=settings)
        again = tasks.ingest("parking", landing, settings=settings, now=NOW)

    assert (summary["rows_landed"], summary["rows_published"], summary["rows_quarantined"]) == (5, 2, 2)
    assert summary["rows_duplicate"] == 1
    assert summary["quarantine_reasons"] == {"missing_required_field": 1, "malformed_row": 1}
    # publish "none": only the ledger goes to PostGIS, and the quarantine summary (one row per reason)
    assert published == {"ingest_runs": 1, "quarantine_counts": 2, "quality_results": 22}  # one per GX check
    assert again["files_skipped"] == 1 and again["rows_published"] == 0

    lake = DeltaRsLake(tasks.runtime(settings).spark, settings.lake)
    silver = lake.read(PARKING_TICKETS).orderBy("ticket_id").collect()
    assert [(r["ticket_id"], r["plate"], r["ticket_month"]) for r in silver] == [
        ("T1", "AB12CDE", "2024-04"),
        ("T2", "XY99ZZZ", "2024-04"),
    ]
    assert lake.read(PARKING.bronze).count() == 4  # every parsed record, as landed
    reasons = Counter(r["reason_code"] for r in lake.read(QUARANTINE).where("source = 'parking'").collect())
    assert reasons == Counter({"missing_required_field": 1, "malformed_row": 1})
    ledger = lake.read(INGEST_RUNS).where("source = 'parking' AND status = 'succeeded'").collect()
    assert [(r["rows_landed"], r["rows_published"], r["rows_quarantined"], r["rows_duplicate"]) for r in ledger] == [
        (5, 2, 2, 1)
    ]
