"""The lake adapter: Delta tables behind one interface, with two backends.

- ``DeltaRsLake`` (default everywhere the Delta jars are absent, including CI): Spark computes and writes Parquet
  into a staging folder; delta-rs (the ``deltalake`` package) commits exactly those files to the Delta log. Spark
  reads only the table's active files, as listed by the log.
- ``DeltaSparkLake``: ``format("delta")`` and ``delta.tables.DeltaTable``, used when the Delta jars are on Spark's
  classpath (provided by the cluster, or listed in ``DAS_DELTA_JARS``).

Both produce standard Delta tables (protocol reader 1 / writer 2: no deletion vectors, no column mapping) that any
Delta reader opens. Writes go through Write-Audit-Publish: ``stage()`` writes files, the caller audits the staged
data, ``commit()`` publishes it in one Delta commit (or ``abort()`` throws it away). Files that were written but never
committed are invisible to every reader, and ``vacuum`` removes them.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from das.config import Settings
from das.errors import LakeError
from das.spark import delta_jars_available
from schemas.model import Table

FilterValue = str | int | float | date | datetime | None
Condition = tuple[str, str, Any]  # (column, op, value); op in = != < <= > >= in
WriteMode = Literal["append", "overwrite"]
STAGING_DIR = "_staging"
EXPORT_BATCH_ROWS = 250_000  # rows per Arrow batch when streaming a table out (bounded memory)


def predicate_sql(conditions: Sequence[Condition]) -> str:
    """Render a conjunction of conditions as a SQL predicate that Spark and delta-rs both accept."""

    def literal(value: Any) -> str:
        if isinstance(value, datetime):
            return f"'{value.isoformat(sep=' ')}'"
        if isinstance(value, (str, date)):
            text = str(value).replace("'", "''")
            return f"'{text}'"
        return str(value)

    parts = []
    for column, op, value in conditions:
        if op == "in":
            parts.append(f"{column} IN ({', '.join(literal(v) for v in value)})")
        elif op in ("=", "!=", "<", "<=", ">", ">="):
            parts.append(f"{column} {op} {literal(value)}")
        else:
            raise LakeError(f"unsupported predicate operator {op!r}; use one of = != < <= > >= in")
    return " AND ".join(parts) if parts else "true"


@dataclass
class StagedWrite:
    """Files written but not yet committed (the W of Write-Audit-Publish)."""

    table: Table
    path: str
    rows: int | None = None
    files: list[str] = field(default_factory=list)

    def read(self, spark: SparkSession) -> DataFrame:
        """The staged data, read back from the written files, for the audit step."""
        if not self.files:
            return spark.createDataFrame([], self.table.spark_schema())
        return (
            spark.read.schema(self.table.spark_schema())
            .option("basePath", self.path)
            .parquet(*self.files)
            .select(*self.table.column_names)
        )


class Lake(Protocol):
    """What every backend offers. Tables are addressed by their declaration."""

    root: str

    def table_path(self, table: Table) -> str: ...
    def exists(self, table: Table) -> bool: ...
    def read(
        self,
        table: Table,
        version: int | None = None,
        as_of: datetime | None = None,
        partitions: Sequence[Condition] = (),
    ) -> DataFrame: ...
    def stage(self, table: Table, df: DataFrame) -> StagedWrite: ...
    def commit(
        self, staged: StagedWrite, mode: WriteMode = "append", replace_where: Sequence[Condition] = ()
    ) -> int: ...
    def abort(self, staged: StagedWrite) -> None: ...
    def append(self, table: Table, df: DataFrame) -> int: ...
    def overwrite_where(self, table: Table, df: DataFrame, replace_where: Sequence[Condition]) -> int: ...
    def delete_where(self, table: Table, conditions: Sequence[Condition]) -> int: ...
    def history(self, table: Table) -> list[dict[str, Any]]: ...
    def version(self, table: Table) -> int: ...
    def optimize(self, table: Table) -> dict[str, Any]: ...
    def vacuum(self, table: Table, retention_hours: int = 168) -> list[str]: ...
    def iter_batches(
        self, table: Table, partitions: Sequence[Condition] = (), columns: Sequence[str] | None = None
    ) -> Iterator[pa.RecordBatch]: ...


class _LakeBase:
    def __init__(self, spark: SparkSession, root: str, storage_options: dict[str, str] | None = None):
        self.spark = spark
        self.root = root.rstrip("/")
        self.storage_options = storage_options or {}

    def table_path(self, table: Table) -> str:
        return f"{self.root}/{table.layer}/{table.name}"

    def _conform(self, table: Table, df: DataFrame) -> DataFrame:
        """Select and cast to the declared schema; a missing column is a programming error, named."""
        missing = [c for c in table.column_names if c not in df.columns]
        if missing:
            raise LakeError(f"cannot write {table.qualified_name}: DataFrame lacks declared columns {missing}")
        schema = table.spark_schema()
        actual = {f.name: f.dataType for f in df.schema.fields}

        def conformed(name: str, wanted: T.DataType):  # type: ignore[no-untyped-def]
            # Same type but for element/field nullability: Spark (ANSI) refuses such casts, and none is needed.
            if actual[name].simpleString() == wanted.simpleString():
                return df[name].alias(name)
            return df[name].cast(wanted).alias(name)

        return df.select(*[conformed(f.name, f.dataType) for f in schema.fields])

    def append(self, table: Table, df: DataFrame) -> int:
        return self.commit(self.stage(table, df), "append")  # type: ignore[attr-defined]

    def iter_batches(
        self, table: Table, partitions: Sequence[Condition] = (), columns: Sequence[str] | None = None
    ) -> Iterator[pa.RecordBatch]:
        """Stream the current rows (of the matching partitions) as Arrow batches, read by delta-rs.

        For bulk export (publishing to PostGIS): memory is one batch, and nothing passes through the
        Spark driver (a day of London reads is larger than ``spark.driver.maxResultSize``). Both backends
        write standard Delta tables, so delta-rs reads either.
        """
        from deltalake import DeltaTable

        if not DeltaTable.is_deltatable(self.table_path(table), storage_options=self.storage_options):
            return
        filters = _partition_filters(partitions)
        dataset = DeltaTable(self.table_path(table), storage_options=self.storage_options).to_pyarrow_dataset(
            partitions=filters or None
        )
        yield from dataset.to_batches(columns=list(columns) if columns else None, batch_size=EXPORT_BATCH_ROWS)

    def overwrite_where(self, table: Table, df: DataFrame, replace_where: Sequence[Condition]) -> int:
        return self.commit(self.stage(table, df), "overwrite", replace_where)  # type: ignore[attr-defined]


class DeltaRsLake(_LakeBase):
    """Spark writes Parquet; delta-rs owns the Delta log."""

    backend = "delta-rs"

    def _is_local(self) -> bool:
        return "://" not in self.root or self.root.startswith("file://")

    def _local_path(self, path: str) -> Path:
        return Path(path.removeprefix("file://"))

    def _delta_table(self, table: Table, version: int | None = None):  # type: ignore[no-untyped-def]
        from deltalake import DeltaTable

        try:
            return DeltaTable(self.table_path(table), version=version, storage_options=self.storage_options)
        except Exception as exc:  # delta-rs raises TableNotFoundError and others
            raise LakeError(
                f"cannot open Delta table {table.qualified_name} at {self.table_path(table)}: {exc}"
            ) from exc

    def exists(self, table: Table) -> bool:
        from deltalake import DeltaTable

        return bool(DeltaTable.is_deltatable(self.table_path(table), storage_options=self.storage_options))

    def _ensure_table(self, table: Table) -> None:
        if self.exists(table):
            return
        from deltalake import DeltaTable

        DeltaTable.create(
            self.table_path(table),
            schema=table.arrow_schema(),
            partition_by=list(table.partition_by) or None,
            mode="ignore",
            name=table.name,
            description=table.description,
            storage_options=self.storage_options,
        )

    def version(self, table: Table) -> int:
        return -1 if not self.exists(table) else int(self._delta_table(table).version())

    def read(
        self,
        table: Table,
        version: int | None = None,
        as_of: datetime | None = None,
        partitions: Sequence[Condition] = (),
    ) -> DataFrame:
        """The table (or only the partitions matching ``partitions``), at a version or time if given."""
        if not self.exists(table):
            return self.spark.createDataFrame([], table.spark_schema())
        dt = self._delta_table(table, version)
        if as_of is not None:
            dt.load_as_version(as_of)
        schema = T.StructType.fromJson(json.loads(dt.schema().to_json()))
        filters = _partition_filters(partitions)
        files = dt.file_uris(partition_filters=filters or None)
        if not files:
            return self.spark.createDataFrame([], schema)
        reader = self.spark.read.schema(schema).option("basePath", self.table_path(table))
        return reader.parquet(*files).select(*[f.name for f in schema.fields])

    def stage(self, table: Table, df: DataFrame) -> StagedWrite:
        stage_path = f"{self.table_path(table)}/{STAGING_DIR}/{uuid.uuid4().hex}"
        writer = self._conform(table, df).write.mode("errorifexists")
        if table.partition_by:
            writer = writer.partitionBy(*table.partition_by)
        writer.parquet(stage_path)
        files = self._list_parquet(stage_path)
        return StagedWrite(table=table, path=stage_path, files=files)

    def _list_parquet(self, path: str) -> list[str]:
        if self._is_local():
            base = self._local_path(path)
            return sorted(str(p) for p in base.rglob("*.parquet") if not p.name.startswith((".", "_")))
        import pyarrow.fs as pafs

        fs, base_path = pafs.FileSystem.from_uri(path)
        infos = fs.get_file_info(pafs.FileSelector(base_path, recursive=True))
        scheme = path.split("://", 1)[0]
        return sorted(
            f"{scheme}://{i.path}"
            for i in infos
            if i.is_file and i.path.endswith(".parquet") and not Path(i.path).name.startswith((".", "_"))
        )

    def _add_actions(self, staged: StagedWrite) -> list[Any]:
        """Move staged files into the table's hive layout and describe them as Delta add actions."""
        from deltalake.transaction import AddAction

        table_root = self.table_path(staged.table)
        actions = []
        batch = uuid.uuid4().hex[:12]
        for file_path in staged.files:
            relative_in_stage = file_path[len(staged.path) + 1 :]
            partition_values: dict[str, str | None] = {}
            for segment in relative_in_stage.split("/")[:-1]:
                key, _, raw = segment.partition("=")
                value = unquote(raw)
                partition_values[key] = None if value == "__HIVE_DEFAULT_PARTITION__" else value
            directory = "/".join(relative_in_stage.split("/")[:-1])
            name = f"part-{batch}-{Path(relative_in_stage).name.removeprefix('part-')}"
            relative_target = f"{directory}/{name}" if directory else name
            target = f"{table_root}/{relative_target}"
            metadata = self._move(file_path, target)
            actions.append(
                AddAction(
                    path=relative_target,
                    size=metadata["size"],
                    partition_values=partition_values,
                    modification_time=metadata["mtime_ms"],
                    data_change=True,
                    stats=json.dumps(_parquet_stats(metadata["parquet"], staged.table)),
                )
            )
        return actions

    def _move(self, source: str, target: str) -> dict[str, Any]:
        if self._is_local():
            src, dst = self._local_path(source), self._local_path(target)
            dst.parent.mkdir(parents=True, exist_ok=True)
            src.replace(dst)
            stat = dst.stat()
            return {
                "size": stat.st_size,
                "mtime_ms": int(stat.st_mtime * 1000),
                "parquet": pq.ParquetFile(dst),
            }
        import pyarrow.fs as pafs

        fs, src_path = pafs.FileSystem.from_uri(source)
        _, dst_path = pafs.FileSystem.from_uri(target)
        fs.move(src_path, dst_path)
        info = fs.get_file_info(dst_path)
        mtime = int(info.mtime.timestamp() * 1000) if info.mtime else 0
        return {"size": info.size, "mtime_ms": mtime, "parquet": pq.ParquetFile(fs.open_input_file(dst_path))}

    def commit(self, staged: StagedWrite, mode: WriteMode = "append", replace_where: Sequence[Condition] = ()) -> int:
        table = staged.table
        self._ensure_table(table)
        partition_only = all(c[0] in table.partition_by and c[1] != "in" for c in replace_where)
        try:
            if mode == "overwrite" and replace_where and not partition_only:
                self._overwrite_rows(staged, replace_where)
            else:
                actions = self._add_actions(staged)
                dt = self._delta_table(table)
                filters = [(c, op, _partition_literal(v)) for c, op, v in replace_where] if replace_where else None
                dt.create_write_transaction(
                    actions,
                    mode=mode,
                    schema=table.arrow_schema(),
                    partition_by=list(table.partition_by) or None,
                    partition_filters=filters,
                )
        finally:
            self.abort(staged)
        return self.version(table)

    def _overwrite_rows(self, staged: StagedWrite, replace_where: Sequence[Condition]) -> None:
        """Replace rows matching a non-partition predicate in one commit (delta-rs rewrites affected files)."""
        import pyarrow.dataset as pads
        from deltalake import write_deltalake

        table = staged.table
        schema = table.arrow_schema()
        if staged.files:
            partitioning = (
                pads.partitioning(pa.schema([schema.field(c) for c in table.partition_by]), flavor="hive")
                if table.partition_by
                else None
            )
            dataset = pads.dataset(staged.path, schema=schema, format="parquet", partitioning=partitioning)
            data: Any = dataset.scanner(columns=table.column_names).to_reader()  # streams, bounded memory
        else:
            data = schema.empty_table()
        write_deltalake(
            self.table_path(table),
            data,
            mode="overwrite",
            predicate=predicate_sql(replace_where),
            partition_by=list(table.partition_by) or None,
            schema_mode=None,
            storage_options=self.storage_options,
        )

    def abort(self, staged: StagedWrite) -> None:
        if self._is_local():
            shutil.rmtree(self._local_path(staged.path), ignore_errors=True)
        else:
            import pyarrow.fs as pafs

            fs, path = pafs.FileSystem.from_uri(staged.path)
            fs.delete_dir_contents(path, missing_dir_ok=True)

    def delete_where(self, table: Table, conditions: Sequence[Condition]) -> int:
        if not self.exists(table):
            return 0
        result = self._delta_table(table).delete(predicate_sql(conditions))
        return int(result.get("num_deleted_rows", 0))

    def history(self, table: Table) -> list[dict[str, Any]]:
        return [] if not self.exists(table) else list(self._delta_table(table).history())

    def optimize(self, table: Table) -> dict[str, Any]:
        if not self.exists(table):
            return {}
        return dict(self._delta_table(table).optimize.compact())

    def vacuum(self, table: Table, retention_hours: int = 168) -> list[str]:
        """Remove files no longer in the log (older than the retention) and abandoned staging files."""
        if not self.exists(table):
            return []
        removed = self._delta_table(table).vacuum(
            retention_hours=retention_hours, dry_run=False, enforce_retention_duration=False
        )
        if self._is_local():
            staging = self._local_path(f"{self.table_path(table)}/{STAGING_DIR}")
            if staging.exists():
                for leftover in staging.iterdir():
                    shutil.rmtree(leftover, ignore_errors=True)
                    removed.append(str(leftover))
        return list(removed)


