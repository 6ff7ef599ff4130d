"""Ingest one source: landing files -> bronze + silver + quarantine, with Write-Audit-Publish and reconciliation.

For every file: rows landed = published + quarantined + duplicates, exactly, or the run fails. A file already
ingested (same checksum) is a no-op. Within a run, bronze, silver and quarantine are staged, the silver batch is
validated by Great Expectations, and only then are they committed.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from das.config import Settings
from das.errors import ContractError, QualityGateError, ReconciliationError
from das.lake import Lake, StagedWrite
from jobs.ingest import conform as C
from jobs.ingest.landing import LandedFile, discover
from jobs.ingest.parsing import RECORD, ROW_NUMBER, ParsedFile, parse_file
from schemas.model import Table
from schemas.tables import (
    BRONZE_ANPR,
    BRONZE_CAMERAS,
    BRONZE_CRIMES,
    BRONZE_HOTLIST,
    INGEST_RUNS,
    QUARANTINE,
    SILVER_ANPR_READS,
    SILVER_CAMERAS,
    SILVER_CRIMES,
    SILVER_HOTLIST,
)

log = logging.getLogger("das.ingest")

BRONZE = {"cameras": BRONZE_CAMERAS, "crimes": BRONZE_CRIMES, "anpr": BRONZE_ANPR, "hotlist": BRONZE_HOTLIST}
SILVER = {"cameras": SILVER_CAMERAS, "crimes": SILVER_CRIMES, "anpr": SILVER_ANPR_READS, "hotlist": SILVER_HOTLIST}
STATUS = "_status"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class FileOutcome:
    source: str
    source_file: str
    checksum: str
    source_format: str | None
    rows_landed: int = 0
    rows_published: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    status: str = "succeeded"
    messages: list[str] = field(default_factory=list)

    @property
    def reconciles(self) -> bool:
        return self.rows_landed == self.rows_published + self.rows_quarantined + self.rows_duplicate


@dataclass
class IngestResult:
    run_id: str
    source: str
    files: list[FileOutcome] = field(default_factory=list)
    quarantine_reasons: Counter[str] = field(default_factory=Counter)
    quality_reports: list[Any] = field(default_factory=list)
    data_docs: list[str] = field(default_factory=list)
    published_dates: list[date] = field(default_factory=list)

    def total(self, attribute: str) -> int:
        return sum(getattr(f, attribute) for f in self.files)


def new_run_id(source: str, now: datetime) -> str:
    return f"{source}-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


def ingest_source(
    spark: SparkSession,
    lake: Lake,
    settings: Settings,
    source: str,
    path: Path,
    *,
    run_id: str | None = None,
    now: datetime | None = None,
) -> IngestResult:
    """Ingest every complete landing file of ``source`` under ``path`` (a file or folder)."""
    now = now or datetime.now(UTC)
    run_id = run_id or new_run_id(source, now)
    result = IngestResult(run_id=run_id, source=source)
    landed = discover(source, path)
    fresh = _skip_already_ingested(spark, lake, landed, result)
    if not fresh:
        _record_runs(spark, lake, result, now, now)
        return result
    work_dir = settings.home_abs / "work" / run_id
    try:
        parsed = [parse_file(f, work_dir / source) for f in fresh]
        _ingest_parsed(spark, lake, settings, source, parsed, result, run_id, now)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    _record_runs(spark, lake, result, now, datetime.now(UTC))
    unreconciled = [f for f in result.files if not f.reconciles]
    if unreconciled:
        details = "; ".join(
            f"{f.source_file}: landed {f.rows_landed} != published {f.rows_published} + quarantined "
            f"{f.rows_quarantined} + duplicates {f.rows_duplicate}"
            for f in unreconciled
        )
        raise ReconciliationError(f"ingest run {run_id} does not reconcile: {details}")
    return result


def _skip_already_ingested(
    spark: SparkSession, lake: Lake, landed: list[LandedFile], result: IngestResult
) -> list[LandedFile]:
    ledger = lake.read(INGEST_RUNS).where("status = 'succeeded'")
    checksums = [f.checksum for f in landed]
    previous: dict[str, int] = {}
    if checksums:
        rows = ledger.where(F.col("source_checksum").isin(checksums)).select("source_checksum", "rows_landed")
        previous = {r["source_checksum"]: int(r["rows_landed"]) for r in rows.collect()}
    fresh: list[LandedFile] = []
    seen: set[str] = set()
    for f in landed:
        if f.checksum in previous or f.checksum in seen:
            n = previous.get(f.checksum, 0)
            result.files.append(
                FileOutcome(
                    f.source,
                    str(f.path),
                    f.checksum,
                    None,
                    rows_landed=n,
                    rows_duplicate=n,
                    status="skipped_duplicate_file",
                    messages=[f"{f.path.name}: identical file already ingested (sha256 {f.checksum[:12]})"],
                )
            )
            continue
        seen.add(f.checksum)
        fresh.append(f)
    return fresh


def _lineage(df: DataFrame, run_id: str, now: datetime, files: dict[str, ParsedFile]) -> DataFrame:
    """Attach source file and checksum (from the parsed file's name) plus the run's lineage columns."""
    spark = df.sparkSession
    lookup = spark.createDataFrame(
        [(Path(p.output).name, str(p.landed.path), p.landed.checksum) for p in files.values() if p.output],
        "_parsed_name string, source_file string, source_checksum string",
    )
    with_name = df.withColumn("_parsed_name", F.regexp_extract(F.col("_metadata.file_path"), r"([^/]+)$", 1))
    return (
        with_name.join(F.broadcast(lookup), "_parsed_name")
        .drop("_parsed_name")
        .withColumn("row_number", F.col(ROW_NUMBER))
        .withColumn("ingest_run_id", F.lit(run_id))
        .withColumn("ingested_at", F.lit(now).cast("timestamp"))
        .withColumn("ingest_date", F.lit(now.date()))
    )


def _ingest_parsed(
    spark: SparkSession,
    lake: Lake,
    settings: Settings,
    source: str,
    parsed: list[ParsedFile],
    result: IngestResult,
    run_id: str,
    now: datetime,
) -> None:
    outcomes: dict[str, FileOutcome] = {}
    quarantine_frames: list[DataFrame] = []
    groups: dict[tuple[str, ...], list[ParsedFile]] = {}
    for p in parsed:
        outcome = FileOutcome(
            source,
            str(p.landed.path),
            p.landed.checksum,
            p.source_format,
            rows_landed=p.rows_landed,
            messages=list(p.warnings),
        )
        outcomes[p.landed.checksum] = outcome
        result.files.append(outcome)
        if p.file_error is not None:
            _quarantine_whole_file(spark, p, outcome, quarantine_frames, run_id, now, *p.file_error)
            result.quarantine_reasons[p.file_error[0]] += outcome.rows_quarantined
            continue
        if p.malformed:
            outcome.rows_quarantined += len(p.malformed)
            result.quarantine_reasons["malformed_row"] += len(p.malformed)
            quarantine_frames.append(_malformed_frame(spark, p, run_id, now))
        if p.rows_parsed == 0:
            outcome.messages.append(f"{p.landed.path.name}: header only, no records")
            continue
        mapping_key = p.landed.mapping.source_path if p.landed.mapping else ""
        groups.setdefault((mapping_key, *sorted(p.columns)), []).append(p)

    staged: list[tuple[StagedWrite, str, list[Any]]] = []
    try:
        for files in groups.values():
            by_name = {p.landed.checksum: p for p in files}
            raw = spark.read.parquet(*[str(p.output) for p in files])
            raw = _lineage(raw, run_id, now, by_name)
            try:
                raw = C.apply_mapping(raw, files[0].landed.mapping)
                fmt = C.recognise_format(source, raw.columns)
            except ContractError as exc:
                for p in files:
                    _quarantine_whole_file(
                        spark,
                        p,
                        outcomes[p.landed.checksum],
                        quarantine_frames,
                        run_id,
                        now,
                        "missing_required_columns",
                        f"{p.landed.path.name}: {exc}",
                        count=p.rows_parsed,
                    )
                    result.quarantine_reasons["missing_required_columns"] += p.rows_parsed
                continue
            for p in files:
                outcomes[p.landed.checksum].source_format = fmt.name
            raw = C.prefix_raw(raw)
            bronze = raw.select(
                F.col(RECORD).alias("record"),
                F.lit(fmt.name).alias("source_format"),
                "source_file",
                "source_checksum",
                "row_number",
                "ingest_run_id",
                "ingested_at",
                "ingest_date",
            )
            staged.append((lake.stage(BRONZE[source], bronze), "append", []))
            classified = _classify(spark, lake, settings, source, fmt, raw, now)
            classified = classified.persist(StorageLevel.MEMORY_AND_DISK)
            try:
                counts = classified.groupBy("source_checksum", STATUS, C.REJECT_REASON).count().collect()
                for row in counts:
                    outcome = outcomes[row["source_checksum"]]
                    if row[STATUS] == "published":
                        outcome.rows_published += row["count"]
                    elif row[STATUS] == "duplicate":
                        outcome.rows_duplicate += row["count"]
                    else:
                        outcome.rows_quarantined += row["count"]
                        result.quarantine_reasons[row[C.REJECT_REASON]] += row["count"]
                rejected = classified.where(F.col(STATUS) == "quarantined")
                quarantine_frames.append(_quarantine_rows(rejected, source))
                staged.extend(_stage_silver(spark, lake, settings, source, classified, result, now, run_id))
            finally:
                classified.unpersist()
            staged.append((lake.stage(QUARANTINE, _union(quarantine_frames, QUARANTINE)), "append", []))
            quarantine_frames = []
        if quarantine_frames:
            staged.append((lake.stage(QUARANTINE, _union(quarantine_frames, QUARANTINE)), "append", []))
        for s, mode, where in staged:
            lake.commit(s, mode, where)  # type: ignore[arg-type]
        staged = []
    except Exception:
        for s, _, _ in staged:
            lake.abort(s)
        for outcome in result.files:
            if outcome.status == "succeeded":
                outcome.status = "failed"
        raise


def _union(frames: list[DataFrame], table: Table) -> DataFrame:
    out = frames[0].select(*table.column_names)
    for frame in frames[1:]:
        out = out.unionByName(frame.select(*table.column_names))
    return out


def _quarantine_whole_file(
    spark: SparkSession,
    parsed: ParsedFile,
    outcome: FileOutcome,
    frames: list[DataFrame],
    run_id: str,
    now: datetime,
    reason: str,
    detail: str,
    count: int | None = None,
) -> None:
    """The file is unusable: one quarantine row stands for all of its records."""
    log.error("quarantined whole file %s: %s", parsed.landed.path, detail)
    outcome.messages.append(detail)
    outcome.rows_quarantined = count if count is not None else outcome.rows_landed
    outcome.rows_landed = outcome.rows_quarantined
    outcome.rows_published = 0
    outcome.rows_duplicate = 0
    frames.append(
        spark.createDataFrame(
            [
                (
                    parsed.landed.source,
                    reason,
                    detail,
                    None,
                    True,
                    str(parsed.landed.path),
                    parsed.landed.checksum,
                    0,
                    run_id,
                    now,
                    now.date(),
                )
            ],
            QUARANTINE.spark_schema(),
        )
    )


def _malformed_frame(spark: SparkSession, parsed: ParsedFile, run_id: str, now: datetime) -> DataFrame:
    rows = [
        (
            parsed.landed.source,
            "malformed_row",
            m.detail,
            m.raw,
            False,
            str(parsed.landed.path),
            parsed.landed.checksum,
            m.row_number,
            run_id,
            now,
            now.date(),
        )
        for m in parsed.malformed
    ]
    return spark.createDataFrame(rows, QUARANTINE.spark_schema())


def _quarantine_rows(rejected: DataFrame, source: str) -> DataFrame:
    return rejected.select(
        F.lit(source).alias("source"),
        F.col(C.REJECT_REASON).alias("reason_code"),
        F.col(C.REJECT_DETAIL).alias("reason_detail"),
        F.col(RECORD).alias("raw_record"),
        F.lit(False).alias("whole_file"),
        "source_file",
        "source_checksum",
        "row_number",
        "ingest_run_id",
        "ingested_at",
        "ingest_date",
    )


def _classify(
    spark: SparkSession,
    lake: Lake,
    settings: Settings,
    source: str,
    fmt: C.SourceFormat,
    raw: DataFrame,
    now: datetime,
) -> DataFrame:
    """Conform, then mark each row published, quarantined (with reason) or duplicate."""
    if source == "anpr":
        conformed = C.conform_anpr(
            raw,
            lake.read(SILVER_CAMERAS),
            now=now,
            clock_skew_s=settings.clock_skew_tolerance_s,
            retention_days=settings.retention_days,
        )
    elif source == "cameras":
        conformed = C.conform_cameras(raw, fmt, bbox=settings.region_bbox, h3_resolution=settings.h3_resolution)
    elif source == "crimes":
        conformed = C.conform_crimes(raw, fmt, bbox=settings.region_bbox, h3_resolution=settings.h3_resolution)
    else:
        conformed = C.conform_hotlist(raw)
    key = SILVER[source].key[0] if source != "cameras" else "camera_id"
    ok = F.col(C.REJECT_REASON).isNull()
    # The first valid occurrence of a key in the batch wins; later ones are duplicates.
    ranked = conformed.withColumn(
        "_rank", F.when(ok, F.row_number().over(Window.partitionBy(key, ok).orderBy("source_checksum", "row_number")))
    )
    existing = _existing_keys(spark, lake, source, ranked if source == "cameras" else raw, key)
    flagged = ranked.join(existing, key, "left")
    status = (
        F.when(~ok, "quarantined").when((F.col("_rank") > 1) | F.col("_exists"), "duplicate").otherwise("published")
    )
    return flagged.withColumn(STATUS, status)


def _existing_keys(spark: SparkSession, lake: Lake, source: str, batch: DataFrame, key: str) -> DataFrame:
    """Keys already in silver (for reads, only the dates this batch touches), marked _exists."""
    silver = SILVER[source]
    if source == "anpr":
        # Only the dates the batch touches; read from the one raw column, not the conformed frame (a cheap scan).
        read_date = F.to_date(C.parse_timestamp(F.col(C.RAW_PREFIX + "read_at")))
        dates = [r[0] for r in batch.select(read_date).where(read_date.isNotNull()).distinct().collect()]
        if not dates:
            return spark.createDataFrame([], f"{key} string, _exists boolean")
        existing = lake.read(silver, partitions=[("read_date", "in", dates)]).select(key)
    elif source == "cameras":
        # A camera is a duplicate when its current version has the same attributes.
        current = lake.read(silver).where("is_current")
        return (
            batch.select(key, "attributes_hash")
            .join(current.select(key, "attributes_hash"), [key, "attributes_hash"])
            .select(key)
            .distinct()
            .withColumn("_exists", F.lit(True))
        )
    else:
        existing = lake.read(silver).select(key)
    return existing.distinct().withColumn("_exists", F.lit(True))


def _stage_silver(
    spark: SparkSession,
    lake: Lake,
    settings: Settings,
    source: str,
    classified: DataFrame,
    result: IngestResult,
    now: datetime,
    run_id: str,
) -> list[tuple[StagedWrite, str, list[Any]]]:
    silver = SILVER[source]
    published = classified.where(F.col(STATUS) == "published")
    if source == "crimes":
        published = published.withColumn("source_format", F.col("source_format_name"))
    if source == "cameras":
        merged = _camera_history(lake.read(SILVER_CAMERAS), published, now)
        staged = lake.stage(silver, merged)
        _audit(spark, lake, settings, silver, staged, run_id, result, now)
        return [(staged, "overwrite", [])]
    staged = lake.stage(silver, published)
    _audit(spark, lake, settings, silver, staged, run_id, result, now)
    if source == "anpr":
        result.published_dates = sorted(
            r["read_date"] for r in staged.read(spark).select("read_date").distinct().collect()
        )
    return [(staged, "append", [])]


def _camera_history(current: DataFrame, batch: DataFrame, now: datetime) -> DataFrame:
    """SCD type 2: a changed camera closes its current version and opens a new one valid from now."""
    now_ts = F.lit(now).cast("timestamp")
    changed_ids = batch.select("camera_id").distinct().withColumn("_changed", F.lit(True))
    existing_ids = current.select("camera_id").distinct().withColumn("_known", F.lit(True))
    history = (
        current.join(changed_ids, "camera_id", "left")
        .withColumn("valid_to", F.when(F.col("_changed") & F.col("is_current"), now_ts).otherwise(F.col("valid_to")))
        .withColumn("is_current", F.col("is_current") & F.col("_changed").isNull())
        .drop("_changed")
    )
    # A camera seen for the first time is valid from its installation (or always), so earlier reads locate.
    fresh = (
        batch.join(existing_ids, "camera_id", "left")
        .withColumn(
            "valid_from",
            F.when(F.col("_known"), now_ts).otherwise(
                F.coalesce(F.col("installed_at"), F.lit(EPOCH).cast("timestamp"))
            ),
        )
        .withColumn("valid_to", F.col("removed_at"))
        .withColumn("is_current", F.lit(True))
    )
    columns = SILVER_CAMERAS.column_names
    return history.select(*columns).unionByName(fresh.select(*columns))


def _audit(
    spark: SparkSession,
    lake: Lake,
    settings: Settings,
    table: Table,
    staged: StagedWrite,
    run_id: str,
    result: IngestResult,
    now: datetime,
) -> None:
    """The A of Write-Audit-Publish: a failed critical expectation blocks the commit."""
    from quality.validation import QualityReference, validate_batch

    reference = QualityReference(now=now)
    if table is SILVER_ANPR_READS:
        reference.known_camera_ids = lake.read(SILVER_CAMERAS).select("camera_id").distinct()
        reference.baseline_rows_per_day = _baseline_rows(lake, settings, "anpr", now)
    batch = staged.read(spark)
    if reference.baseline_rows_per_day is not None:
        # Volume is judged against the baseline scaled to the span of time this batch covers.
        span = batch.agg((F.max("read_at").cast("long") - F.min("read_at").cast("long")).alias("s")).collect()[0]["s"]
        reference.batch_span_days = max(float(span or 0), settings.anpr_schedule_minutes * 60.0) / 86400.0
    report = validate_batch(batch, table, settings, run_id=run_id, reference=reference)
    result.quality_reports.append(report)
    if report.data_docs_index:
        result.data_docs.append(str(report.data_docs_index))
        log.info("Data Docs for %s: file://%s", table.qualified_name, report.data_docs_index)
    for warning in report.warnings:
        for f in result.files:
            f.messages.append(f"quality warning on {table.qualified_name}: {warning.name} {warning.detail}")
    if not report.success:
        failed = "; ".join(f"{c.name}({c.column}): {c.detail}" for c in report.failures)
        raise QualityGateError(
            f"{table.qualified_name} failed critical expectations, publish blocked: {failed}. "
            f"See Data Docs {report.data_docs_index}"
        )


def _baseline_rows(lake: Lake, settings: Settings, source: str, now: datetime) -> float | None:
    runs = lake.read(INGEST_RUNS).where(
        (F.col("source") == source)
        & (F.col("status") == "succeeded")
        & (
            F.col("started_at")
            >= F.lit(now).cast("timestamp") - F.expr(f"INTERVAL {settings.volume_baseline_days} DAYS")
        )
    )
    stats = (
        runs.groupBy(F.to_date("started_at").alias("d"))
        .agg(F.sum("rows_published").alias("n"))
        .agg(F.avg("n").alias("avg"), F.count("*").alias("days"))
        .collect()
    )
    if not stats or not stats[0]["days"] or stats[0]["days"] < 2:
        return None  # too little history for a baseline
    return float(stats[0]["avg"])


def _record_runs(spark: SparkSession, lake: Lake, result: IngestResult, started: datetime, finished: datetime) -> None:
    if not result.files:
        return
    rows = [
        (
            result.run_id,
            f.source,
            f.source_file,
            f.checksum,
            f.source_format,
            started,
            finished,
            f.rows_landed,
            f.rows_published,
            f.rows_quarantined,
            f.rows_duplicate,
            f.status if f.reconciles or f.status != "succeeded" else "failed",
            "; ".join(f.messages)[:4000] or None,
        )
        for f in result.files
    ]
    lake.append(INGEST_RUNS, spark.createDataFrame(rows, INGEST_RUNS.spark_schema()))
