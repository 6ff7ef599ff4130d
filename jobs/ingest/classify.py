"""Classify conformed rows: quarantined (a critical check failed), duplicate, or published.

A row is a duplicate when its dedupe key is already held in silver, or when an earlier valid row of the batch has
the same key (the first by file checksum and record number wins). Pure functions of DataFrames.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from jobs.ingest.conform.common import REJECT_REASON

STATUS = "_status"
PUBLISHED, DUPLICATE, QUARANTINED = "published", "duplicate", "quarantined"
EXISTS = "_exists"
_RANK = "_rank"


def rank_in_batch(conformed: DataFrame, key: Sequence[str]) -> DataFrame:
    """Number the valid rows of each key in landing order (``_rank`` 1 = first)."""
    ok = F.col(REJECT_REASON).isNull()
    order = Window.partitionBy(*key, ok).orderBy("source_checksum", "row_number")
    return conformed.withColumn(_RANK, F.when(ok, F.row_number().over(order)))


def held_keys(silver: DataFrame, key: Sequence[str]) -> DataFrame:
    """The distinct keys already in silver, marked ``_exists``."""
    return silver.select(*key).distinct().withColumn(EXISTS, F.lit(True))


def classify(ranked: DataFrame, held: DataFrame, key: Sequence[str]) -> DataFrame:
    """Add ``_status``: quarantined, duplicate or published."""
    ok = F.col(REJECT_REASON).isNull()
    flagged = ranked.join(held, list(key), "left")
    status = F.when(~ok, QUARANTINED).when((F.col(_RANK) > 1) | F.col(EXISTS), DUPLICATE).otherwise(PUBLISHED)
    return flagged.withColumn(STATUS, status)
