"""Ingest one source: landing files -> bronze + silver + quarantine, with Write-Audit-Publish and reconciliation.

This is the IO of ingest; the steps it runs are pure (``conform``, ``classify``, ``history``, ``quarantine``,
``bronze``). For every file: rows landed = published + quarantined + duplicates, exactly, or the run fails. A file
already ingested (same checksum) is a no-op. Within a run, bronze, silver and quarantine are staged, the silver
batch is validated by Great Expectations, and only then are they committed.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from das.config import Settings
from das.errors import ContractError, QualityGateError, ReconciliationError
from das.lake import Lake, StagedWrite
from jobs.ingest import classify as K
from jobs.ingest import history, quarantine
from jobs.ingest.bronze import bronze_rows, with_lineage
from jobs.ingest.conform.common import REJECT_REASON, ConformContext, apply_mapping, prefix_raw, recognise_format
from jobs.ingest.landing import LandedFile, discover
from jobs.ingest.outcomes import FAILED, SKIPPED, SUCCEEDED, FileOutcome, IngestResult, ledger_rows, new_run_id
from jobs.ingest.parsing import ParsedFile, parse_file
from jobs.ingest.spec import SourceSpec
from schemas.tables import INGEST_RUNS, QUARANTINE

log = logging.getLogger("das.ingest")


@dataclass
class RunContext:
    """One ingest run: the services it uses, the source, and what it has found so far."""

    spark: SparkSession
    lake: Lake
    settings: Settings
    spec: SourceSpec
    run_id: str
    now: datetime
    result: IngestResult
    outcomes: dict[str, FileOutcome] = field(default_factory=dict)  # by checksum
    quarantine_rows: list[tuple[Any, ...]] = field(default_factory=list)  # small: whole files, malformed records
    quarantine_frames: list[DataFrame] = field(default_factory=list)
    staged: list[tuple[StagedWrite, str]] = field(default_factory=list)  # (files, commit mode)

    def quarantine_file(self, parsed: ParsedFile, reason: str, detail: str, count: int | None = None) -> None:
        """The file is unusable: one quarantine row stands for all of its records."""
        log.error("quarantined whole file %s: %s", parsed.landed.path, detail)
        outcome = self.outcomes[parsed.landed.checksum]
        outcome.messages.append(detail)
        outcome.rows_quarantined = count if count is not None else outcome.rows_landed
        outcome.rows_landed = outcome.rows_quarantined
        outcome.rows_published = outcome.rows_duplicate = 0
        self.result.quarantine_reasons[reason] += outcome.rows_quarantined
        self.quarantine_rows.append(quarantine.whole_file_row(parsed, self.run_id, self.now, reason, detail))

    def stage_quarantine(self) -> None:
        frames = list(self.quarantine_frames)
        if self.quarantine_rows:
            frames.append(quarantine.rows_frame(self.spark, self.quarantine_rows))
        if frames:
            self.staged.append((self.lake.stage(QUARANTINE, quarantine.union_all(frames, QUARANTINE)), "append"))
        self.quarantine_rows, self.quarantine_frames = [], []


def ingest_source(
    spark: SparkSession,
    lake: Lake,
    settings: Settings,
    spec: SourceSpec,
    path: Path,
    *,
    run_id: str | None = None,
    now: datetime | None = None,
) -> IngestResult:
    """Ingest every complete landing file of the source ``spec`` under ``path`` (a file or folder)."""
    now = now or datetime.now(UTC)
    run_id = run_id or new_run_id(spec.name, now)
    result = IngestResult(run_id=run_id, source=spec.name)
    fresh = _skip_already_ingested(lake, discover(spec.name, path), result)
    if fresh:
        work_dir = settings.home_abs / "work" / run_id
        try:
            parsed = [parse_file(f, work_dir / spec.name) for f in fresh]
            _ingest_parsed(RunContext(spark, lake, settings, spec, run_id, now, result), parsed)
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)
    _record_runs(spark, lake, result, now, datetime.now(UTC) if fresh else now)
    unreconciled = result.unreconciled()
    if unreconciled:
        details = "; ".join(
            f"{f.source_file}: landed {f.rows_landed} != published {f.rows_published} + quarantined "
            f"{f.rows_quarantined} + duplicates {f.rows_duplicate}"
            for f in unreconciled
        )
        raise ReconciliationError(f"ingest run {run_id} does not reconcile: {details}")
    return result


def _skip_already_ingested(lake: Lake, landed: list[LandedFile], result: IngestResult) -> list[LandedFile]:
    checksums = [f.checksum for f in landed]
    previous: dict[str, int] = {}
    if checksums:
        ledger = lake.read(INGEST_RUNS).where((F.col("status") == SUCCEEDED) & F.col("source_checksum").isin(checksums))
        previous = {r["source_checksum"]: int(r["rows_landed"]) for r in ledger.collect()}
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
                    status=SKIPPED,
                    messages=[f"{f.path.name}: identical file already ingested (sha256 {f.checksum[:12]})"],
                )
            )
            continue
        seen.add(f.checksum)
        fresh.append(f)
    return fresh


def _group_by_layout(ctx: RunContext, parsed: list[ParsedFile]) -> list[list[ParsedFile]]:
    """Record each file's outcome, quarantine unusable files, and group the rest by mapping and columns."""
    groups: dict[tuple[str, ...], list[ParsedFile]] = {}
    for p in parsed:
        outcome = FileOutcome(
            ctx.spec.name, str(p.landed.path), p.landed.checksum, p.source_format, p.rows_landed, messages=p.warnings
        )
        ctx.outcomes[p.landed.checksum] = outcome
        ctx.result.files.append(outcome)
        if p.file_error is not None:
            ctx.quarantine_file(p, *p.file_error)
            continue
        if p.malformed:
            outcome.rows_quarantined += len(p.malformed)
            ctx.result.quarantine_reasons["malformed_row"] += len(p.malformed)
            ctx.quarantine_rows.extend(quarantine.malformed_rows(p, ctx.run_id, ctx.now))
        if p.rows_parsed == 0:
            outcome.messages.append(f"{p.landed.path.name}: header only, no records")
            continue
        mapping_key = p.landed.mapping.source_path if p.landed.mapping else ""
        groups.setdefault((mapping_key, *sorted(p.columns)), []).append(p)
    return list(groups.values())


