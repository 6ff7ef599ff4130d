"""Retention that really deletes: expired rows leave every Delta layer and PostGIS, and vacuum removes their files so
time travel cannot bring them back. What was removed is written to the audit log.

Policy (``DAS_RETENTION__*``): ANPR reads and video-analytics events 12 months (bronze, silver, PostGIS day
partitions), quarantine 30 days (raw
records included), crimes and flags kept unless configured, audit log 7 years. A flag outlives the reads behind it:
its summary stays and its expired read evidence is marked expired (plate and read id removed), except for hotlist
hits, whose evidence is kept with the flag.
"""

from __future__ import annotations

import logging
import shutil
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from das import audit, locks, postgis
from das.config import Settings
from das.lake import Lake
from das.postgis.connection import transaction
from schemas.model import Table
from schemas.tables import (
    BRONZE_ANPR,
    BRONZE_CRIMES,
    BRONZE_VIDEO_EVENTS,
    FLAG_EVIDENCE,
    GOLD_FLAGS,
    QUARANTINE,
    SILVER_ANPR_READS,
    SILVER_CRIMES,
    SILVER_VIDEO_EVENTS,
)

log = logging.getLogger("das.retention")
EXPIRED = "expired under retention"
KEEP_EVIDENCE = ("hotlist_hit",)  # hits are kept with their flag


def _cutoff(now: datetime, days: int | None) -> datetime | None:
    return None if days is None else now - timedelta(days=days)


def expire_evidence(flags: DataFrame, before: datetime) -> DataFrame:
    """Flags with the read evidence older than ``before`` marked expired (plate and read id removed)."""

    def item(e: Column) -> Column:
        expired = (e["kind"] == "read") & (e["at"] < F.lit(before))
        return F.struct(
            e["kind"].alias("kind"),
            F.when(expired, F.lit(None)).otherwise(e["ref_id"]).alias("ref_id"),
            e["camera_id"].alias("camera_id"),
            F.when(expired, F.lit(None)).otherwise(e["plate"]).alias("plate"),
            e["at"].alias("at"),
            e["longitude"].alias("longitude"),
            e["latitude"].alias("latitude"),
            F.when(expired, F.lit(EXPIRED)).otherwise(e["detail"]).alias("detail"),
        )

    keep = F.col("flag_type").isin(*KEEP_EVIDENCE)
    return flags.withColumn("evidence", F.when(keep, F.col("evidence")).otherwise(F.transform("evidence", item)))


