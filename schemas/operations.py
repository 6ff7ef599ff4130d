"""Operations tables, served in PostGIS only, for engineers: summaries of what the pipeline did.

They live in their own registry: the lake tables they summarise are declared in ``schemas.tables``, and the code
that walks ``schemas.tables.REGISTRY`` (Delta tables, quality suites) never meets them.
"""

from __future__ import annotations

from schemas.model import Column, Registry, Table
from schemas.tables import QUARANTINE

OPERATIONS_REGISTRY = Registry()
C = Column

QUARANTINE_COUNTS = OPERATIONS_REGISTRY.add(
    Table(
        name="quarantine_counts",
        layer="ops",
        description=(
            "Quarantined rows (quarantine/rejected_rows) counted by source, reason, landing file and day of ingest; "
            "replaced per file on publish. Engineers read it through the view das.quarantine_summary."
        ),
        columns=(
            QUARANTINE.column("source"),
            QUARANTINE.column("reason_code"),
            QUARANTINE.column("source_file"),
            QUARANTINE.column("ingest_date"),
            C("rows", "long", False, "Rows quarantined (a whole file counts once)"),
            C("whole_file", "boolean", False, "True when the whole file was quarantined"),
            C("first_ingested_at", "timestamp", False, "Earliest ingest of these rows (UTC)"),
            C("last_ingested_at", "timestamp", False, "Latest ingest of these rows (UTC)"),
        ),
        key=("source", "reason_code", "source_file", "ingest_date"),
        postgis_name="quarantine_counts",
        postgis_indexes=(("ingest_date",),),
    )
)
