"""Slowly changing dimensions (type 2): merge a batch of entity records into their version history."""

from __future__ import annotations

from datetime import UTC, datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from schemas.model import Table

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


def merge_snapshot(
    held: DataFrame,
    batch: DataFrame,
    present: DataFrame,
    now: datetime,
    table: Table,
    key: tuple[str, ...],
    scope: str,
    valid_to: str = "valid_to",
) -> tuple[DataFrame, DataFrame]:
    """A batch that is the full list for each ``scope`` value it holds: (the new table, the withdrawn rows).

    ``batch`` holds the rows to publish (new, or updated versions that replace the held row with their key);
    ``present`` the keys of every record the batch lists. Held rows of a listed scope that the batch lacks are
    withdrawn: their ``valid_to`` becomes ``now`` (unless they ended earlier). Other scopes are untouched.
    """
    now_ts = F.lit(now).cast("timestamp")
    keys = list(key)
    scopes = present.select(scope).distinct().withColumn("_listed_scope", F.lit(True))
    listed = present.select(*keys).distinct().withColumn("_listed", F.lit(True))
    replaced = batch.select(*keys).distinct().withColumn("_replaced", F.lit(True))
    kept = (
        held.join(replaced, keys, "left_anti")
        .join(F.broadcast(scopes), scope, "left")
        .join(listed, keys, "left")
        .withColumn(
            "_withdrawn",
            F.col("_listed_scope").isNotNull()
            & F.col("_listed").isNull()
            & (F.col(valid_to).isNull() | (F.col(valid_to) > now_ts)),
        )
        .withColumn(valid_to, F.when(F.col("_withdrawn"), now_ts).otherwise(F.col(valid_to)))
    )
    columns = table.column_names
    withdrawn = kept.where("_withdrawn").select(*columns)
    return kept.select(*columns).unionByName(batch.select(*columns)), withdrawn
