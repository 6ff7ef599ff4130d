"""The units of work that DAG tasks run, and that ``das ingest`` / ``das run`` run through the same code.

Each function takes plain, serialisable arguments and returns a JSON-able summary (it travels as an XCom).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from das.config import Settings, ensure_local_dirs, get_settings
from das.lake import Lake, build_lake
from das.spark import build_spark
from jobs.ingest.landing import SOURCES
from jobs.ingest.pipeline import IngestResult, ingest_source
from schemas.postgis import copy_columns
from schemas.tables import (
    GOLD_FLAGS,
    INGEST_RUNS,
    SILVER_ANPR_READS,
    SILVER_CAMERAS,
    SILVER_CRIMES,
    SILVER_HOTLIST,
)

log = logging.getLogger("das.tasks")
INGEST_ORDER = ("cameras", "hotlist", "crimes", "anpr")  # reads are located against cameras


@dataclass
class Runtime:
    settings: Settings
    spark: SparkSession
    lake: Lake


def runtime(settings: Settings | None = None) -> Runtime:
    settings = settings or get_settings()
    ensure_local_dirs(settings)
    spark = build_spark(settings)
    return Runtime(settings, spark, build_lake(spark, settings))


def summarise_ingest(result: IngestResult) -> dict[str, Any]:
    return {
        "run_id": result.run_id,
        "source": result.source,
        "files": len(result.files),
        "files_skipped": sum(1 for f in result.files if f.status == "skipped_duplicate_file"),
        "rows_landed": result.total("rows_landed"),
        "rows_published": result.total("rows_published"),
        "rows_quarantined": result.total("rows_quarantined"),
        "rows_duplicate": result.total("rows_duplicate"),
        "quarantine_reasons": dict(result.quarantine_reasons),
        "published_dates": [d.isoformat() for d in result.published_dates],
        "data_docs": result.data_docs,
        "messages": [m for f in result.files for m in f.messages],
    }


def ingest(
    source: str, path: str | Path | None = None, *, settings: Settings | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Ingest one source's landing files (default: ``<landing>/<source>``) into bronze/silver/quarantine."""
    rt = runtime(settings)
    folder = Path(path) if path else rt.settings.landing / source
    if not folder.exists():
        log.info("nothing landed for %s at %s", source, folder)
        return {
            "source": source,
            "files": 0,
            "rows_landed": 0,
            "rows_published": 0,
            "rows_quarantined": 0,
            "rows_duplicate": 0,
            "quarantine_reasons": {},
            "published_dates": [],
            "data_docs": [],
            "messages": [],
            "files_skipped": 0,
            "run_id": None,
        }
    result = ingest_source(rt.spark, rt.lake, rt.settings, source, folder, now=now)
    summary = summarise_ingest(result)
    log.info("ingest %s: %s", source, summary)
    return summary


def publish(source: str, summary: dict[str, Any], *, settings: Settings | None = None) -> dict[str, int]:
    """Publish what an ingest run changed from silver Delta into PostGIS (COPY, one transaction per slice)."""
    from das import postgis

    rt = runtime(settings)
    published: dict[str, int] = {}
    if summary.get("run_id"):
        runs = rt.lake.read(INGEST_RUNS).where(F.col("ingest_run_id") == summary["run_id"])
        published["ingest_runs"] = postgis.publish_ingest_runs(rt.settings, runs.toArrow())
    if summary.get("rows_published", 0) == 0 and source != "cameras":
        return published
    if source == "cameras":
        published["cameras"] = postgis.publish_replace(
            rt.settings, SILVER_CAMERAS, rt.lake.read(SILVER_CAMERAS).toArrow()
        )
    elif source == "hotlist":
        published["hotlist"] = postgis.publish_replace(
            rt.settings, SILVER_HOTLIST, rt.lake.read(SILVER_HOTLIST).toArrow()
        )
    elif source == "crimes":
        published["crimes"] = postgis.publish_replace(rt.settings, SILVER_CRIMES, rt.lake.read(SILVER_CRIMES).toArrow())
    elif source == "anpr":
        total = 0
        for day_text in summary.get("published_dates", []):
            day = date.fromisoformat(day_text)
            # Streamed from the lake in Arrow batches: a day of reads is too big to collect on the driver.
            batches = rt.lake.iter_batches(
                SILVER_ANPR_READS, partitions=[("read_date", "=", day)], columns=copy_columns(SILVER_ANPR_READS)
            )
            total += postgis.publish_reads_day(rt.settings, batches, day)
        published["anpr_reads"] = total
    return published


