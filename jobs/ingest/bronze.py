"""Lineage and the bronze projection: every landed record as it was, with where it came from."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.ingest.parsing import RECORD, ROW_NUMBER, ParsedFile
from schemas.model import Table


def with_lineage(df: DataFrame, run_id: str, now: datetime, files: Iterable[ParsedFile]) -> DataFrame:
    """Attach source file and checksum (found by the parsed file's name) plus the run's lineage columns."""
    lookup = df.sparkSession.createDataFrame(
        [(Path(p.output).name, str(p.landed.path), p.landed.checksum) for p in files if p.output],
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


def bronze_rows(raw: DataFrame, bronze: Table, source_format: str) -> DataFrame:
    """The bronze table's columns: the raw record, the format that read it, and lineage."""
    values = {"record": F.col(RECORD), "source_format": F.lit(source_format)}
    return raw.select(*[values.get(name, F.col(name)).alias(name) for name in bronze.column_names])
