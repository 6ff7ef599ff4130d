"""Quarantine rows: whole unusable files, malformed records and rows that failed a critical check."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.ingest.conform.common import REJECT_DETAIL, REJECT_REASON
from jobs.ingest.parsing import RECORD, ParsedFile
from schemas.model import Table
from schemas.tables import QUARANTINE


def _lineage(parsed: ParsedFile, run_id: str, now: datetime) -> dict[str, Any]:
    return {
        "source": parsed.landed.source,
        "source_file": str(parsed.landed.path),
        "source_checksum": parsed.landed.checksum,
        "ingest_run_id": run_id,
        "ingested_at": now,
        "ingest_date": now.date(),
    }


def whole_file_row(parsed: ParsedFile, run_id: str, now: datetime, reason: str, detail: str) -> tuple[Any, ...]:
    """One row that stands for every record of an unusable file (row_number 0, no raw record)."""
    return QUARANTINE.row(
        {
            **_lineage(parsed, run_id, now),
            "reason_code": reason,
            "reason_detail": detail,
            "whole_file": True,
            "row_number": 0,
        }
    )


def malformed_frame(spark: SparkSession, parsed: ParsedFile, run_id: str, now: datetime) -> DataFrame | None:
    """One row per record the parser could not read, with its record number (read from the parser's side file)."""
    if parsed.malformed_output is None:
        return None
    lineage = _lineage(parsed, run_id, now)
    values = {
        **{k: F.lit(v) for k, v in lineage.items()},
        "reason_code": F.lit("malformed_row"),
        "reason_detail": F.col("detail"),
        "raw_record": F.col("raw"),
        "whole_file": F.lit(False),
        "row_number": F.col("row_number"),
    }
    frame = spark.read.parquet(str(parsed.malformed_output))
    return frame.select(
        *[values[c].cast(QUARANTINE.spark_schema()[c].dataType).alias(c) for c in QUARANTINE.column_names]
    )


def rows_frame(spark: SparkSession, rows: list[tuple[Any, ...]]) -> DataFrame:
    return spark.createDataFrame(rows, QUARANTINE.spark_schema())


def rejected_rows(rejected: DataFrame, source: str) -> DataFrame:
    """Conformed rows that failed a critical check, as quarantine rows with their reason and raw record."""
    values = {
        "source": F.lit(source),
        "reason_code": F.col(REJECT_REASON),
        "reason_detail": F.col(REJECT_DETAIL),
        "raw_record": F.col(RECORD),
        "whole_file": F.lit(False),
    }
    return rejected.select(*[values.get(name, F.col(name)).alias(name) for name in QUARANTINE.column_names])


def union_all(frames: list[DataFrame], table: Table) -> DataFrame:
    out = frames[0].select(*table.column_names)
    for frame in frames[1:]:
        out = out.unionByName(frame.select(*table.column_names))
    return out
