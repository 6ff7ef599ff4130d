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

from das import locks
from das.config import Settings, ensure_local_dirs, get_settings
from das.credentials import flag_id_salt, pseudonym_key
from das.lake import Lake, build_lake, export_lake
from das.logs import log_context
from das.progress import track
from das.spark import build_spark
from jobs.ingest.outcomes import FAILED_EARLIER, SKIPPED, IngestResult
from jobs.ingest.pipeline import ingest_source
from jobs.sources import source_spec, source_specs
from schemas.tables import GOLD_FLAGS, SILVER_ANPR_READS, SILVER_CAMERAS, SILVER_CRIMES, SILVER_HOTLIST

log = logging.getLogger("das.tasks")


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
        "run_id": result.run_id if result.files else None,
        "source": result.source,
        "recovered_runs": result.recovered_runs,
        "files": len(result.files),
        "files_skipped": sum(1 for f in result.files if f.status == SKIPPED),
        "files_failed_earlier": sum(1 for f in result.files if f.status == FAILED_EARLIER),
        "rows_landed": result.total("rows_landed"),
        "rows_published": result.total("rows_published"),
        "rows_quarantined": result.total("rows_quarantined"),
        "rows_duplicate": result.total("rows_duplicate"),
        "quarantine_reasons": dict(result.quarantine_reasons),
        "published_partitions": result.published_partitions,
        "rows_updated": result.total("rows_updated"),
        "rows_withdrawn": result.rows_withdrawn,
        "data_docs": result.data_docs,
        "messages": [m for f in result.files for m in f.messages],
    }


def ingest(
    source: str,
    path: str | Path | None = None,
    *,
    settings: Settings | None = None,
    now: datetime | None = None,
    retry_failed: bool = False,
) -> dict[str, Any]:
    """Ingest one source's landing files (default: ``<landing>/<source>``) into bronze/silver/quarantine.

    Interrupted runs of the source are finished first, even when nothing new has landed.
    """
    spec = source_spec(source)
    rt = runtime(settings)
    folder = Path(path) if path else rt.settings.landing / spec.folder
    if not folder.exists():
        log.info("nothing landed for %s at %s", spec.name, folder)
    result = ingest_source(rt.spark, rt.lake, rt.settings, spec, folder, now=now, retry_failed=retry_failed)
    summary = summarise_ingest(result)
    log.info("ingest %s: %s", source, summary)
    return summary


def publish(source: str, summary: dict[str, Any], *, settings: Settings | None = None) -> dict[str, int]:
    """Publish what an ingest run changed from silver Delta into PostGIS (COPY, one transaction per slice).

    No Spark session: the lake is read by delta-rs as Arrow, so this task starts no JVM (one Spark application
    per ingest DAG run, in its ingest task)."""
    from jobs.publish import publish_run

    settings = settings or get_settings()
    return publish_run(export_lake(settings), settings, source_spec(source), summary)


def detector_inputs(rt: Runtime, day: date | None = None):  # type: ignore[no-untyped-def]
    """The silver frames the detectors read: the days of reads up to ``day`` (default: the latest day with reads),
    plus camera_silent's baseline, and the rest."""
    from jobs.detectors import DetectorInputs
    from jobs.detectors.common import READ_COLUMNS

    reads = rt.lake.read(SILVER_ANPR_READS)
    last = day or reads.agg(F.max("read_date").alias("d")).collect()[0]["d"]
    if last is not None:
        first = last - timedelta(days=max(rt.settings.detection_days, rt.settings.camera_silent.baseline_days) - 1)
        reads = rt.lake.read(SILVER_ANPR_READS, partitions=[("read_date", ">=", first), ("read_date", "<=", last)])
    return DetectorInputs(
        reads=reads.select(*READ_COLUMNS),
        cameras=rt.lake.read(SILVER_CAMERAS),
        crimes=rt.lake.read(SILVER_CRIMES).where(F.col("is_current")),  # a corrected crime counts once
        hotlist=rt.lake.read(SILVER_HOTLIST),
        flag_id_salt=flag_id_salt(pseudonym_key(rt.settings)),
    )


