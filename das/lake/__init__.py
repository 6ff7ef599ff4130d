"""The lake adapter: Delta tables behind one interface, with two backends.

- ``DeltaRsLake`` (``das.lake.delta_rs``): Spark writes Parquet, delta-rs owns the Delta log. The default
  wherever the Delta jars are absent, including CI.
- ``DeltaSparkLake`` (``das.lake.delta_spark``): delta-spark, when its jars are on Spark's classpath.

Both produce standard Delta tables (protocol reader 1 / writer 2: no deletion vectors, no column mapping) that any
Delta reader opens. Staging (Write-Audit-Publish) and the interface live in ``das.lake.base``.
"""

from __future__ import annotations

from pyspark.sql import SparkSession

from das.config import Settings
from das.errors import LakeError
from das.lake.base import (
    EXPORT_BATCH_ROWS,
    STAGING_DIR,
    Condition,
    Lake,
    StagedWrite,
    WriteMode,
    predicate_sql,
)
from das.lake.delta_rs import DeltaRsLake
from das.lake.delta_spark import DeltaSparkLake
from das.spark import delta_jars_available
from schemas.model import Table


def export_lake(settings: Settings) -> Lake:
    """The lake for Arrow reads and export only, with no Spark session (no JVM): what publishing needs.

    delta-rs reads the tables of either backend (both write standard Delta).
    """
    return DeltaRsLake(None, settings.lake)


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


__all__ = [
    "EXPORT_BATCH_ROWS",
    "STAGING_DIR",
    "Condition",
    "DeltaRsLake",
    "DeltaSparkLake",
    "Lake",
    "StagedWrite",
    "WriteMode",
    "build_lake",
    "export_lake",
    "predicate_sql",
    "read_arrow",
]
