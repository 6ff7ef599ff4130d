"""The lake adapter against real Spark and real Delta tables on disk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from pyspark.sql import SparkSession

from das.config import Settings
from das.lake import DeltaRsLake, DeltaSparkLake, Lake, build_lake
from das.spark import delta_jars_available
from schemas.model import Column, Table

pytestmark = pytest.mark.integration

EVENTS = Table(
    name="events",
    layer="silver",
    description="test table",
    columns=(
        Column("event_id", "string", False),
        Column("value", "long", True),
        Column("at", "timestamp", False),
        Column("day", "date", False),
    ),
    partition_by=("day",),
    key=("event_id",),
)
UNPARTITIONED = Table(
    name="plain",
    layer="gold",
    description="test table",
    columns=(Column("k", "string", False), Column("v", "double", True)),
)


def _rows(n: int, day: date, prefix: str = "e", value: int = 1) -> list[tuple]:
    at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    return [(f"{prefix}{i}", value, at, day) for i in range(n)]


@pytest.fixture
def lake(spark: SparkSession, tmp_path: Path) -> DeltaRsLake:
    return DeltaRsLake(spark, str(tmp_path / "lake"))


def _df(spark: SparkSession, rows: list[tuple]):  # type: ignore[no-untyped-def]
    return spark.createDataFrame(rows, EVENTS.spark_schema())


def test_append_and_read_back(spark: SparkSession, lake: DeltaRsLake) -> None:
    assert lake.read(EVENTS).count() == 0  # empty table reads as empty, not an error
    lake.append(EVENTS, _df(spark, _rows(5, date(2024, 1, 1))))
    lake.append(EVENTS, _df(spark, _rows(3, date(2024, 1, 2), prefix="f")))
    df = lake.read(EVENTS)
    assert df.count() == 8
    assert df.columns == EVENTS.column_names
    by_day = {r["day"]: r["count"] for r in df.groupBy("day").count().collect()}
    assert by_day == {date(2024, 1, 1): 5, date(2024, 1, 2): 3}


def test_independent_readers_open_the_table(spark: SparkSession, lake: DeltaRsLake) -> None:
    import duckdb
    import polars as pl
    from deltalake import DeltaTable

    lake.append(EVENTS, _df(spark, _rows(4, date(2024, 1, 1))))
    lake.append(EVENTS, _df(spark, _rows(2, date(2024, 1, 2), prefix="x")))
    path = lake.table_path(EVENTS)

    dt = DeltaTable(path)
    arrow = dt.to_pyarrow_table()
    assert arrow.num_rows == 6
    assert set(arrow.column("day").to_pylist()) == {date(2024, 1, 1), date(2024, 1, 2)}
    protocol = dt.protocol()
    assert protocol.min_reader_version == 1  # no deletion vectors, no column mapping
    assert polars_count(pl, path) == 6
    dataset = dt.to_pyarrow_dataset()  # noqa: F841  (DuckDB scans the Arrow dataset by name)
    assert duckdb.sql("select count(*) from dataset where day = DATE '2024-01-02'").fetchall() == [(2,)]


def polars_count(pl, path: str) -> int:  # type: ignore[no-untyped-def]
    return int(pl.scan_delta(path).select(pl.len()).collect().item())


def test_iter_batches_streams_current_rows_of_matching_partitions(spark: SparkSession, lake: DeltaRsLake) -> None:
    assert list(lake.iter_batches(EVENTS)) == []  # no table yet: nothing, not an error
    lake.append(EVENTS, _df(spark, _rows(5, date(2024, 1, 1))))
    lake.append(EVENTS, _df(spark, _rows(3, date(2024, 1, 2), prefix="f")))
    lake.overwrite_where(EVENTS, _df(spark, _rows(2, date(2024, 1, 2), prefix="g")), [("day", "=", date(2024, 1, 2))])
    batches = list(lake.iter_batches(EVENTS, partitions=[("day", "=", date(2024, 1, 2))], columns=["event_id"]))
    rows = [r for b in batches for r in b.to_pylist()]
    assert sorted(r["event_id"] for r in rows) == ["g0", "g1"]  # removed files are not read
    assert all(b.schema.names == ["event_id"] for b in batches)
    assert sum(b.num_rows for b in lake.iter_batches(EVENTS)) == 7


def test_overwrite_by_partition_predicate_is_idempotent(spark: SparkSession, lake: DeltaRsLake) -> None:
    lake.append(EVENTS, _df(spark, _rows(5, date(2024, 1, 1))))
    lake.append(EVENTS, _df(spark, _rows(5, date(2024, 1, 2))))
    replacement = _df(spark, _rows(3, date(2024, 1, 2), prefix="r", value=9))
    for _ in range(2):  # re-running the same replacement changes nothing
        lake.overwrite_where(EVENTS, replacement, [("day", "=", date(2024, 1, 2))])
    df = lake.read(EVENTS)
    assert df.count() == 8
    day2 = df.where("day = DATE '2024-01-02'").collect()
    assert sorted(r["event_id"] for r in day2) == ["r0", "r1", "r2"]
    assert {r["value"] for r in day2} == {9}


def test_overwrite_by_row_predicate(spark: SparkSession, lake: DeltaRsLake) -> None:
    lake.append(EVENTS, _df(spark, _rows(4, date(2024, 1, 1))))
    replacement = _df(spark, [("e0", 100, datetime(2024, 1, 1, 12, tzinfo=UTC), date(2024, 1, 1))])
    lake.overwrite_where(EVENTS, replacement, [("event_id", "=", "e0")])
    rows = {r["event_id"]: r["value"] for r in lake.read(EVENTS).collect()}
    assert rows == {"e0": 100, "e1": 1, "e2": 1, "e3": 1}


def test_unpartitioned_overwrite_and_delete(spark: SparkSession, lake: DeltaRsLake) -> None:
    df = spark.createDataFrame([("a", 1.0), ("b", 2.0)], UNPARTITIONED.spark_schema())
    lake.append(UNPARTITIONED, df)
    lake.commit(lake.stage(UNPARTITIONED, df.limit(1)), "overwrite")
    assert lake.read(UNPARTITIONED).count() == 1
    lake.append(UNPARTITIONED, df)
    assert lake.delete_where(UNPARTITIONED, [("k", "=", "a")]) == 2
    assert [r["k"] for r in lake.read(UNPARTITIONED).collect()] == ["b"]


def test_time_travel_and_history(spark: SparkSession, lake: DeltaRsLake) -> None:
    lake.append(EVENTS, _df(spark, _rows(2, date(2024, 1, 1))))
    v0 = lake.version(EVENTS)
    time.sleep(1.1)
    between = datetime.now(UTC)
    time.sleep(1.1)
    lake.append(EVENTS, _df(spark, _rows(3, date(2024, 1, 2))))
    assert lake.read(EVENTS, version=v0).count() == 2
    assert lake.read(EVENTS).count() == 5
    assert lake.read(EVENTS, as_of=between).count() == 2
    operations = [h["operation"] for h in lake.history(EVENTS)]
    assert len(operations) == lake.version(EVENTS) + 1  # create + two writes


def test_optimize_and_vacuum(spark: SparkSession, lake: DeltaRsLake) -> None:
    for i in range(3):
        lake.append(EVENTS, _df(spark, _rows(2, date(2024, 1, 1), prefix=f"p{i}")))
    files_before = len(lake._delta_table(EVENTS).file_uris())
    metrics = lake.optimize(EVENTS)
    assert metrics["numFilesRemoved"] >= 2
    assert len(lake._delta_table(EVENTS).file_uris()) < files_before
    removed = lake.vacuum(EVENTS, retention_hours=0)
    assert len(removed) >= files_before  # the compacted-away files are gone from disk
    assert lake.read(EVENTS).count() == 6


def test_write_audit_publish_abort_leaves_table_unchanged(spark: SparkSession, lake: DeltaRsLake) -> None:
    lake.append(EVENTS, _df(spark, _rows(2, date(2024, 1, 1))))
    version = lake.version(EVENTS)
    staged = lake.stage(EVENTS, _df(spark, _rows(5, date(2024, 1, 3), prefix="s")))
    assert staged.read(spark).count() == 5  # the audit step sees the written files
    assert lake.read(EVENTS).count() == 2  # readers do not
    lake.abort(staged)
    assert lake.version(EVENTS) == version
    assert not Path(staged.path).exists()


def test_killed_write_leaves_no_half_committed_table(spark: SparkSession, tmp_path: Path) -> None:
    """A writer process killed with SIGKILL mid-write: readers see the last commit; the next run completes."""
    lake_root = tmp_path / "lake"
    lake = DeltaRsLake(spark, str(lake_root))
    lake.append(EVENTS, _df(spark, _rows(3, date(2024, 1, 1))))
    script = textwrap.dedent(
        f"""
        import sys
        from datetime import date
        sys.path.insert(0, {str(Path(__file__).parents[3])!r})
        from tests.integration.das.test_lake import EVENTS, _rows
        from das.config import Settings
        from das.lake import DeltaRsLake
        from das.spark import build_spark
        spark = build_spark(Settings(home={str(tmp_path / "child")!r}, spark_driver_memory='1g'))
        lake = DeltaRsLake(spark, {str(lake_root)!r})
        rows = _rows(200000, date(2024, 1, 2), prefix="k")
        df = spark.createDataFrame(rows, EVENTS.spark_schema()).repartition(8)
        print("writing", flush=True)
        while True:
            lake.append(EVENTS, df)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        cwd=str(tmp_path),
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == b"writing"
        staging = lake_root / "silver" / "events" / "_staging"
        deadline = time.time() + 120
        while time.time() < deadline and not (staging.exists() and any(staging.rglob("*.parquet"))):
            time.sleep(0.05)
        assert staging.exists(), "the child never started writing files"
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    df = lake.read(EVENTS)
    count = df.count()
    assert count == 3 or (count - 3) % 200000 == 0  # only whole commits are visible
    assert df.select("event_id").distinct().count() == min(count, 3 + 200000)
    lake.append(EVENTS, _df(spark, _rows(2, date(2024, 1, 4), prefix="z")))  # the next run completes
    assert lake.read(EVENTS).count() == count + 2
    lake.vacuum(EVENTS, retention_hours=0)  # the killed writer's files are younger than a day: kept
    assert any((lake_root / "silver" / "events" / "_staging").rglob("*.parquet"))
    lake.vacuum(EVENTS, retention_hours=0, staging_max_age_hours=0)
    assert not any((lake_root / "silver" / "events" / "_staging").rglob("*.parquet"))


