"""Ingest one source: landing files -> bronze + silver + quarantine, with Write-Audit-Publish and reconciliation.

This is the IO of ingest; the steps it runs are pure (``conform``, ``classify``, ``history``, ``quarantine``,
``bronze``). For every file: rows landed = published + quarantined + duplicates, exactly, or the run fails. A file
already ingested (same checksum) is a no-op. Within a run, bronze, silver and quarantine are staged, the silver
batch is validated by Great Expectations, and only then are they committed.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from string import Formatter
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from das import locks
from das.config import Settings
from das.errors import ContractError, QualityGateError, ReconciliationError
from das.faults import crash_point
from das.lake import Condition, Lake, StagedWrite
from das.logs import log_context
from das.progress import track
from jobs.ingest import classify as K
from jobs.ingest import history, quarantine
from jobs.ingest.bronze import bronze_rows, with_lineage
from jobs.ingest.conform.common import REJECT_REASON, ConformContext, apply_mapping, prefix_raw, recognise_format
from jobs.ingest.history import EPOCH
from jobs.ingest.journal import COMMITTED, RUNNING, Journal, JournalEntry
from jobs.ingest.journal import FAILED as JOURNAL_FAILED
from jobs.ingest.landing import LandedFile, discover
from jobs.ingest.outcomes import (
    FAILED,
    FAILED_EARLIER,
    SKIPPED,
    SUCCEEDED,
    FileOutcome,
    IngestResult,
    ledger_rows,
    new_run_id,
)
from jobs.ingest.parsing import ParsedFile, parse_file, peek_fields
from jobs.ingest.spec import SourceSpec
from schemas.landing import normalise_field_name
from schemas.model import Table
from schemas.tables import INGEST_RUNS, QUARANTINE

log = logging.getLogger("das.ingest")
_LISTED = "_listed"  # the keys a snapshot batch lists (for withdrawals)


@dataclass
class RunContext:
    """One ingest run: the services it uses, the source, its journal entry, and what it has found so far."""

    spark: SparkSession
    lake: Lake
    settings: Settings
    spec: SourceSpec
    run_id: str
    now: datetime
    result: IngestResult
    entry: JournalEntry
    outcomes: dict[str, FileOutcome] = field(default_factory=dict)  # by checksum
    quarantine_rows: list[tuple[Any, ...]] = field(default_factory=list)  # small: one per unusable file
    frames: dict[str, list[DataFrame]] = field(default_factory=dict)  # table qualified name -> rows to write
    persisted: list[DataFrame] = field(default_factory=list)
    staged: list[tuple[StagedWrite, str]] = field(default_factory=list)  # (files, commit mode)

    def add(self, table: Table, frame: DataFrame) -> None:
        self.frames.setdefault(table.qualified_name, []).append(frame)

    def rows_for(self, table: Table) -> DataFrame | None:
        """Every group's rows for ``table``, as one frame (one stage, one commit per table and run)."""
        frames = self.frames.get(table.qualified_name, [])
        if table is QUARANTINE and self.quarantine_rows:
            frames = [*frames, quarantine.rows_frame(self.spark, self.quarantine_rows)]
        if not frames:
            return None
        out = frames[0]
        for frame in frames[1:]:
            out = out.unionByName(frame.select(*out.columns))
        return out

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

    def silver_at_start(self, partitions: Sequence[Condition] = ()) -> DataFrame:
        """Silver as the run found it (the journal's version): a rerun classifies exactly as the killed run."""
        version = self.entry.silver_version
        if version < 0:
            return self.spark.createDataFrame([], self.spec.silver.spark_schema())
        rows = self.lake.read(self.spec.silver, version=version, partitions=partitions)
        h = self.spec.history
        if h is not None:  # rows stored before the source kept history are each record's first, current version
            rows = rows.withColumn(h.valid_from, F.coalesce(F.col(h.valid_from), F.lit(EPOCH).cast("timestamp")))
            rows = rows.withColumn(h.is_current, F.coalesce(F.col(h.is_current), F.col(h.valid_to).isNull()))
        return rows

    def references(self) -> dict[str, DataFrame]:
        """The silver tables conform reads, at the versions the run started from."""
        out = {}
        for table in self.spec.references:
            version = self.entry.reference_versions.get(table.qualified_name, -1)
            out[table.qualified_name] = (
                self.lake.read(table, version=version)
                if version >= 0
                else self.spark.createDataFrame([], table.spark_schema())
            )
        return out


