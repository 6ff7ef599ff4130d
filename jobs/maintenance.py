"""Scheduled upkeep: compact small files, vacuum what no table version within the time-travel window needs, prune
old Great Expectations results, archive landing files already ingested, and refresh PostGIS statistics."""

from __future__ import annotations

import logging
import shutil
import time
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import functions as F

from das import locks
from das.config import Settings
from das.lake import Lake
from das.postgis.connection import transaction
from jobs.sources import source_specs
from schemas.tables import INGEST_RUNS, REGISTRY

log = logging.getLogger("das.maintenance")
ARCHIVE_DIR = "_archive"  # under the landing root; discovery never enters underscore folders


def run_maintenance(lake: Lake, settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    policy = settings.maintenance
    report: dict[str, Any] = {"optimized": {}, "vacuumed_files": {}}
    with locks.held(settings, "maintenance", purpose="lake maintenance"):
        for table in REGISTRY.tables.values():
            if not lake.exists(table):
                continue
            compacted = lake.optimize(table)
            if compacted.get("numFilesRemoved"):
                report["optimized"][table.qualified_name] = {
                    "files_removed": compacted.get("numFilesRemoved"),
                    "files_added": compacted.get("numFilesAdded"),
                }
            removed = lake.vacuum(table, retention_hours=policy.vacuum_retention_hours)
            if removed:
                report["vacuumed_files"][table.qualified_name] = len(removed)
        from quality.data_docs import prune_quality_history

        report["quality_results_pruned"] = prune_quality_history(settings, keep_days=policy.quality_keep_days, now=now)
        report["landing_files_archived"] = archive_landing(lake, settings, policy.archive_after_hours)
        report["postgis_analyzed"] = _analyze(settings)
    log.info("maintenance: %s", report)
    return report


def archive_landing(lake: Lake, settings: Settings, after_hours: float) -> int:
    """Move landing files whose ingest succeeded (by checksum, in the ledger) and that are older than ``after_hours``
    to ``<landing>/_archive/<source>/``: they are no longer hashed on every run, and the ledger keeps their record."""
    from jobs.ingest.landing import discover

    ledger = lake.read(INGEST_RUNS).where(F.col("status") == "succeeded").select("source_checksum").distinct()
    done = {r[0] for r in ledger.collect()}
    cutoff = time.time() - after_hours * 3600
    moved = 0
    for name in dict.fromkeys(spec.folder for spec in source_specs()):  # sources may share a folder
        folder = settings.landing / name
        if not folder.is_dir():
            continue
        for landed in discover(name, folder):
            if landed.checksum not in done or landed.path.stat().st_mtime >= cutoff or landed.problem:
                continue
            target = settings.landing / ARCHIVE_DIR / name / landed.path.relative_to(folder.resolve())
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(landed.path), target)
            moved += 1
    return moved


def _analyze(settings: Settings) -> int:
    """Fresh planner statistics for the served tables (after partitions were attached and rows replaced)."""
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'das' AND c.relkind IN ('r', 'p')"
        )
        tables = [r[0] for r in cur.fetchall()]
        for name in tables:
            cur.execute(f'ANALYZE das."{name}"')
    return len(tables)