def _detector_inputs(rt: Runtime):  # type: ignore[no-untyped-def]
    from jobs.detectors import DetectorInputs

    reads = rt.lake.read(SILVER_ANPR_READS)
    latest = reads.agg(F.max("read_date").alias("d")).collect()[0]["d"]
    if latest is not None:
        first = latest - timedelta(days=max(rt.settings.detection_days, rt.settings.camera_silent.baseline_days) - 1)
        reads = rt.lake.read(SILVER_ANPR_READS, partitions=[("read_date", ">=", first)])
    return DetectorInputs(
        reads=reads,
        cameras=rt.lake.read(SILVER_CAMERAS),
        crimes=rt.lake.read(SILVER_CRIMES),
        hotlist=rt.lake.read(SILVER_HOTLIST),
    )


def detect(
    *, settings: Settings | None = None, now: datetime | None = None, only: list[str] | None = None
) -> dict[str, Any]:
    """Run the detectors over silver, merge the flags into gold (by flag_id), publish them to PostGIS."""
    from das import postgis
    from jobs.detectors import run_detectors

    rt = runtime(settings)
    now = now or datetime.now(timezone.utc)
    inputs = _detector_inputs(rt)
    frames = run_detectors(inputs, rt.settings, now, only=only)
    new_flags = _union_flags(rt.spark, list(frames.values()))
    new_flags = new_flags.persist()
    counts = {r["flag_type"]: r["count"] for r in new_flags.groupBy("flag_type").count().collect()}
    existing = rt.lake.read(GOLD_FLAGS)
    # A re-run produces the same flag_ids: they replace themselves, other flags stay.
    kept = existing.join(new_flags.select("flag_id"), "flag_id", "left_anti")
    merged = kept.unionByName(new_flags.select(*GOLD_FLAGS.column_names))
    rt.lake.commit(rt.lake.stage(GOLD_FLAGS, merged), "overwrite")
    published = postgis.publish_flags(rt.settings, new_flags.toArrow()) if counts else {"flags": 0}
    new_flags.unpersist()
    summary = {"flags_by_type": {t: counts.get(t, 0) for t in frames}, "published": published}
    log.info("detect: %s", summary)
    return summary


def _union_flags(spark: SparkSession, frames: list[DataFrame]) -> DataFrame:
    out = spark.createDataFrame([], GOLD_FLAGS.spark_schema())
    for frame in frames:
        out = out.unionByName(frame.select(*GOLD_FLAGS.column_names))
    return out


@dataclass
class PipelineSummary:
    ingests: dict[str, dict[str, Any]]
    published: dict[str, dict[str, int]]
    flags: dict[str, Any]
    table_rows: dict[str, int]

    def quarantine_reasons(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for s in self.ingests.values():
            total.update(s.get("quarantine_reasons", {}))
        return total


def run_landing(landing: Path, *, settings: Settings | None = None, now: datetime | None = None) -> PipelineSummary:
    """The whole pipeline once over everything in ``landing``: the same tasks the DAGs run, in DAG order."""
    from das import local_postgres, postgis

    rt = runtime(settings)
    local_postgres.up(rt.settings)
    postgis.migrate(rt.settings)
    ingests: dict[str, dict[str, Any]] = {}
    published: dict[str, dict[str, int]] = {}
    for source in INGEST_ORDER:
        folder = landing / source
        if not folder.is_dir():
            continue
        ingests[source] = ingest(source, folder, settings=rt.settings, now=now)
        published[source] = publish(source, ingests[source], settings=rt.settings)
    flags = detect(settings=rt.settings, now=now)
    table_rows = {
        t.qualified_name: rt.lake.read(t).count()
        for t in (SILVER_CAMERAS, SILVER_HOTLIST, SILVER_CRIMES, SILVER_ANPR_READS, GOLD_FLAGS)
    }
    return PipelineSummary(ingests, published, flags, table_rows)


__all__ = ["INGEST_ORDER", "SOURCES", "PipelineSummary", "detect", "ingest", "publish", "run_landing", "runtime"]
