"""Publish what ingest runs changed from silver Delta into PostGIS, by the source spec's publish mode.

What to publish comes from the run journal, not from the caller: every run that committed and is not yet
published is published, then its entry is removed. So a publish task that was killed, or never ran, is made good
by the next one, and publishing twice changes nothing (each slice is replaced in one transaction).
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from das import locks, postgis
from das.config import Settings
from das.faults import crash_point
from das.lake import Lake
from das.logs import log_context
from das.postgis.quarantine import QUARANTINE_COLUMNS
from das.progress import track
from jobs.ingest.journal import COMMITTED, FAILED, Journal
from jobs.ingest.spec import SourceSpec
from schemas.operations import QUALITY_RESULTS
from schemas.postgis import copy_columns
from schemas.tables import INGEST_RUNS, QUARANTINE

log = logging.getLogger("das.publish")


def publish_run(
    lake: Lake, settings: Settings, spec: SourceSpec, summary: dict[str, Any] | None = None
) -> dict[str, int]:
    """Publish every committed, unpublished run of ``spec``; returns rows published per PostGIS table.

    ``summary`` (the ingest task's result) only orders this task after that ingest.
    """
    with log_context(source=spec.name), locks.held(settings, f"publish-{spec.name}", purpose=f"publish {spec.name}"):
        journal = Journal(lake.root, lake.storage_options)
        entries = journal.entries(spec.name, COMMITTED) + [
            e for e in journal.entries(spec.name, FAILED) if not e.ledger_published
        ]
        published: dict[str, int] = {}
        if not entries:
            return published
        runs = lake.to_arrow(INGEST_RUNS, where=pc.field("ingest_run_id").isin([e.run_id for e in entries]))
        published[INGEST_RUNS.postgis_name or ""] = postgis.publish_upsert(settings, INGEST_RUNS, runs)
        published.update(_publish_quarantine_counts(lake, settings, spec, runs.column("source_file").to_pylist()))
        checks = [row for entry in entries for row in entry.quality]
        if checks:
            published[QUALITY_RESULTS.postgis_name or ""] = postgis.publish_upsert(
                settings, QUALITY_RESULTS, quality_table(checks)
            )
        committed = [e for e in entries if e.status == COMMITTED]
        if spec.publish != "none" and any(e.rows_published for e in committed):
            published.update(
                _publish_silver(lake, settings, spec, sorted({p for e in committed for p in e.published_partitions}))
            )
        crash_point(f"publish:{spec.name}:after-postgis")
        for entry in entries:
            if entry.status == COMMITTED:
                journal.remove(entry)
            else:  # a run that did not reconcile stays in the journal, visible, until someone acts
                entry.ledger_published = True
                journal.write(entry)
        log.info("published %s runs %s: %s", spec.name, [e.run_id for e in entries], published)
        return published


def quality_table(checks: list[dict[str, Any]]) -> pa.Table:
    """The journal's quality rows as das.quality_results (ISO times parsed, types as declared)."""
    rows = [{**c, "validated_at": datetime.fromisoformat(c["validated_at"])} for c in checks]
    return pa.Table.from_pylist(rows, schema=QUALITY_RESULTS.arrow_schema())


def _publish_silver(lake: Lake, settings: Settings, spec: SourceSpec, partitions: list[str]) -> dict[str, int]:
    table = spec.silver
    target = table.postgis_name or ""
    if spec.publish in ("replace", "upsert"):  # small tables, whole: one Arrow read, no Spark
        current = pc.field(spec.history.is_current) if spec.history and spec.history.publish_current_only else None
        rows = lake.to_arrow(table, where=current)
        publish = postgis.publish_replace if spec.publish == "replace" else postgis.publish_upsert
        return {target: publish(settings, table, rows)}
    column = table.partition_by[0]
    total = 0
    for value in track(partitions, f"publish {target} days"):
        day = date.fromisoformat(value)
        # Streamed from the lake in Arrow batches: a day of reads is too big to collect on the driver.
        batches = lake.iter_batches(table, partitions=[(column, "=", day)], columns=copy_columns(table))
        total += postgis.publish_day_partition(settings, table, batches, day)
    return {target: total}


def _publish_quarantine_counts(lake: Lake, settings: Settings, spec: SourceSpec, files: list[str]) -> dict[str, int]:
    """The quarantine summary of the runs' files, replaced in PostGIS (das.quarantine_summary, for engineers)."""
    unique = sorted(set(files))
    rejected = lake.to_arrow(
        QUARANTINE,
        where=(pc.field("source") == spec.name) & pc.field("source_file").isin(unique),
        columns=QUARANTINE_COLUMNS,
    )
    counted = postgis.publish_quarantine_counts(settings, spec.name, unique, rejected)  # also clears stale counts
    return {"quarantine_counts": counted} if counted else {}