class DeltaSparkLake(_LakeBase):
    """The real delta-spark path, used when the Delta jars are on Spark's classpath."""

    backend = "delta-spark"

    def exists(self, table: Table) -> bool:
        from delta.tables import DeltaTable

        return bool(DeltaTable.isDeltaTable(self.spark, self.table_path(table)))

    def version(self, table: Table) -> int:
        history = self.history(table)
        return int(history[0]["version"]) if history else -1

    def read(
        self,
        table: Table,
        version: int | None = None,
        as_of: datetime | None = None,
        partitions: Sequence[Condition] = (),
    ) -> DataFrame:
        if not self.exists(table):
            return self.spark.createDataFrame([], table.spark_schema())
        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        if as_of is not None:
            reader = reader.option("timestampAsOf", as_of.isoformat())
        df = reader.load(self.table_path(table))
        return df.where(predicate_sql(partitions)) if partitions else df

    def stage(self, table: Table, df: DataFrame) -> StagedWrite:
        stage_path = f"{self.table_path(table)}/{STAGING_DIR}/{uuid.uuid4().hex}"
        writer = self._conform(table, df).write.mode("errorifexists")
        if table.partition_by:
            writer = writer.partitionBy(*table.partition_by)
        writer.parquet(stage_path)
        staged = StagedWrite(table=table, path=stage_path)
        staged.files = [
            r.path
            for r in self.spark.read.parquet(stage_path)
            .select("_metadata.file_path")
            .distinct()
            .withColumnRenamed("file_path", "path")
            .collect()
        ]
        return staged

    def commit(self, staged: StagedWrite, mode: WriteMode = "append", replace_where: Sequence[Condition] = ()) -> int:
        table = staged.table
        writer = staged.read(self.spark).write.format("delta").mode(mode)
        if table.partition_by:
            writer = writer.partitionBy(*table.partition_by)
        if mode == "overwrite" and replace_where:
            writer = writer.option("replaceWhere", predicate_sql(replace_where))
        writer.save(self.table_path(table))
        self.abort(staged)
        return self.version(table)

    def abort(self, staged: StagedWrite) -> None:
        jvm_path = self.spark._jvm.org.apache.hadoop.fs.Path(staged.path)  # type: ignore[union-attr]
        fs = jvm_path.getFileSystem(self.spark._jsc.hadoopConfiguration())  # type: ignore[union-attr]
        fs.delete(jvm_path, True)

    def _delta(self, table: Table):  # type: ignore[no-untyped-def]
        from delta.tables import DeltaTable

        return DeltaTable.forPath(self.spark, self.table_path(table))

    def delete_where(self, table: Table, conditions: Sequence[Condition]) -> int:
        if not self.exists(table):
            return 0
        before = self.read(table).where(predicate_sql(conditions)).count()
        self._delta(table).delete(predicate_sql(conditions))
        return int(before)

    def history(self, table: Table) -> list[dict[str, Any]]:
        if not self.exists(table):
            return []
        return [r.asDict(recursive=True) for r in self._delta(table).history().collect()]

    def optimize(self, table: Table) -> dict[str, Any]:
        if not self.exists(table):
            return {}
        rows = self._delta(table).optimize().executeCompaction().collect()
        return rows[0].asDict(recursive=True) if rows else {}

    def vacuum(self, table: Table, retention_hours: int = 168) -> list[str]:
        if not self.exists(table):
            return []
        self.spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
        self._delta(table).vacuum(retention_hours / 1.0)
        return []


