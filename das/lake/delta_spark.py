"""The delta-spark backend: ``format("delta")`` and ``delta.tables.DeltaTable``.

Used when the Delta jars are on Spark's classpath (provided by the cluster, or listed in ``DAS_DELTA_JARS``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pyspark.sql import DataFrame

from das.lake.base import Condition, Lake, StagedWrite, WriteMode, predicate_sql
from schemas.model import Table


class DeltaSparkLake(Lake):
    """The real delta-spark path, used when the Delta jars are on Spark's classpath."""

    backend = "delta-spark"

    def exists(self, table: Table) -> bool:
        from delta.tables import DeltaTable

        return bool(DeltaTable.isDeltaTable(self.spark, self.table_path(table)))

    def version(self, table: Table) -> int:
        history = self.history(table)
        return int(history[0]["version"]) if history else -1

    def _read_existing(
        self, table: Table, version: int | None, as_of: datetime | None, partitions: Sequence[Condition]
    ) -> DataFrame:
        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        if as_of is not None:
            reader = reader.option("timestampAsOf", as_of.isoformat())
        df = reader.load(self.table_path(table))
        return df.where(predicate_sql(partitions)) if partitions else df

    def commit(
        self,
        staged: StagedWrite,
        mode: WriteMode = "append",
        replace_where: Sequence[Condition] = (),
        txn: str | None = None,
    ) -> int:
        table = staged.table
        if txn is not None and self.committed(table, txn):
            self.abort(staged)
            return self.version(table)
        writer = staged.read(self.spark).write.format("delta").mode(mode)
        if txn is not None:  # Delta's idempotent writes: the same (app id, version) is written once
            writer = writer.option("txnAppId", txn).option("txnVersion", 1)
        if table.partition_by:
            writer = writer.partitionBy(*table.partition_by)
        if mode == "overwrite" and replace_where:
            writer = writer.option("replaceWhere", predicate_sql(replace_where))
        writer.save(self.table_path(table))
        self.abort(staged)
        return self.version(table)

    def _delta(self, table: Table):  # type: ignore[no-untyped-def]
        from delta.tables import DeltaTable

        return DeltaTable.forPath(self.spark, self.table_path(table))

    def merge(self, table: Table, rows: Any) -> dict[str, int]:
        predicate = " AND ".join(f"t.{k} = s.{k}" for k in table.key)
        source = self.spark.createDataFrame(rows.to_pandas(), table.spark_schema())
        if not self.exists(table):
            source.write.format("delta").partitionBy(*table.partition_by).save(self.table_path(table))
            return {"num_target_rows_inserted": source.count()}
        (
            self._delta(table)
            .alias("t")
            .merge(source.alias("s"), predicate)
            .whenMatchedUpdateAll()
            .whenNotMatchedInsertAll()
            .execute()
        )
        return {}

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

    def vacuum(self, table: Table, retention_hours: int = 168, staging_max_age_hours: float = 24.0) -> list[str]:
        if not self.exists(table):
            return []
        self.spark.conf.set("spark.databricks.delta.retentionDurationCheck.enabled", "false")
        self._delta(table).vacuum(retention_hours / 1.0)
        return []