def detect(
    *,
    settings: Settings | None = None,
    now: datetime | None = None,
    only: list[str] | None = None,
    day: date | None = None,
) -> dict[str, Any]:
    """Run the detectors over silver, merge the flags into gold (by flag_id), publish them to PostGIS.

    ``day`` recomputes a past day (a backfill): the reads up to that day, judged as at its end; flag ids are the
    same as when the day was first computed, so the merge replaces them.
    """
    from das import postgis
    from jobs.detectors import run_detectors
    from jobs.detectors.common import shared_reads

    rt = runtime(settings)
    if day is not None:
        now = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(days=1)
    now = now or datetime.now(timezone.utc)
    computed: list[DataFrame] = []
    counts: dict[str, int] = {}
    with shared_reads(detector_inputs(rt, day)) as inputs:
        frames = run_detectors(inputs, rt.settings, now, only=only)
        for flag_type in track(list(frames), "detectors"):  # one at a time: progress, and a count per detector
            with log_context(detector=flag_type):
                frame = frames[flag_type].select(*GOLD_FLAGS.column_names).persist()
                counts[flag_type] = frame.count()
                computed.append(frame)
                log.info("%s: %d flag(s)", flag_type, counts[flag_type])
    new_flags = _union_flags(rt.spark, computed)
    with locks.held(rt.settings, "gold-flags", purpose="merge detector flags"):
        _merge_flags(rt, new_flags)
        published = postgis.publish_flags(rt.settings, new_flags.toArrow()) if any(counts.values()) else {"flags": 0}
    for frame in computed:
        frame.unpersist()
    summary = {"flags_by_type": counts, "published": published}
    log.info("detect: %s", summary)
    return summary


def _merge_flags(rt: Runtime, new_flags: DataFrame) -> None:
    """Merge by flag_id into gold: a re-run's flags replace themselves, other flags stay, nothing is rewritten
    wholesale (delta-rs MERGE, which fails rather than lose a concurrent commit)."""
    rt.lake.merge(GOLD_FLAGS, new_flags.select(*GOLD_FLAGS.column_names).toArrow())


def _union_flags(spark: SparkSession, frames: list[DataFrame]) -> DataFrame:
    out = spark.createDataFrame([], GOLD_FLAGS.spark_schema())
    for frame in frames:
        out = out.unionByName(frame.select(*GOLD_FLAGS.column_names))
    return out


def retention(*, settings: Settings | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Delete what the retention policy says has expired, from every layer and PostGIS, and log it."""
    from jobs.retention import run_retention

    rt = runtime(settings)
    return run_retention(rt.lake, rt.settings, now)


def maintain(*, settings: Settings | None = None) -> dict[str, Any]:
    """Compact, vacuum, prune quality results, archive ingested landing files, refresh PostGIS statistics."""
    from jobs.maintenance import run_maintenance

    rt = runtime(settings)
    return run_maintenance(rt.lake, rt.settings)


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
    """The whole pipeline once over everything in ``landing``: the same tasks the DAGs run, in DAG order.

    The serving database must be up and migrated (``das up`` does both).
    """
    rt = runtime(settings)
    ingests: dict[str, dict[str, Any]] = {}
    published: dict[str, dict[str, int]] = {}
    for spec in source_specs():
        folder = landing / spec.folder
        if not folder.is_dir():
            continue
        ingests[spec.name] = ingest(spec.name, folder, settings=rt.settings, now=now)
        published[spec.name] = publish(spec.name, ingests[spec.name], settings=rt.settings)
    flags = detect(settings=rt.settings, now=now)
    tables = [*(s.silver for s in source_specs()), GOLD_FLAGS]
    table_rows = {t.qualified_name: rt.lake.read(t).count() for t in tables}
    return PipelineSummary(ingests, published, flags, table_rows)


__all__ = [
    "PipelineSummary",
    "detect",
    "detector_inputs",
    "ingest",
    "maintain",
    "publish",
    "retention",
    "run_landing",
    "runtime",
]
