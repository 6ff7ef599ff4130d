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

NOTIFICATION_CHANNELS = ("webhook", "email")
NOTIFICATION_STATES = ("sending", "sent", "failed")

FLAG_NOTIFICATIONS = OPERATIONS_REGISTRY.add(
    Table(
        name="flag_notifications",
        layer="ops",
        description=(
            "The notifier's outbox: one row per flag and channel, claimed before sending and marked after, so each "
            "flag goes out once per channel across restarts. Failed deliveries stay here, retried with backoff."
        ),
        columns=(
            C("flag_id", "string", False, "The flag notified"),
            C("channel", "string", False, "webhook | email", allowed_values=NOTIFICATION_CHANNELS),
            C("state", "string", False, "sending | sent | failed", allowed_values=NOTIFICATION_STATES),
            C("attempts", "int", False, "Delivery attempts so far (each with its own retries)"),
            C("last_error", "string", True, "Why the last attempt failed"),
            C("claimed_at", "timestamp", False, "When the notifier took it (UTC)"),
            C("sent_at", "timestamp", True, "When it was delivered (UTC)"),
            C("next_attempt_at", "timestamp", True, "When a failed delivery is tried again; null = no more"),
        ),
        key=("flag_id", "channel"),
        postgis_name="flag_notifications",
        postgis_indexes=(("state", "next_attempt_at"),),
    )
)

QUALITY_RESULTS = OPERATIONS_REGISTRY.add(
    Table(
        name="quality_results",
        layer="ops",
        description=(
            "Every Great Expectations check of every ingest batch, published with the run: which table, which check, "
            "passed or not, how many rows failed it. Data Docs hold the full validation pages."
        ),
        columns=(
            C("ingest_run_id", "string", False, "The ingest run whose batch was checked"),
            C("source", "string", False, "cameras | crimes | anpr | hotlist"),
            C("table_name", "string", False, "The lake table validated, e.g. silver.anpr_reads"),
            C("check_name", "string", False, "The expectation, with its column: expect_...(column)"),
            C(
                "severity",
                "string",
                False,
                "critical (blocks publish) | warning",
                allowed_values=("critical", "warning"),
            ),
            C("success", "boolean", False, "Whether the batch passed the check"),
            C("unexpected_count", "long", False, "Rows that failed it"),
            C("detail", "string", True, "What failed, in words"),
            C("row_count", "long", False, "Rows in the batch"),
            C("validated_at", "timestamp", False, "When the batch was validated (UTC)"),
        ),
        key=("ingest_run_id", "table_name", "check_name"),
        postgis_name="quality_results",
        postgis_indexes=(("validated_at",),),
    )
)
