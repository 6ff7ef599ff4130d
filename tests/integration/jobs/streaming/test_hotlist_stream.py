"""The streaming hotlist path: landed ANPR rows -> hotlist flags in PostGIS, on a static batch and a real stream."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from das.config import Settings
from das.credentials import flag_id_salt, pseudonym_key
from das.lake import DeltaRsLake
from jobs.detectors.common import flag_id_value
from jobs.ingest.pipeline import ingest_source
from jobs.sources import source_spec
from jobs.streaming.hotlist_stream import LANDING_FILE, LANDING_SCHEMA, process_batch, start_hotlist_stream
from schemas.tables import SILVER_CAMERAS, SILVER_HOTLIST
from tests.postgres_fixtures import elsewhere, own_database

pytestmark = pytest.mark.integration

TEST_DATABASE = "das_test_hotlist_stream"
HEADER = ("read_id", "camera_id", "plate", "read_at", "confidence", "country", "direction", "lane", "image_uri")
CAMERAS_CSV = "camera_id,longitude,latitude,name\nCAM1,-0.1276,51.5072,Trafalgar\nCAM2,-0.0877,51.5079,London Bridge\n"
BATCH_SCHEMA = T.StructType([*LANDING_SCHEMA.fields, T.StructField(LANDING_FILE, T.StringType())])
HOTLIST_CSV = "plate,list_name,reason,priority\nAB12 CDE,stolen,stolen vehicle,high\nST12 EAM,stolen,stream test,high\n"


@pytest.fixture(scope="module")
def db(pg_settings: Settings) -> Iterator[Settings]:
    """A fresh, migrated database of this module's own."""
    with own_database(pg_settings, TEST_DATABASE, load_boundaries=False) as settings:
        yield settings


@pytest.fixture(scope="module")
def silver(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory, db: Settings) -> dict[str, Any]:
    """A temp lake whose silver cameras and hotlist come from the real ingest of tiny CSVs."""
    home = tmp_path_factory.mktemp("stream_home")
    settings = elsewhere(db, home)
    lake = DeltaRsLake(spark, str(home / "lake"))
    for source, content in (("cameras", CAMERAS_CSV), ("hotlist", HOTLIST_CSV)):
        path = home / "seed" / source / f"{source}.csv"
        path.parent.mkdir(parents=True)
        path.write_text(content)
        result = ingest_source(spark, lake, settings, source_spec(source), path, now=datetime.now(timezone.utc))
        assert result.total("rows_published") == 2, source
    return {"settings": settings, "lake": lake, "home": home}


