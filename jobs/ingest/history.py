"""Slowly changing dimensions (type 2): merge a batch of entity records into their version history."""

from __future__ import annotations

from datetime import UTC, datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.ingest.classify import EXISTS
from schemas.model import Table

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def unchanged_keys(batch: DataFrame, current: DataFrame, entity_key: tuple[str, ...], hash_column: str) -> DataFrame:
    """Entities whose current version has the same attribute hash as a batch record: those records are duplicates."""
    key = [*entity_key, hash_column]
    return (
        batch.select(*key)
        .join(current.select(*key), key)
        .select(*entity_key)
        .distinct()
        .withColumn(EXISTS, F.lit(True))
    )


def merge_history(
    history: DataFrame,
    batch: DataFrame,
    now: datetime,
    table: Table,
    entity_key: tuple[str, ...],
    *,
    opened_by: str | None = None,
    closed_by: str | None = None,
    valid_from: str = "valid_from",
    valid_to: str = "valid_to",
    is_current: str = "is_current",
) -> DataFrame:
    """The whole new history: a changed entity's current version closes at ``now`` and a new one opens then.

    An entity seen for the first time is valid from ``opened_by`` (e.g. its installation) or always, so that
    earlier events still match a version; ``closed_by`` (e.g. removal) ends a new version.
    """
    now_ts = F.lit(now).cast("timestamp")
    key = list(entity_key)
    changed = batch.select(*key).distinct().withColumn("_changed", F.lit(True))
    known = history.select(*key).distinct().withColumn("_known", F.lit(True))
    closed = (
        history.join(changed, key, "left")
        .withColumn(valid_to, F.when(F.col("_changed") & F.col(is_current), now_ts).otherwise(F.col(valid_to)))
        .withColumn(is_current, F.col(is_current) & F.col("_changed").isNull())
        .drop("_changed")
    )
    first_valid = F.coalesce(F.col(opened_by), F.lit(EPOCH).cast("timestamp")) if opened_by else F.lit(EPOCH)
    opened = (
        batch.join(known, key, "left")
        .withColumn(valid_from, F.when(F.col("_known"), now_ts).otherwise(first_valid.cast("timestamp")))
        .withColumn(valid_to, F.col(closed_by) if closed_by else F.lit(None).cast("timestamp"))
        .withColumn(is_current, F.lit(True))
    )
    columns = table.column_names
    return closed.select(*columns).unionByName(opened.select(*columns))