def ingest_source(
    spark: SparkSession,
    lake: Lake,
    settings: Settings,
    spec: SourceSpec,
    path: Path,
    *,
    run_id: str | None = None,
    now: datetime | None = None,
    retry_failed: bool = False,
) -> IngestResult:
    """Ingest every complete landing file of the source ``spec`` under ``path`` (a file or folder).

    One run per source at a time (a lock across processes). A run killed earlier is finished first, exactly once
    (see ``jobs.ingest.journal``). Files whose run failed to reconcile stay failed until ``retry_failed``.
    """
    with (
        log_context(source=spec.name),
        # One lock per landing folder: sources sharing one (LFR) run one at a time, so a cross-check reads a
        # settled version of the other's table.
        locks.held(settings, f"ingest-{spec.folder}", purpose=f"ingest {spec.name} from {path}"),
    ):
        journal = Journal(lake.root, lake.storage_options)
        recovered = [
            _finish(spark, lake, settings, spec, journal, entry) for entry in journal.entries(spec.name, RUNNING)
        ]
        now = now or datetime.now(UTC)
        run_id = run_id or new_run_id(spec.name, now)
        result = IngestResult(run_id=run_id, source=spec.name, recovered_runs=[r.run_id for r in recovered])
        landed = _belonging_to(spec, discover(spec.name, path) if path.exists() else [], settings)
        fresh = _skip_already_ingested(lake, landed, result, retry_failed)
        if fresh:
            entry = JournalEntry(
                run_id,
                spec.name,
                now.isoformat(),
                files=[{"path": str(f.path), "checksum": f.checksum} for f in fresh],
                silver_version=lake.version(spec.silver),
                reference_versions={t.qualified_name: lake.version(t) for t in spec.references},
            )
            journal.write(entry)
            crash_point(f"ingest:{spec.name}:after-journal")
            with log_context(run_id=run_id):
                log.info("ingesting %d new file(s) of %d landed", len(fresh), len(landed))
                _run(RunContext(spark, lake, settings, spec, run_id, now, result, entry), fresh, journal)
    for done in (*recovered, result):
        _raise_unless_reconciled(done)
    return result


def _run(ctx: RunContext, files: list[LandedFile], journal: Journal) -> None:
    """Parse, stage, audit and commit; then the ledger; then mark the journal entry committed (or failed)."""
    work_dir = ctx.settings.home_abs / "work" / ctx.run_id
    try:
        parsed = []
        for landed in track(files, f"parse {ctx.spec.name}"):
            with log_context(file=landed.path.name):
                parsed.append(parse_file(landed, work_dir / ctx.spec.name, ctx.settings.ingest))
                done = parsed[-1]
                log.info(
                    "parsed %d rows (%d malformed) as %s", done.rows_parsed, done.malformed_count, done.source_format
                )
        try:
            _ingest_parsed(ctx, parsed)
        except QualityGateError:
            if not any(ctx.lake.committed(t, ctx.run_id) for t in (ctx.spec.bronze, ctx.spec.silver, QUARANTINE)):
                journal.remove(ctx.entry)  # nothing was published: the next run starts afresh
            raise
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    ledger = ledger_rows(ctx.result, ctx.now, datetime.now(UTC))
    if ledger:
        ctx.lake.append(INGEST_RUNS, ctx.spark.createDataFrame(ledger, INGEST_RUNS.spark_schema()), txn=ctx.run_id)
    crash_point(f"ingest:{ctx.spec.name}:after-ledger")
    ctx.entry.status = COMMITTED if not ctx.result.unreconciled() else JOURNAL_FAILED
    ctx.entry.published_partitions = ctx.result.published_partitions
    ctx.entry.rows_published = ctx.result.total("rows_published")
    journal.write(ctx.entry)


def _belonging_to(spec: SourceSpec, landed: list[LandedFile], settings: Settings) -> list[LandedFile]:
    """The files of a shared landing folder that are this source's (by their fields; see ``SourceSpec.takes``)."""
    if spec.landing_folder is None:
        return landed
    mine = []
    for f in landed:
        fields = peek_fields(f, settings.ingest)
        if fields is not None and f.mapping is not None:  # a mapped file is recognised by its contract names
            fields |= {
                normalise_field_name(contract)
                for contract, mapped in f.mapping.fields.items()
                if all(normalise_field_name(n) in fields for n in _mapped_names(mapped))
            } | {normalise_field_name(d) for d in f.mapping.defaults}
        if spec.takes(fields):
            mine.append(f)
    return mine


