"""SCD type 2 merges: a changed entity closes its version and opens a new one; an unchanged one is a duplicate."""

from __future__ import annotations

from datetime import datetime, timezone

from jobs.ingest.history import EPOCH, merge_history
from schemas.tables import SILVER_CAMERAS
from tests.unit.jobs.detectors.builders import camera, silver_frame

UTC = timezone.utc
NOW = datetime(2024, 4, 2, 12, 0, tzinfo=UTC)


def merged(spark, history, batch):  # type: ignore[no-untyped-def]
    frame = merge_history(
        silver_frame(spark, SILVER_CAMERAS, history),
        silver_frame(spark, SILVER_CAMERAS, batch),
        NOW,
        SILVER_CAMERAS,
        ("camera_id",),
        opened_by="installed_at",
        closed_by="removed_at",
    )
    return sorted(
        (r["camera_id"], r["attributes_hash"], r["valid_from"], r["valid_to"], r["is_current"]) for r in frame.collect()
    )


def test_a_changed_camera_closes_its_version_now_and_a_new_one_opens_now(spark) -> None:  # type: ignore[no-untyped-def]
    old = camera("C1", attributes_hash="h1", valid_from=datetime(2020, 1, 1, tzinfo=UTC))
    rows = merged(spark, [old], [camera("C1", 100, 0, attributes_hash="h2")])
    naive_now = NOW.replace(tzinfo=None)
    assert rows == [
        ("C1", "h1", datetime(2020, 1, 1), naive_now, False),
        ("C1", "h2", naive_now, None, True),
    ]


def test_a_new_camera_is_valid_from_its_installation_or_always(spark) -> None:  # type: ignore[no-untyped-def]
    installed = datetime(2023, 6, 1, tzinfo=UTC)
    removed = datetime(2024, 6, 1, tzinfo=UTC)
    rows = merged(
        spark,
        [camera("OTHER", attributes_hash="x")],
        [camera("C2", installed_at=installed, removed_at=removed), camera("C3")],
    )
    by_id = {r[0]: r for r in rows}
    assert by_id["C2"][2:] == (datetime(2023, 6, 1), datetime(2024, 6, 1), True)
    assert by_id["C3"][2] == EPOCH.replace(tzinfo=None)
    assert by_id["OTHER"][3:] == (None, True)  # untouched


def test_a_snapshot_withdraws_the_entries_it_no_longer_lists_in_its_own_lists_only(spark) -> None:  # type: ignore[no-untyped-def]
    from jobs.ingest.history import merge_snapshot

    schema = "hotlist_entry_id string, list_name string, valid_to timestamp"
    held = spark.createDataFrame(
        [("keep", "stolen", None), ("gone", "stolen", None), ("other", "wanted", None)], schema
    )
    present = spark.createDataFrame(
        [("stolen", "keep"), ("stolen", "new")], "list_name string, hotlist_entry_id string"
    )
    batch = spark.createDataFrame([("new", "stolen", None)], schema)
    from schemas.model import Column, Table

    table = Table(
        "h",
        "silver",
        "",
        (Column("hotlist_entry_id", "string"), Column("list_name", "string"), Column("valid_to", "timestamp")),
    )
    merged, withdrawn = merge_snapshot(held, batch, present, NOW, table, ("hotlist_entry_id",), "list_name")
    rows = {r["hotlist_entry_id"]: r["valid_to"] for r in merged.collect()}
    assert rows == {"keep": None, "gone": NOW.replace(tzinfo=None), "other": None, "new": None}
    assert [r["hotlist_entry_id"] for r in withdrawn.collect()] == ["gone"]