def _ingest_parsed(ctx: RunContext, parsed: list[ParsedFile]) -> None:
    try:
        for files in _group_by_layout(ctx, parsed):
            _ingest_group(ctx, files)
        ctx.stage_quarantine()
        for staged, mode in ctx.staged:
            ctx.lake.commit(staged, mode)  # type: ignore[arg-type]
        ctx.staged = []
    except Exception:
        for staged, _ in ctx.staged:
            ctx.lake.abort(staged)
        for outcome in ctx.result.files:
            if outcome.status == SUCCEEDED:
                outcome.status = FAILED
        raise


def _ingest_group(ctx: RunContext, files: list[ParsedFile]) -> None:
    """Files with the same layout: bronze, then conform, classify and stage silver and quarantine."""
    spec = ctx.spec
    raw = with_lineage(ctx.spark.read.parquet(*[str(p.output) for p in files]), ctx.run_id, ctx.now, files)
    try:
        raw = apply_mapping(raw, files[0].landed.mapping)
        fmt = recognise_format(spec.name, spec.formats, raw.columns)
    except ContractError as exc:
        for p in files:
            ctx.quarantine_file(p, "missing_required_columns", f"{p.landed.path.name}: {exc}", count=p.rows_parsed)
        return
    for p in files:
        ctx.outcomes[p.landed.checksum].source_format = fmt.name
    raw = prefix_raw(raw)
    ctx.staged.append((ctx.lake.stage(spec.bronze, bronze_rows(raw, spec.bronze, fmt.name)), "append"))
    references = {t.qualified_name: ctx.lake.read(t) for t in spec.references}
    conformed = spec.conform(raw, fmt, ConformContext(ctx.now, ctx.settings, references))
    classified = _classify(ctx, raw, conformed).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        counts = classified.groupBy("source_checksum", K.STATUS, REJECT_REASON).count().collect()
        for row in counts:
            ctx.outcomes[row["source_checksum"]].count(row[K.STATUS], row["count"])
            if row[K.STATUS] == K.QUARANTINED:
                ctx.result.quarantine_reasons[row[REJECT_REASON]] += row["count"]
        rejected = classified.where(F.col(K.STATUS) == K.QUARANTINED)
        ctx.quarantine_frames.append(quarantine.rejected_rows(rejected, spec.name))
        _stage_silver(ctx, classified.where(F.col(K.STATUS) == K.PUBLISHED))
    finally:
        classified.unpersist()
    ctx.stage_quarantine()


def _classify(ctx: RunContext, raw: DataFrame, conformed: DataFrame) -> DataFrame:
    """Mark each conformed row published, quarantined (with its reason) or duplicate."""
    spec, key = ctx.spec, ctx.spec.dedupe_key
    ranked = K.rank_in_batch(conformed, key)
    if spec.history is not None:
        current = ctx.lake.read(spec.silver).where(F.col(spec.history.is_current))
        held = history.unchanged_keys(ranked, current, key, spec.history.hash_column)
    else:
        held = K.held_keys(_silver_to_probe(ctx, raw), key)
    return K.classify(ranked, held, key)