def _mapped_names(mapped: str) -> list[str]:
    """The file fields a mapping entry reads: one name, or each ``{name}`` of a template."""
    if "{" not in mapped:
        return [mapped]
    return [name for _, name, _, _ in Formatter().parse(mapped) if name]


def _finish(
    spark: SparkSession, lake: Lake, settings: Settings, spec: SourceSpec, journal: Journal, entry: JournalEntry
) -> IngestResult:
    """Finish a run that was killed: the same files, clock and silver version; commits already made are kept."""
    log.warning("finishing interrupted ingest run %s (%d files)", entry.run_id, len(entry.files))
    result = IngestResult(run_id=entry.run_id, source=spec.name)
    found: dict[str, LandedFile] = {}
    for folder in sorted({str(Path(f["path"]).parent) for f in entry.files}):
        if Path(folder).is_dir():
            found.update({f.checksum: f for f in discover(spec.name, Path(folder))})
    missing = [f["path"] for f in entry.files if f["checksum"] not in found]
    if missing:
        entry.status, entry.message = JOURNAL_FAILED, f"cannot finish: landing files changed or vanished: {missing}"
        journal.write(entry)
        log.error("ingest run %s %s", entry.run_id, entry.message)
        return result
    files = [found[f["checksum"]] for f in entry.files]
    _run(RunContext(spark, lake, settings, spec, entry.run_id, entry.now, result, entry), files, journal)
    return result


def _raise_unless_reconciled(result: IngestResult) -> None:
    unreconciled = result.unreconciled()
    if unreconciled:
        details = "; ".join(
            f"{f.source_file}: landed {f.rows_landed} != published {f.rows_published} + quarantined "
            f"{f.rows_quarantined} + duplicates {f.rows_duplicate}"
            for f in unreconciled
        )
        raise ReconciliationError(f"ingest run {result.run_id} does not reconcile: {details}")


def _skip_already_ingested(
    lake: Lake, landed: list[LandedFile], result: IngestResult, retry_failed: bool
) -> list[LandedFile]:
    """Files whose checksum the ledger holds are skipped: as duplicates when they succeeded, and as still failed
    (visible, not re-appended) when their run did not reconcile, unless ``retry_failed``."""
    checksums = [f.checksum for f in landed]
    previous: dict[str, tuple[str, int]] = {}
    if checksums:
        held_statuses = [SUCCEEDED] if retry_failed else [SUCCEEDED, FAILED]
        ledger = lake.read(INGEST_RUNS).where(
            F.col("status").isin(held_statuses) & F.col("source_checksum").isin(checksums)
        )
        for r in ledger.orderBy("finished_at").collect():
            previous[r["source_checksum"]] = (r["status"], int(r["rows_landed"]))
    fresh: list[LandedFile] = []
    seen: set[str] = set()
    for f in landed:
        if f.checksum in previous and previous[f.checksum][0] == FAILED:
            result.files.append(
                FileOutcome(
                    f.source,
                    str(f.path),
                    f.checksum,
                    None,
                    status=FAILED_EARLIER,
                    messages=[f"{f.path.name}: its ingest did not reconcile; see `das runs --failed`"],
                )
            )
            continue
        if f.checksum in previous or f.checksum in seen:
            n = previous.get(f.checksum, ("", 0))[1]
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
        malformed = quarantine.malformed_frame(ctx.spark, p, ctx.run_id, ctx.now)
        if malformed is not None:
            outcome.rows_quarantined += p.malformed_count
            ctx.result.quarantine_reasons["malformed_row"] += p.malformed_count
            ctx.add(QUARANTINE, malformed)
        if p.rows_parsed == 0:
            outcome.messages.append(f"{p.landed.path.name}: header only, no records")
            continue
        mapping_key = p.landed.mapping.source_path if p.landed.mapping else ""
        groups.setdefault((mapping_key, *sorted(p.columns)), []).append(p)
    return list(groups.values())


