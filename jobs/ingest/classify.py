"""Classify conformed rows: quarantined, duplicate, or published (and, among published, updated).

Identity is the dedupe key; sameness is the content, every contract field of the record (``content_hash``):
- a **duplicate** is identical to a row already held, or to an earlier row of the batch with the same key;
- rows of the batch with the same key and **different content** conflict: every version is quarantined as
  ``conflicting_key``, unless the source says which one wins (``winner``: the latest by those columns), in which
  case the others are quarantined as ``superseded``;
- a key already held with different content is a **correction**: for sources that keep history (SCD2) or
  snapshots it is published as a new version and counted as ``updated``; for append-only event sources (a read
  cannot change) it is quarantined as ``conflicting_key``.
Pure functions of DataFrames.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.ingest.conform.common import REJECT_DETAIL, REJECT_REASON

STATUS = "_status"
UPDATED = "_updated"
CONTENT = "_content"
PUBLISHED, DUPLICATE, QUARANTINED = "published", "duplicate", "quarantined"
_HELD = "_held_content"


def content_hash(columns: Sequence[str]) -> Column:
    """The record's content: a hash of every contract field (nulls and types included)."""
    return F.sha2(F.to_json(F.struct(*[F.col(c) for c in columns])), 256)


def classify(
    conformed: DataFrame,
    held: DataFrame,
    key: Sequence[str],
    *,
    content_columns: Sequence[str],
    corrections_allowed: bool,
    winner: Sequence[str] = (),
) -> DataFrame:
    """Add ``_status`` (published | duplicate | quarantined), ``_updated``, and conflict reasons.

    ``held``: the key columns and ``content_hash`` of the rows already held (current versions for SCD2).
    """
    key = list(key)
    ok = F.col(REJECT_REASON).isNull()
    rows = conformed.withColumn(CONTENT, content_hash(content_columns))
    by_key = Window.partitionBy(*key, ok)
    landing_order = [F.col("source_checksum"), F.col("row_number")]
    order = [*[F.col(c).desc_nulls_last() for c in winner], *landing_order]
    rows = (
        rows.withColumn("_versions", F.size(F.collect_set(CONTENT).over(by_key)))
        .withColumn("_first", F.first(CONTENT).over(by_key.orderBy(*order)))
        .withColumn("_rank", F.row_number().over(Window.partitionBy(*key, ok, CONTENT).orderBy(*landing_order)))
    )
    held_content = held.select(*key, F.col("content_hash").alias(_HELD)).dropDuplicates(key)
    rows = rows.join(held_content, key, "left")
    is_winner_content = F.col(CONTENT) == F.col("_first")
    conflict_in_batch = ok & (F.col("_versions") > 1)
    if winner:  # the winning content is published; only the other versions conflict
        conflict_in_batch = conflict_in_batch & ~is_winner_content
    changed = F.col(_HELD).isNotNull() & (F.col(_HELD) != F.col(CONTENT))
    conflict_with_held = ok & ~conflict_in_batch & changed & F.lit(not corrections_allowed)
    reason = (
        F.when(~ok, F.col(REJECT_REASON))
        .when(conflict_in_batch, F.lit("superseded" if winner else "conflicting_key"))
        .when(conflict_with_held, F.lit("conflicting_key"))
    )
    key_text = F.concat_ws(", ", *[F.format_string(f"{c}=%s", F.col(c)) for c in key])
    detail = (
        F.when(~ok, F.col(REJECT_DETAIL))
        .when(
            conflict_in_batch & F.lit(bool(winner)),
            F.concat(key_text, F.lit(f": a later version in the batch wins (latest {', '.join(winner)})")),
        )
        .when(
            conflict_in_batch,
            F.concat(key_text, F.lit(": the batch has "), F.col("_versions").cast("string"), F.lit(" versions")),
        )
        .when(conflict_with_held, F.concat(key_text, F.lit(": already held with other content")))
    )
    duplicate = (F.col("_rank") > 1) | (F.col(_HELD) == F.col(CONTENT))
    # Reason and detail first, from the conform reasons; only then do they replace those columns.
    rows = rows.withColumn("_reason", reason).withColumn("_detail", detail)
    status = F.when(F.col("_reason").isNotNull(), QUARANTINED).when(duplicate, DUPLICATE).otherwise(PUBLISHED)
    return (
        rows.withColumn(STATUS, status)
        .withColumn(UPDATED, (F.col(STATUS) == PUBLISHED) & changed)
        .withColumn(REJECT_REASON, F.col("_reason"))
        .withColumn(REJECT_DETAIL, F.col("_detail"))
        .drop("_versions", "_first", "_rank", _HELD, "_reason", "_detail")
    )


def held_content(silver: DataFrame, key: Sequence[str], content_columns: Sequence[str]) -> DataFrame:
    """Key and content hash of held rows (for SCD2, pass the current versions)."""
    return silver.select(*key, content_hash(content_columns).alias("content_hash"))
