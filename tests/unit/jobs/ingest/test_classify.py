"""Classification: duplicates are identical records, the same key with other content is a conflict (or, where
the source keeps versions, an update), and rejects stay quarantined."""

from __future__ import annotations

import pytest
from pyspark.testing import assertDataFrameEqual

from jobs.ingest.classify import STATUS, UPDATED, classify, held_content
from jobs.ingest.conform.common import REJECT_DETAIL, REJECT_REASON

SCHEMA = (
    f"id string, value string, source_checksum string, row_number long, {REJECT_REASON} string, {REJECT_DETAIL} string"
)
CONTENT = ("id", "value")


def run(spark, rows, held=(), *, corrections=False, winner=()):  # type: ignore[no-untyped-def]
    conformed = spark.createDataFrame(rows, SCHEMA)
    held_rows = spark.createDataFrame(list(held), "id string, value string")
    out = classify(
        conformed,
        held_content(held_rows, ["id"], CONTENT),
        ["id"],
        content_columns=CONTENT,
        corrections_allowed=corrections,
        winner=winner,
    )
    quarantined = out.where(f"{STATUS} = 'quarantined'")
    assert quarantined.where(f"{REJECT_DETAIL} IS NULL").count() == 0  # every reject says why
    return out.select("id", "value", "row_number", STATUS, REJECT_REASON, UPDATED)


def expect(spark, rows):  # type: ignore[no-untyped-def]
    return spark.createDataFrame(
        rows, f"id string, value string, row_number long, {STATUS} string, {REJECT_REASON} string, {UPDATED} boolean"
    )


def test_identical_copies_are_duplicates_the_first_in_landing_order_wins_and_rejects_stay(spark) -> None:  # type: ignore[no-untyped-def]
    rows = [
        ("a", "x", "f2", 1, None, None),  # a second file repeats a...
        ("a", "x", "f1", 7, None, None),  # ...the first file (by checksum) wins
        ("a", "x", "f1", 9, "unknown_camera", "nope"),  # a reject never takes part
        ("b", "y", "f1", 1, None, None),  # b is held with the same content
        ("c", "z", "f1", 2, None, None),
    ]
    out = run(spark, rows, held=[("b", "y")])
    assertDataFrameEqual(
        out,
        expect(
            spark,
            [
                ("a", "x", 1, "duplicate", None, False),
                ("a", "x", 7, "published", None, False),
                ("a", "x", 9, "quarantined", "unknown_camera", False),
                ("b", "y", 1, "duplicate", None, False),
                ("c", "z", 2, "published", None, False),
            ],
        ),
    )


def test_the_same_key_with_other_content_in_one_batch_quarantines_every_version(spark) -> None:  # type: ignore[no-untyped-def]
    rows = [("k", "v1", "f", 1, None, None), ("k", "v2", "f", 2, None, None), ("k", "v1", "f", 3, None, None)]
    out = run(spark, rows)
    assert sorted((r["row_number"], r[STATUS], r[REJECT_REASON]) for r in out.collect()) == [
        (1, "quarantined", "conflicting_key"),
        (2, "quarantined", "conflicting_key"),
        (3, "quarantined", "conflicting_key"),
    ]


def test_a_declared_winner_publishes_the_latest_version_and_supersedes_the_others(spark) -> None:  # type: ignore[no-untyped-def]
    rows = [
        ("k", "2024-01", "f", 1, None, None),
        ("k", "2024-03", "f", 2, None, None),
        ("k", "2024-03", "f", 3, None, None),
    ]
    out = run(spark, rows, winner=("value",))
    assert sorted((r["row_number"], r[STATUS], r[REJECT_REASON]) for r in out.collect()) == [
        (1, "quarantined", "superseded"),
        (2, "published", None),
        (3, "duplicate", None),
    ]


@pytest.mark.parametrize(
    ("corrections", "status", "reason", "updated"),
    [(False, "quarantined", "conflicting_key", False), (True, "published", None, True)],
)
def test_a_held_key_with_new_content_conflicts_or_updates(spark, corrections, status, reason, updated) -> None:  # type: ignore[no-untyped-def]
    out = run(spark, [("k", "new", "f", 1, None, None)], held=[("k", "old")], corrections=corrections)
    assertDataFrameEqual(out, expect(spark, [("k", "new", 1, status, reason, updated)]))
