"""Raw landed rows as conform receives them: landed fields as prefixed strings, plus lineage and the raw record."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from jobs.ingest.conform.common import RAW_PREFIX, RECORD_COLUMN

LINEAGE_FIELDS = ("source_checksum", "row_number")


def raw_frame(spark: SparkSession, fields: Sequence[str], rows: Sequence[Mapping[str, str | None]]) -> DataFrame:
    """One raw row per mapping; ``fields`` are the file's (normalised) header fields, absent values are null."""
    schema = T.StructType(
        [T.StructField(RAW_PREFIX + f, T.StringType()) for f in fields]
        + [
            T.StructField("source_checksum", T.StringType()),
            T.StructField("row_number", T.LongType()),
            T.StructField(RECORD_COLUMN, T.StringType()),
        ]
    )
    data = [
        (*[row.get(f) for f in fields], "c" * 64, n, json.dumps({f: row.get(f) for f in fields}))
        for n, row in enumerate(rows, start=1)
    ]
    return spark.createDataFrame(data, schema)