def _ingest_parsed(ctx: RunContext, parsed: list[ParsedFile]) -> None:
    """Stage every layer once, audit silver, then commit bronze, silver and quarantine in that order, each under
    the run's transaction id: a commit made before a crash is not made again."""
    spec = ctx.spec
    try:
        for files in _group_by_layout(ctx, parsed):
            _ingest_group(ctx, files)
        bronze = ctx.rows_for(spec.bronze)
        if bronze is not None:
            ctx.staged.append((ctx.lake.stage(spec.bronze, bronze), "append"))
        published = ctx.rows_for(spec.silver)
        if published is not None:
            _stage_silver(ctx, published)
        rejected = ctx.rows_for(QUARANTINE)
        if rejected is not None:
            ctx.staged.append((ctx.lake.stage(QUARANTINE, rejected), "append"))
        for staged, mode in ctx.staged:
            ctx.lake.commit(staged, mode, txn=ctx.run_id)  # type: ignore[arg-type]
            crash_point(f"ingest:{spec.name}:after-{staged.table.layer}")
        ctx.staged = []
    except Exception:
        for staged, _ in ctx.staged:
            ctx.lake.abort(staged)
        for outcome in ctx.result.files:
            if outcome.status == SUCCEEDED:
                outcome.status = FAILED
        raise
    finally:
        for frame in ctx.persisted:
            frame.unpersist()


def _ingest_group(ctx: RunContext, files: list[ParsedFile]) -> None:
    """Files with the same layout: their bronze rows, then conform and classify into silver and quarantine rows."""
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
    ctx.add(spec.bronze, bronze_rows(raw, spec.bronze, fmt.name))
    conformed = spec.conform(raw, fmt, ConformContext(ctx.now, ctx.settings, ctx.references()))
    classified = _classify(ctx, raw, conformed).persist(StorageLevel.MEMORY_AND_DISK)
    ctx.persisted.append(classified)
    counts = classified.groupBy("source_checksum", K.STATUS, REJECT_REASON, K.UPDATED).count().collect()
    for row in counts:
        outcome = ctx.outcomes[row["source_checksum"]]
        outcome.count(row[K.STATUS], row["count"])
        if row[K.STATUS] == K.QUARANTINED:
            ctx.result.quarantine_reasons[row[REJECT_REASON]] += row["count"]
            if row[REJECT_REASON] in ("conflicting_key", "superseded"):
                outcome.rows_conflicting += row["count"]
        if row[K.UPDATED]:
            outcome.rows_updated += row["count"]
    ctx.add(QUARANTINE, quarantine.rejected_rows(classified.where(F.col(K.STATUS) == K.QUARANTINED), spec.name))
    published = classified.where(F.col(K.STATUS) == K.PUBLISHED)
    # SCD2 version columns are added when the history is merged.
    ctx.add(spec.silver, published.select(*[c for c in spec.silver.column_names if c in published.columns]))
    if spec.snapshot_scope is not None:  # every record the snapshot lists, valid or not, is not withdrawn
        listed = classified.where(F.col(spec.snapshot_scope).isNotNull())
        ctx.frames.setdefault(_LISTED, []).append(listed.select(spec.snapshot_scope, *spec.dedupe_key))


def _classify(ctx: RunContext, raw: DataFrame, conformed: DataFrame) -> DataFrame:
    """Mark each conformed row published (maybe updated), quarantined (with its reason) or duplicate."""
    spec, key = ctx.spec, ctx.spec.dedupe_key
    if spec.history is not None:
        held_rows = ctx.silver_at_start().where(F.col(spec.history.is_current))
    elif spec.merge == "snapshot":
        held_rows = ctx.silver_at_start()
    else:
        held_rows = _silver_to_probe(ctx, raw)
    held = K.held_content(held_rows, key, spec.content_columns)
    return K.classify(
        conformed,
        held,
        key,
        content_columns=spec.content_columns,
        corrections_allowed=spec.corrections_allowed,
        winner=spec.winner,
    )


def _silver_to_probe(ctx: RunContext, raw: DataFrame) -> DataFrame:
    """Silver rows whose keys the batch could repeat: only the partitions the batch touches, when the spec says
    how to find them cheaply from the raw rows."""
    spec = ctx.spec
    if spec.partition_probe is None or not spec.silver.partition_by:
        return ctx.silver_at_start()
    probe = spec.partition_probe(raw)
    values = [r[0] for r in raw.select(probe).where(probe.isNotNull()).distinct().collect()]
    if not values:
        return ctx.spark.createDataFrame([], spec.silver.spark_schema())
    return ctx.silver_at_start(partitions=[(spec.silver.partition_by[0], "in", values)])