def _silver_to_probe(ctx: RunContext, raw: DataFrame) -> DataFrame:
    """Silver rows whose keys the batch could repeat: only the partitions the batch touches, when the spec says
    how to find them cheaply from the raw rows."""
    spec = ctx.spec
    if spec.partition_probe is None or not spec.silver.partition_by:
        return ctx.lake.read(spec.silver)
    probe = spec.partition_probe(raw)
    values = [r[0] for r in raw.select(probe).where(probe.isNotNull()).distinct().collect()]
    if not values:
        return ctx.spark.createDataFrame([], spec.silver.spark_schema())
    return ctx.lake.read(spec.silver, partitions=[(spec.silver.partition_by[0], "in", values)])


def _stage_silver(ctx: RunContext, published: DataFrame) -> None:
    spec = ctx.spec
    if spec.history is not None:
        h = spec.history
        merged = history.merge_history(
            ctx.lake.read(spec.silver),
            published,
            ctx.now,
            spec.silver,
            h.entity_key,
            opened_by=h.opened_by,
            closed_by=h.closed_by,
            valid_from=h.valid_from,
            valid_to=h.valid_to,
            is_current=h.is_current,
        )
        staged, mode = ctx.lake.stage(spec.silver, merged), "overwrite"
    else:
        staged, mode = ctx.lake.stage(spec.silver, published), "append"
    _audit(ctx, staged)
    ctx.staged.append((staged, mode))
    if mode == "append" and spec.silver.partition_by:
        column = spec.silver.partition_by[0]
        values = {str(r[column]) for r in staged.read(ctx.spark).select(column).distinct().collect()}
        ctx.result.published_partitions = sorted(values | set(ctx.result.published_partitions))


def _audit(ctx: RunContext, staged: StagedWrite) -> None:
    """The A of Write-Audit-Publish: a failed critical expectation blocks the commit."""
    from quality.suites import known_camera_column
    from quality.validation import QualityReference, validate_batch
    from schemas.tables import SILVER_CAMERAS

    table, settings = staged.table, ctx.settings
    reference = QualityReference(now=ctx.now)
    if known_camera_column(table):
        reference.known_camera_ids = ctx.lake.read(SILVER_CAMERAS).select("camera_id").distinct()
    if ctx.spec.volume_baseline:
        reference.baseline_rows_per_day = _baseline_rows(ctx)
    batch = staged.read(ctx.spark)
    if reference.baseline_rows_per_day is not None and table.event_time:
        # Volume is judged against the baseline scaled to the span of time this batch covers.
        event = F.col(table.event_time).cast("long")
        span = batch.agg((F.max(event) - F.min(event)).alias("s")).collect()[0]["s"]
        reference.batch_span_days = max(float(span or 0), settings.anpr_schedule_minutes * 60.0) / 86400.0
    report = validate_batch(batch, table, settings, run_id=ctx.run_id, reference=reference)
    ctx.result.quality_reports.append(report)
    if report.data_docs_index:
        ctx.result.data_docs.append(str(report.data_docs_index))
        log.info("Data Docs for %s: file://%s", table.qualified_name, report.data_docs_index)
    for warning in report.warnings:
        for f in ctx.result.files:
            f.messages.append(f"quality warning on {table.qualified_name}: {warning.name} {warning.detail}")
    if not report.success:
        failed = "; ".join(f"{c.name}({c.column}): {c.detail}" for c in report.failures)
        raise QualityGateError(
            f"{table.qualified_name} failed critical expectations, publish blocked: {failed}. "
            f"See Data Docs {report.data_docs_index}"
        )


def _baseline_rows(ctx: RunContext) -> float | None:
    """Average rows published per day by this source over the trailing baseline days (None: too little history)."""
    days = ctx.settings.volume_baseline_days
    runs = ctx.lake.read(INGEST_RUNS).where(
        (F.col("source") == ctx.spec.name)
        & (F.col("status") == SUCCEEDED)
        & (F.col("started_at") >= F.lit(ctx.now).cast("timestamp") - F.expr(f"INTERVAL {days} DAYS"))
    )
    stats = (
        runs.groupBy(F.to_date("started_at").alias("d"))
        .agg(F.sum("rows_published").alias("n"))
        .agg(F.avg("n").alias("avg"), F.count("*").alias("days"))
        .collect()
    )
    if not stats or not stats[0]["days"] or stats[0]["days"] < 2:
        return None
    return float(stats[0]["avg"])


def _record_runs(spark: SparkSession, lake: Lake, result: IngestResult, started: datetime, finished: datetime) -> None:
    if result.files:
        lake.append(
            INGEST_RUNS, spark.createDataFrame(ledger_rows(result, started, finished), INGEST_RUNS.spark_schema())
        )