def test_vacuum_keeps_a_staging_folder_a_running_write_is_filling(spark: SparkSession, lake: DeltaRsLake) -> None:
    lake.append(EVENTS, _df(spark, _rows(1, date(2024, 2, 1), prefix="v")))
    staged = lake.stage(EVENTS, _df(spark, _rows(3, date(2024, 2, 2), prefix="w")))
    lake.vacuum(EVENTS, retention_hours=0)
    assert staged.read(spark).count() == 3  # still there: the writer can commit
    lake.commit(staged)
    assert lake.read(EVENTS).where("event_id like 'w%'").count() == 3


def test_build_lake_chooses_delta_rs_without_jars(spark: SparkSession, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    assert isinstance(build_lake(spark, settings), DeltaRsLake)


@pytest.mark.skipif(
    not delta_jars_available(Settings()),
    reason="delta-spark jars are not on this machine (Maven Central is unreachable); "
    "set DAS_DELTA_JARS to local delta-spark_2.13 and delta-storage jars to run the delta-spark backend tests",
)
def test_delta_spark_backend_roundtrip(spark: SparkSession, tmp_path: Path) -> None:
    lake: Lake = DeltaSparkLake(spark, str(tmp_path / "lake"))
    lake.append(EVENTS, _df(spark, _rows(3, date(2024, 1, 1))))
    lake.overwrite_where(EVENTS, _df(spark, _rows(1, date(2024, 1, 1))), [("day", "=", date(2024, 1, 1))])
    assert lake.read(EVENTS).count() == 1
    from deltalake import DeltaTable

    assert DeltaTable(lake.table_path(EVENTS)).to_pyarrow_table().num_rows == 1


def test_merge_upserts_by_key_and_leaves_the_other_files_alone(spark: SparkSession, lake: DeltaRsLake) -> None:
    lake.append(EVENTS, _df(spark, _rows(3, date(2024, 3, 1), prefix="m")))
    lake.append(EVENTS, _df(spark, _rows(2, date(2024, 3, 2), prefix="n")))
    untouched = {p for p in Path(lake.table_path(EVENTS)).rglob("*.parquet") if "2024-03-02" in str(p)}
    rows = _df(spark, _rows(1, date(2024, 3, 1), prefix="m")).toArrow()
    changed = _df(spark, _rows(1, date(2024, 3, 5), prefix="z")).toArrow()
    result = lake.merge(EVENTS, pa.concat_tables([rows, changed]))
    assert (result["num_target_rows_updated"], result["num_target_rows_inserted"]) == (1, 1)
    assert lake.read(EVENTS).where("event_id like 'm%' or event_id like 'n%' or event_id like 'z%'").count() == 6
    assert untouched <= {p for p in Path(lake.table_path(EVENTS)).rglob("*.parquet")}  # not rewritten