def run_retention(lake: Lake, settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    """Delete what the policy says has expired, vacuum it away, and log it; returns rows removed per table."""
    now = now or datetime.now(UTC)
    policy = settings.retention
    removed: dict[str, int] = {}
    reads_before = _cutoff(now, policy.anpr_days)
    events_before = _cutoff(now, policy.video_events_days)
    quarantine_before = _cutoff(now, policy.quarantine_days)
    crimes_before = _cutoff(now, policy.crimes_days)
    with locks.held(settings, "retention", purpose="retention run"):
        deletions: list[tuple[Table, str, Any]] = [
            (QUARANTINE, "ingest_date", quarantine_before),
            (BRONZE_ANPR, "ingest_date", reads_before),
            (SILVER_ANPR_READS, "read_date", reads_before),
            (BRONZE_VIDEO_EVENTS, "ingest_date", events_before),
            (SILVER_VIDEO_EVENTS, "detected_date", events_before),
            (BRONZE_CRIMES, "ingest_date", crimes_before),
            (SILVER_CRIMES, "occurred_from", crimes_before),
        ]
        if policy.flags_days is not None:
            deletions.append((GOLD_FLAGS, "window_end", _cutoff(now, policy.flags_days)))
        for table, column, before in deletions:
            if before is None:
                continue
            value: Any = before.date() if table.column(column).type == "date" else before
            removed[table.qualified_name] = _delete(lake, table, column, value)
        if reads_before is not None:
            removed["gold/flags evidence expired"] = _expire_flag_evidence(lake, reads_before)
        for table in {t for t, _, b in deletions if b is not None} | {GOLD_FLAGS}:
            if lake.exists(table):
                lake.vacuum(table, retention_hours=0, staging_max_age_hours=policy.work_folders_hours)
        removed.update(_retire_postgis(settings, reads_before, crimes_before, _cutoff(now, policy.audit_days)))
        if events_before is not None:
            removed["das.video_events day partitions"] = _drop_days(settings, SILVER_VIDEO_EVENTS, events_before)
        removed["work folders"] = _remove_stale_work(settings, policy.work_folders_hours)
    audit.record(
        settings,
        "retention",
        {"removed": removed, "policy": policy.model_dump(), "now": now.isoformat()},
        "retention policy (DAS_RETENTION__*)",
        sum(removed.values()),
    )
    log.info("retention: %s", removed)
    return removed


def _delete(lake: Lake, table: Table, column: str, before: date | datetime) -> int:
    if not lake.exists(table):
        return 0
    return lake.delete_where(table, [(column, "<", before)])


def _expire_flag_evidence(lake: Lake, before: datetime) -> int:
    if not lake.exists(GOLD_FLAGS):
        return 0
    version = lake.version(GOLD_FLAGS)
    flags = lake.read(GOLD_FLAGS, version=version)
    stale = F.exists("evidence", lambda e: (e["kind"] == "read") & (e["at"] < F.lit(before)) & e["plate"].isNotNull())
    touched = flags.where(stale & ~F.col("flag_type").isin(*KEEP_EVIDENCE)).count()
    if touched:
        lake.commit(lake.stage(GOLD_FLAGS, expire_evidence(flags, before), read_version=version), "overwrite")
    return touched


def _drop_days(settings: Settings, table: Table, before: datetime) -> int:
    """Drop the served day partitions of ``table`` wholly before ``before``; returns how many."""
    days = [d for d in postgis.list_day_partitions(settings, table) if d < before.date()]
    for day in days:
        postgis.drop_day_partition(settings, table, day)
    return len(days)


def _retire_postgis(
    settings: Settings, reads_before: datetime | None, crimes_before: datetime | None, audit_before: datetime | None
) -> dict[str, int]:
    removed: dict[str, int] = {}
    if reads_before is not None:
        removed["das.anpr_reads day partitions"] = _drop_days(settings, SILVER_ANPR_READS, reads_before)
    with transaction(settings) as conn, conn.cursor() as cur:
        if reads_before is not None:
            cur.execute(
                f"UPDATE das.{FLAG_EVIDENCE.postgis_name} e SET plate = NULL, ref_id = NULL, detail = %s "
                "FROM das.flags f WHERE f.flag_id = e.flag_id AND NOT f.flag_type = ANY(%s) "
                "AND e.kind = 'read' AND e.at < %s AND e.plate IS NOT NULL",
                (EXPIRED, list(KEEP_EVIDENCE), reads_before),
            )
            removed["das.flag_evidence expired"] = cur.rowcount
        if crimes_before is not None:
            cur.execute("DELETE FROM das.crimes WHERE occurred_from < %s", (crimes_before,))
            removed["das.crimes"] = cur.rowcount
        if audit_before is not None:
            cur.execute("SELECT set_config('das.audit_purge_before', %s, true)", (audit_before.isoformat(),))
            cur.execute("DELETE FROM das.audit_log WHERE at < %s", (audit_before,))
            removed["das.audit_log"] = cur.rowcount
    return removed


def _remove_stale_work(settings: Settings, max_age_hours: float) -> int:
    """Parse folders of runs that were killed (a live run's folder is younger than this)."""
    work = settings.home_abs / "work"
    if not work.is_dir():
        return 0
    cutoff = time.time() - max_age_hours * 3600
    stale = [p for p in work.iterdir() if p.is_dir() and p.stat().st_mtime < cutoff]
    for folder in stale:
        shutil.rmtree(folder, ignore_errors=True)
    return len(stale)