def _partition_literal(value: Any) -> str:
    return value.isoformat() if isinstance(value, (date, datetime)) else str(value)


def _partition_filters(partitions: Sequence[Condition]) -> list[tuple[str, str, Any]]:
    """Conditions as delta-rs partition filters (values as partition-path strings)."""
    return [
        (c, op, [_partition_literal(x) for x in v] if op == "in" else _partition_literal(v))
        for c, op, v in partitions
    ]


def _parquet_stats(parquet: pq.ParquetFile, table: Table) -> dict[str, Any]:
    """numRecords plus min/max/nullCount of scalar columns, so readers can skip files."""
    meta = parquet.metadata
    stats: dict[str, Any] = {"numRecords": meta.num_rows, "minValues": {}, "maxValues": {}, "nullCount": {}}
    scalar = {c.name for c in table.columns if c.type not in ("array<string>", "evidence", "boolean")}
    for col_index in range(meta.num_columns):
        name = meta.schema.column(col_index).path
        if name not in scalar:
            continue
        mins, maxs, nulls, complete = [], [], 0, True
        for rg in range(meta.num_row_groups):
            st = meta.row_group(rg).column(col_index).statistics
            if st is None or not st.has_min_max:
                complete = complete and (st is not None and st.null_count == meta.row_group(rg).num_rows)
                nulls += st.null_count if st is not None and st.has_null_count else 0
                continue
            mins.append(st.min)
            maxs.append(st.max)
            nulls += st.null_count if st.has_null_count else 0
        stats["nullCount"][name] = nulls
        if mins and complete:
            stats["minValues"][name] = _json_stat(min(mins))
            stats["maxValues"][name] = _json_stat(max(maxs))
    return stats


