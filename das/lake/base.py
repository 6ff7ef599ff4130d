"""What every lake backend shares: the interface, Write-Audit-Publish staging, predicates and file statistics.

Writes go through Write-Audit-Publish: ``stage()`` writes Parquet files into ``<table>/_staging/<id>/``, where no
reader looks; the caller audits the staged data; the backend's ``commit()`` publishes it in one Delta commit (or
``abort()`` throws it away). Files written but never committed are invisible to every reader, and ``vacuum``
removes them.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from das.errors import LakeError
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
    # The table version the staged data was computed from. A commit then fails (LakeConflictError) when a
    # concurrent commit removed data it read, instead of silently losing that commit; the caller recomputes.
    read_version: int | None = None

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


class Lake:
    """What every backend offers, with what they share: table paths, schema conformance and staging.

    Tables are addressed by their declaration. A backend implements the Delta-specific methods below.
    """

    backend = "abstract"

    def __init__(self, spark: SparkSession | None, root: str, storage_options: dict[str, str] | None = None):
        self._spark = spark
        self.root = root.rstrip("/")
        self.storage_options = storage_options or {}

    @property
    def spark(self) -> SparkSession:
        if self._spark is None:
            raise LakeError(
                f"the lake at {self.root} was opened without Spark (for Arrow reads and export only): "
                "open it with das.lake.build_lake(spark, settings) to read DataFrames or write"
            )
        return self._spark

    def table_path(self, table: Table) -> str:
        return f"{self.root}/{table.layer}/{table.name}"

    def is_local(self) -> bool:
        return "://" not in self.root or self.root.startswith("file://")

    @staticmethod
    def local_path(path: str) -> Path:
        return Path(path.removeprefix("file://"))

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

    def stage(self, table: Table, df: DataFrame, read_version: int | None = None) -> StagedWrite:
        """Write ``df`` (conformed to the declaration) as Parquet files no reader sees yet."""
        stage_path = f"{self.table_path(table)}/{STAGING_DIR}/{uuid.uuid4().hex}"
        writer = self._conform(table, df).write.mode("errorifexists")
        if table.partition_by:
            writer = writer.partitionBy(*table.partition_by)
        writer.parquet(stage_path)
        return StagedWrite(table=table, path=stage_path, files=self.list_parquet(stage_path), read_version=read_version)

    def committed(self, table: Table, txn: str) -> bool:
        """Whether a commit tagged with the application transaction ``txn`` is in the table (idempotent writes)."""
        from deltalake import DeltaTable

        path = self.table_path(table)
        if not DeltaTable.is_deltatable(path, storage_options=self.storage_options):
            return False
        return DeltaTable(path, storage_options=self.storage_options).transaction_version(txn) is not None

    def list_parquet(self, path: str) -> list[str]:
        if self.is_local():
            base = self.local_path(path)
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

    def abort(self, staged: StagedWrite) -> None:
        if self.is_local():
            shutil.rmtree(self.local_path(staged.path), ignore_errors=True)
        else:
            import pyarrow.fs as pafs

            fs, path = pafs.FileSystem.from_uri(staged.path)
            fs.delete_dir_contents(path, missing_dir_ok=True)

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
        return self._read_existing(table, version, as_of, partitions)

    # What each backend implements.
    def exists(self, table: Table) -> bool:
        raise NotImplementedError

    def _read_existing(
        self, table: Table, version: int | None, as_of: datetime | None, partitions: Sequence[Condition]
    ) -> DataFrame:
        raise NotImplementedError

    def commit(
        self,
        staged: StagedWrite,
        mode: WriteMode = "append",
        replace_where: Sequence[Condition] = (),
        txn: str | None = None,
    ) -> int:
        """Publish the staged files in one Delta commit; with ``txn``, a commit already made under it is not
        repeated (the staged files are dropped) and the table's version is returned."""
        raise NotImplementedError

    def delete_where(self, table: Table, conditions: Sequence[Condition]) -> int:
        raise NotImplementedError

    def merge(self, table: Table, rows: pa.Table) -> dict[str, int]:
        """Upsert ``rows`` by the table's key in one commit: matched rows are replaced, new ones inserted, the rest
        untouched (no full rewrite). Conflicts with a concurrent commit fail it, as any commit."""
        raise NotImplementedError

    def history(self, table: Table) -> list[dict[str, Any]]:
        raise NotImplementedError

    def version(self, table: Table) -> int:
        raise NotImplementedError

    def optimize(self, table: Table) -> dict[str, Any]:
        raise NotImplementedError

    def vacuum(self, table: Table, retention_hours: int = 168, staging_max_age_hours: float = 24.0) -> list[str]:
        raise NotImplementedError

    def append(self, table: Table, df: DataFrame, txn: str | None = None) -> int:
        return self.commit(self.stage(table, df), "append", txn=txn)

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
        filters = partition_filters(partitions)
        dataset = DeltaTable(self.table_path(table), storage_options=self.storage_options).to_pyarrow_dataset(
            partitions=filters or None
        )
        yield from dataset.to_batches(columns=list(columns) if columns else None, batch_size=EXPORT_BATCH_ROWS)

    def to_arrow(
        self,
        table: Table,
        where: pc.Expression | None = None,
        partitions: Sequence[Condition] = (),
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        """The current rows matching ``where`` as one Arrow table, read by delta-rs without Spark (small reads)."""
        from deltalake import DeltaTable

        if not DeltaTable.is_deltatable(self.table_path(table), storage_options=self.storage_options):
            return table.arrow_schema().empty_table().select(list(columns or table.column_names))
        filters = partition_filters(partitions)
        dataset = DeltaTable(self.table_path(table), storage_options=self.storage_options).to_pyarrow_dataset(
            partitions=filters or None
        )
        return dataset.to_table(columns=list(columns or table.column_names), filter=where)

    def overwrite_where(self, table: Table, df: DataFrame, replace_where: Sequence[Condition]) -> int:
        return self.commit(self.stage(table, df), "overwrite", replace_where)


def partition_literal(value: Any) -> str:
    return value.isoformat() if isinstance(value, (date, datetime)) else str(value)


def partition_filters(partitions: Sequence[Condition]) -> list[tuple[str, str, Any]]:
    """Conditions as delta-rs partition filters (values as partition-path strings)."""
    return [
        (c, op, [partition_literal(x) for x in v] if op == "in" else partition_literal(v)) for c, op, v in partitions
    ]


def parquet_stats(parquet: pq.ParquetFile, table: Table) -> dict[str, Any]:
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