def _stage_silver(ctx: RunContext, published: DataFrame) -> None:
    spec = ctx.spec
    # A rewrite is computed from the run's silver version: a concurrent rewrite makes the commit fail, not vanish.
    read_version = ctx.entry.silver_version if ctx.entry.silver_version >= 0 else None
    if spec.history is not None:
        h = spec.history
        merged = history.merge_history(
            ctx.silver_at_start(),
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
        staged, mode = ctx.lake.stage(spec.silver, merged, read_version=read_version), "overwrite"
    elif spec.snapshot_scope is not None:
        listed = ctx.frames.get(_LISTED, [])
        present = listed[0] if listed else published.select(spec.snapshot_scope, *spec.dedupe_key).limit(0)
        for frame in listed[1:]:
            present = present.unionByName(frame)
        merged, withdrawn = history.merge_snapshot(
            ctx.silver_at_start(), published, present, ctx.now, spec.silver, spec.dedupe_key, spec.snapshot_scope
        )
        ctx.result.rows_withdrawn = withdrawn.count()
        staged, mode = ctx.lake.stage(spec.silver, merged, read_version=read_version), "overwrite"
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
        cameras = ctx.references().get(SILVER_CAMERAS.qualified_name, ctx.lake.read(SILVER_CAMERAS))
        reference.known_camera_ids = cameras.select("camera_id").distinct()
    if ctx.spec.volume_baseline:
        reference.baseline_rows_per_day = _baseline_rows(ctx)
    batch = staged.read(ctx.spark)
    if reference.baseline_rows_per_day is not None and table.event_time:
        # Volume is judged against the baseline scaled to the span of time this batch covers.
        event = F.col(table.event_time).cast("long")
        span = batch.agg((F.max(event) - F.min(event)).alias("s")).collect()[0]["s"]
        reference.batch_span_days = max(float(span or 0), settings.anpr_schedule_minutes * 60.0) / 86400.0
    _gate(ctx, validate_batch(batch, table, settings, run_id=ctx.run_id, reference=reference))
    if ctx.spec.cross_check is not None:
        checked_table, checked = ctx.spec.cross_check(batch, _current_rows(ctx, ctx.spec.cross_check_reads))
        _gate(ctx, validate_batch(checked, checked_table, settings, run_id=ctx.run_id, reference=reference))


def _current_rows(ctx: RunContext, tables: Sequence[Table]) -> dict[str, DataFrame]:
    """The current rows of other silver tables, as a cross-table check reads them (empty until ingested)."""
    out = {}
    for table in tables:
        if ctx.lake.version(table) < 0:
            out[table.qualified_name] = ctx.spark.createDataFrame([], table.spark_schema())
            continue
        rows = ctx.lake.read(table)
        out[table.qualified_name] = rows.where(F.col("is_current")) if "is_current" in rows.columns else rows
    return out


def _gate(ctx: RunContext, report: Any) -> None:
    """Record a validation and block the commit when a critical expectation failed."""
    table = report.table
    ctx.result.quality_reports.append(report)
    ctx.entry.quality.extend(quality_rows(ctx, report))
    if report.data_docs_index:
        ctx.result.data_docs.append(str(report.data_docs_index))
        log.info("Data Docs for %s: file://%s", table, report.data_docs_index)
    for warning in report.warnings:
        for f in ctx.result.files:
            f.messages.append(f"quality warning on {table}: {warning.name} {warning.detail}")
    if not report.success:
        failed = "; ".join(f"{c.name}({c.column}): {c.detail}" for c in report.failures)
        raise QualityGateError(
            f"{table} failed critical expectations, publish blocked: {failed}. See Data Docs {report.data_docs_index}"
        )


def quality_rows(ctx: RunContext, report: Any) -> list[dict[str, Any]]:
    """One das.quality_results row per check of the batch (kept in the journal until the run is published)."""
    validated_at = datetime.now(UTC).isoformat()
    return [
        {
            "ingest_run_id": ctx.run_id,
            "source": ctx.spec.name,
            "table_name": report.table,
            "check_name": f"{check.name}({check.column})" if check.column else check.name,
            "severity": check.severity,
            "success": check.success,
            "unexpected_count": int(check.unexpected_count or 0),
            "detail": check.detail or None,
            "row_count": report.row_count,
            "validated_at": validated_at,
        }
        for check in report.checks
    ]


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
