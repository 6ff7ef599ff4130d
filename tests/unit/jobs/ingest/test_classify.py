"""Classification: quarantined, duplicate (held in silver, or a later copy in the batch) or published."""

from __future__ import annotations

from pyspark.testing import assertDataFrameEqual

from jobs.ingest.classify import STATUS, classify, held_keys, rank_in_batch
from jobs.ingest.conform.common import REJECT_REASON

SCHEMA = f"read_id string, source_checksum string, row_number long, {REJECT_REASON} string"


def test_first_valid_copy_wins_held_keys_are_duplicates_and_rejects_stay_quarantined(spark) -> None:  # type: ignore[no-untyped-def]
    conformed = spark.createDataFrame(
        [
            ("a", "f2", 1, None),  # a second file repeats a...
            ("a", "f1", 7, None),  # ...the first file (by checksum) wins
            ("a", "f1", 9, "unknown_camera"),  # a reject never takes part in dedupe
            ("b", "f1", 1, None),  # b is already in silver
            ("c", "f1", 2, None),
        ],
        SCHEMA,
    )
    held = held_keys(spark.createDataFrame([("b",), ("b",)], "read_id string"), ["read_id"])
    out = classify(rank_in_batch(conformed, ["read_id"]), held, ["read_id"]).select("read_id", "row_number", STATUS)
    expected = spark.createDataFrame(
        [
            ("a", 1, "duplicate"),
            ("a", 7, "published"),
            ("a", 9, "quarantined"),
            ("b", 1, "duplicate"),
            ("c", 2, "published"),
        ],
        out.schema,
    )
    assertDataFrameEqual(out, expected)


def test_composite_keys(spark) -> None:  # type: ignore[no-untyped-def]
    conformed = spark.createDataFrame(
        [("k", "2024", "f", 1, None), ("k", "2025", "f", 2, None), ("k", "2024", "f", 3, None)],
        f"id string, year string, source_checksum string, row_number long, {REJECT_REASON} string",
    )
    key = ["id", "year"]
    out = classify(rank_in_batch(conformed, key), held_keys(conformed.limit(0), key), key)
    assert sorted(r[STATUS] for r in out.collect()) == ["duplicate", "published", "published"]
