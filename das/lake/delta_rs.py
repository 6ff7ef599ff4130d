"""The delta-rs backend (the default wherever the Delta jars are absent, CI included).

Spark computes and writes Parquet into a staging folder; delta-rs (the ``deltalake`` package) commits exactly those
files to the Delta log. Spark reads only the table's active files, as listed by the log.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame
from pyspark.sql import types as T

from das.errors import LakeConflictError, LakeError
from das.lake.base import (
    STAGING_DIR,
    Condition,
    Lake,
    StagedWrite,
    WriteMode,
    parquet_stats,
    partition_filters,
    partition_literal,
    predicate_sql,
)
from schemas.model import Table


class DeltaRsLake(Lake):
    """Spark writes Parquet; delta-rs owns the Delta log."""

    backend = "delta-rs"

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
            self._add_declared_columns(table)
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

    def _add_declared_columns(self, table: Table) -> None:
        """Schema evolution: columns declared since the table was created are added (nullable; older rows read
        them as null). Only additions: a changed or removed column is a migration, not an evolution."""
        from deltalake.schema import Field, Schema

        dt = self._delta_table(table)
        present = {f.name for f in dt.schema().fields}
        missing = [f for f in table.arrow_schema() if f.name not in present]
        if missing:
            declared = Schema.from_arrow(pa.schema([f.with_nullable(True) for f in missing]))
            dt.alter.add_columns([Field(f.name, f.type, nullable=True) for f in declared.fields])

    def version(self, table: Table) -> int:
        return -1 if not self.exists(table) else int(self._delta_table(table).version())

    def _read_existing(
        self, table: Table, version: int | None, as_of: datetime | None, partitions: Sequence[Condition]
    ) -> DataFrame:
        dt = self._delta_table(table, version)
        if as_of is not None:
            dt.load_as_version(as_of)
        schema = T.StructType.fromJson(json.loads(dt.schema().to_json()))
        filters = partition_filters(partitions)
        files = dt.file_uris(partition_filters=filters or None)
        if not files:
            return self.spark.createDataFrame([], schema)
        reader = self.spark.read.schema(schema).option("basePath", self.table_path(table))
        return reader.parquet(*files).select(*[f.name for f in schema.fields])

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
                    stats=json.dumps(parquet_stats(metadata["parquet"], staged.table)),
                )
            )
        return actions

    def _move(self, source: str, target: str) -> dict[str, Any]:
        if self.is_local():
            src, dst = self.local_path(source), self.local_path(target)
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

    def commit(
        self,
        staged: StagedWrite,
        mode: WriteMode = "append",
        replace_where: Sequence[Condition] = (),
        txn: str | None = None,
    ) -> int:
        from deltalake import CommitProperties, Transaction
        from deltalake.exceptions import CommitFailedError

        table = staged.table
        self._ensure_table(table)
        if txn is not None and self.committed(table, txn):
            self.abort(staged)  # made before a crash: the rerun adds nothing
            return self.version(table)
        properties = CommitProperties(
            app_transactions=[Transaction(txn, 1)] if txn else None,
            custom_metadata={"das.txn": txn} if txn else None,
        )
        partition_only = all(c[0] in table.partition_by and c[1] != "in" for c in replace_where)
        try:
            if mode == "overwrite" and replace_where and not partition_only:
                self._overwrite_rows(staged, replace_where, properties)
            else:
                actions = self._add_actions(staged)
                # Committing from the snapshot the data was computed from lets delta-rs detect a concurrent
                # commit that removed data we read (optimistic concurrency), instead of overwriting it blindly.
                dt = self._delta_table(table, staged.read_version)
                filters = [(c, op, partition_literal(v)) for c, op, v in replace_where] if replace_where else None
                dt.create_write_transaction(
                    actions,
                    mode=mode,
                    schema=table.arrow_schema(),
                    partition_by=list(table.partition_by) or None,
                    partition_filters=filters,
                    commit_properties=properties,
                )
        except CommitFailedError as exc:
            raise LakeConflictError(
                f"{table.qualified_name}: a concurrent commit changed data this write read (version "
                f"{staged.read_version}); recompute from the current version and retry ({exc})"
            ) from exc
        finally:
            self.abort(staged)
        return self.version(table)

    def _overwrite_rows(self, staged: StagedWrite, replace_where: Sequence[Condition], properties: Any) -> None:
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
            commit_properties=properties,
        )

    def merge(self, table: Table, rows: pa.Table) -> dict[str, int]:
        from deltalake.exceptions import CommitFailedError

        self._ensure_table(table)
        predicate = " AND ".join(f"t.{k} = s.{k}" for k in table.key)
        source = rows.select(table.column_names).cast(table.arrow_schema())
        try:
            result = (
                self._delta_table(table)
                .merge(source=source, predicate=predicate, source_alias="s", target_alias="t")
                .when_matched_update_all()
                .when_not_matched_insert_all()
                .execute()
            )
        except CommitFailedError as exc:
            raise LakeConflictError(
                f"{table.qualified_name}: a concurrent commit conflicted with the merge ({exc})"
            ) from exc
        return {k: int(v) for k, v in result.items() if k.startswith("num_")}

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

    def vacuum(self, table: Table, retention_hours: int = 168, staging_max_age_hours: float = 24.0) -> list[str]:
        """Remove files no longer in the log (older than the retention) and staging folders abandoned for longer
        than ``staging_max_age_hours`` (younger ones may belong to a write still under way)."""
        if not self.exists(table):
            return []
        removed = self._delta_table(table).vacuum(
            retention_hours=retention_hours, dry_run=False, enforce_retention_duration=False
        )
        if self.is_local():
            staging = self.local_path(f"{self.table_path(table)}/{STAGING_DIR}")
            cutoff = time.time() - staging_max_age_hours * 3600
            if staging.exists():
                for leftover in staging.iterdir():
                    if _newest_mtime(leftover) < cutoff:
                        shutil.rmtree(leftover, ignore_errors=True)
                        removed.append(str(leftover))
        return list(removed)


def _newest_mtime(path: Path) -> float:
    """The latest modification time of a folder or anything in it (a writer touches it as it goes)."""
    times = [path.stat().st_mtime, *(p.stat().st_mtime for p in path.rglob("*"))]
    return max(times)