def _json_stat(value: Any) -> Any:
    if isinstance(value, datetime):
        # Delta stats for timestamps are ISO 8601 with millisecond precision in UTC.
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def build_lake(spark: SparkSession, settings: Settings) -> Lake:
    """Choose the backend: delta-spark when its jars are on the classpath, delta-rs otherwise."""
    backend = settings.lake_backend
    if backend == "auto":
        backend = "delta-spark" if _delta_on_classpath(spark, settings) else "delta-rs"
    if backend == "delta-spark":
        if not _delta_on_classpath(spark, settings):
            raise LakeError(
                "DAS_LAKE_BACKEND=delta-spark but the Delta jars are not on Spark's classpath: "
                "set DAS_DELTA_JARS to local delta-spark and delta-storage jar paths, or use delta-rs"
            )
        return DeltaSparkLake(spark, settings.lake)
    return DeltaRsLake(spark, settings.lake)


def _delta_on_classpath(spark: SparkSession, settings: Settings) -> bool:
    if delta_jars_available(settings):
        return True
    try:
        spark._jvm.java.lang.Class.forName("io.delta.tables.DeltaTable")  # type: ignore[union-attr]
        return True
    except Exception:
        return False


def read_arrow(settings: Settings, table: Table):  # type: ignore[no-untyped-def]
    """A whole (small) table as Arrow, read by delta-rs without Spark: for CLIs and reports.

    Both backends write standard Delta tables, so delta-rs reads either.
    """
    from deltalake import DeltaTable

    path = f"{settings.lake.rstrip('/')}/{table.layer}/{table.name}"
    if not DeltaTable.is_deltatable(path):
        return table.arrow_schema().empty_table()
    return DeltaTable(path).to_pyarrow_table()