def _rows(db: Settings, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    conn = psycopg2.connect(db.libpq_dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())
    finally:
        conn.close()


def _batch(spark: SparkSession, rows: list[tuple[str | None, ...]], file: str) -> DataFrame:
    """Rows as the stream sees them: the header row first, every field a string, the landing file attached."""
    padded = [(*row, *([None] * (len(HEADER) - len(row))), file) for row in [HEADER, *rows]]
    return spark.createDataFrame(padded, BATCH_SCHEMA)


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_batch_with_one_hotlisted_read_publishes_one_flag_with_the_batch_detectors_id(
    spark: SparkSession, db: Settings, silver: dict[str, Any]
) -> None:
    settings, lake = silver["settings"], silver["lake"]
    now = datetime.now(timezone.utc).replace(microsecond=0)
    read_at = now - timedelta(minutes=5)
    batch = _batch(
        spark,
        [
            ("B1-R1", "CAM1", "ab12 cde", _iso(read_at), "0.95", "GB"),
            ("B1-R2", "CAM2", "ZZ99 ZZZ", _iso(read_at), "0.95", "GB"),
        ],
        "file:///landing/anpr/b1.csv",
    )
    cameras, hotlist = lake.read(SILVER_CAMERAS), lake.read(SILVER_HOTLIST)

    assert process_batch(batch, settings, cameras, hotlist, now=now) == 1

    day = datetime(read_at.year, read_at.month, read_at.day, tzinfo=timezone.utc)
    salt = flag_id_salt(pseudonym_key(settings))
    expected_id = flag_id_value("hotlist_hit", "AB12CDE", day, day + timedelta(days=1), salt)
    assert expected_id != flag_id_value("hotlist_hit", "AB12CDE", day, day + timedelta(days=1))  # salted
    flags = _rows(db, "SELECT flag_id, flag_type, subject, status FROM das.flags WHERE subject = 'AB12CDE'")
    assert flags == [(expected_id, "hotlist_hit", "AB12CDE", "new")]
    assert _rows(db, "SELECT count(*) FROM das.flags WHERE subject = 'ZZ99ZZZ'") == [(0,)]
    evidence = _rows(db, "SELECT ref_id, camera_id FROM das.flag_evidence WHERE flag_id = %s", (expected_id,))
    assert evidence == [("B1-R1", "CAM1")]

    # An investigator triages the flag; a later hit the same day keeps the status and the earlier evidence.
    conn = psycopg2.connect(db.libpq_dsn)
    with conn, conn.cursor() as cur:
        cur.execute("UPDATE das.flags SET status = 'acknowledged' WHERE flag_id = %s", (expected_id,))
    conn.close()
    later = _batch(
        spark, [("B2-R1", "CAM2", "AB12CDE", _iso(read_at + timedelta(minutes=1)))], "file:///landing/anpr/b2.csv"
    )
    assert process_batch(later, settings, cameras, hotlist, now=now) == 1
    assert _rows(db, "SELECT status FROM das.flags WHERE subject = 'AB12CDE'") == [("acknowledged",)]
    evidence = _rows(db, "SELECT ref_id FROM das.flag_evidence WHERE flag_id = %s ORDER BY ref_id", (expected_id,))
    assert evidence == [("B1-R1",), ("B2-R1",)]


def test_a_file_in_another_column_order_is_left_to_the_micro_batch(
    spark: SparkSession, db: Settings, silver: dict[str, Any]
) -> None:
    settings, lake = silver["settings"], silver["lake"]
    now = datetime.now(timezone.utc)
    other_layout = ("camera_id", "read_id", "plate", "read_at")
    rows = [other_layout, ("CAM1", "B3-R1", "AB12CDE", _iso(now - timedelta(minutes=2)))]
    batch = spark.createDataFrame(
        [(*r, *([None] * (len(HEADER) - len(r))), "file:///landing/anpr/b3.csv") for r in rows],
        BATCH_SCHEMA,
    )
    assert process_batch(batch, settings, lake.read(SILVER_CAMERAS), lake.read(SILVER_HOTLIST), now=now) == 0


def test_the_streaming_query_turns_a_landed_file_into_a_flag_row(
    spark: SparkSession, db: Settings, silver: dict[str, Any]
) -> None:
    settings, lake, home = silver["settings"], silver["lake"], silver["home"]
    landing = home / "landing"
    read_at = datetime.now(timezone.utc) - timedelta(minutes=1)
    query = start_hotlist_stream(
        spark, lake, settings, landing=landing, trigger_seconds=0.5, checkpoint=home / "checkpoint"
    )
    try:
        _land_atomically(
            landing / "anpr" / "reads-0001.csv",
            ",".join(HEADER) + f"\nS-R1,CAM1,ST12EAM,{_iso(read_at)},0.9,GB,,,\n",
        )
        deadline = time.monotonic() + 60
        found: list[tuple[Any, ...]] = []
        while not found and time.monotonic() < deadline:
            assert query.exception() is None, query.exception()
            found = _rows(db, "SELECT flag_type FROM das.flags WHERE subject = 'ST12EAM'")
            time.sleep(0.2)
        assert found == [("hotlist_hit",)], "no flag row within 60 s of landing the file"
    finally:
        query.stop()


def _land_atomically(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(content)
    os.replace(tmp, path)
