"""PostGIS serving layer against a real local PostGIS: migrations, drift, boundaries, publishing, analyst SQL.

The module works in its own database (created fresh, dropped at the end) on the shared test cluster.
Expected positions are computed with pyproj here, independently of PostGIS.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import psycopg2
import pytest
from pyproj import Transformer

from das import postgis
from das.config import Settings
from schemas.model import Column
from schemas.postgis import METADATA, build_table
from schemas.tables import GOLD_FLAGS, INGEST_RUNS, SILVER_ANPR_READS, SILVER_CAMERAS, SILVER_CRIMES
from tests.postgres_fixtures import autocommit, own_database, query

pytestmark = pytest.mark.integration

TEST_DATABASE = "das_postgis_test"
TO_BNG = Transformer.from_crs(4326, 27700, always_xy=True)
TO_WGS84 = Transformer.from_crs(27700, 4326, always_xy=True)

# A point near Trafalgar Square (Westminster) and metric offsets from it.
ORIGIN_LON, ORIGIN_LAT = -0.1280, 51.5080
ORIGIN_E, ORIGIN_N = TO_BNG.transform(ORIGIN_LON, ORIGIN_LAT)
DAY1 = date(2024, 3, 4)  # a Monday
DAY2 = date(2024, 3, 5)
# The analyst scene uses days of its own, so test order does not matter.
S1 = date(2024, 3, 18)  # a Monday
S2 = date(2024, 3, 19)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def offset(east_m: float, north_m: float) -> dict[str, float]:
    """Coordinates of the point east_m/north_m metres from the origin, in both systems."""
    e, n = ORIGIN_E + east_m, ORIGIN_N + north_m
    lon, lat = TO_WGS84.transform(e, n)
    return {"longitude": lon, "latitude": lat, "easting": e, "northing": n}


@pytest.fixture(scope="module")
def db(pg_settings: Settings) -> Iterator[Settings]:
    """Settings for a fresh, migrated database of this module's own."""
    with own_database(pg_settings, TEST_DATABASE) as settings:
        yield settings


@pytest.fixture
def conn(db: Settings) -> Iterator[Any]:
    with autocommit(db) as connection:
        yield connection


def scalar(conn: Any, sql: str, params: Any = None) -> Any:
    return query(conn, sql, params)[0][0]


# ------------------------------------------------------------------------------------------------
# Builders: complete rows as silver would publish them (lake-only lineage included, it is dropped)


def camera_row(camera_id: str, east_m: float, north_m: float, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "camera_id": camera_id,
        "name": f"camera {camera_id}",
        "camera_type": "anpr",
        **offset(east_m, north_m),
        "h3_cell": None,
        "bearing_deg": None,
        "fov_deg": None,
        "range_m": None,
        "owner": "met",
        "status": "active",
        "available": True,
        "image_url": None,
        "video_url": None,
        "installed_at": None,
        "removed_at": None,
        "valid_from": at(date(2024, 1, 1), 0),
        "valid_to": None,
        "is_current": True,
        "attributes_hash": f"h-{camera_id}",
        "source_file": "cams.csv",
        "source_checksum": "c",
        "row_number": 1,
        "ingest_run_id": "run-c",
        "ingested_at": at(DAY1, 0),
    }
    row.update(overrides)
    return row


def read_row(
    read_id: str, camera_id: str, read_at: datetime, east_m: float, north_m: float, plate: str = "AB12CDE"
) -> dict[str, Any]:
    return {
        "read_id": read_id,
        "camera_id": camera_id,
        "plate": plate,
        "plate_raw": plate,
        "read_at": read_at,
        "confidence": 0.9,
        "country": "GB",
        "direction": None,
        "lane": None,
        "image_uri": None,
        **offset(east_m, north_m),
        "h3_cell": None,
        "read_date": read_at.date(),
        "source_file": "reads.csv",
        "source_checksum": "r",
        "row_number": 1,
        "ingest_run_id": "run-r",
        "ingested_at": read_at,
    }


def crime_row(crime_id: str, occurred: datetime, east_m: float, north_m: float, **overrides: Any) -> dict:  # type: ignore[type-arg]
    row: dict[str, Any] = {
        "crime_id": crime_id,
        "crime_type": "burglary",
        "crime_type_original": "Burglary",
        "occurred_from": occurred,
        "occurred_to": occurred + timedelta(hours=1),
        "time_precision": "exact",
        **offset(east_m, north_m),
        "h3_cell": "89195da49b7ffff",
        "location_precision": "exact",
        "location": "On or near X",
        "lsoa_code": None,
        "lsoa_name": None,
        "outcome": None,
        "reported_by": "Metropolitan Police Service",
        "source_format": "incident_csv",
        "crime_month": occurred.strftime("%Y-%m"),
        "source_file": "crimes.csv",
        "source_checksum": "k",
        "row_number": 1,
        "ingest_run_id": "run-k",
        "ingested_at": occurred,
    }
    row.update(overrides)
    return row


def flag_row(flag_id: str, score: float, evidence_refs: list[str], status: str = "new") -> dict[str, Any]:
    return {
        "flag_id": flag_id,
        "flag_type": "hotlist_hit",
        "score": score,
        "subject": "AB12CDE",
        "related": ["r1", 'odd "ref", {x}'],
        "summary": f"flag {flag_id}",
        "window_start": at(DAY1, 8),
        "window_end": at(DAY1, 9),
        "longitude": ORIGIN_LON,
        "latitude": ORIGIN_LAT,
        "evidence": [
            {
                "kind": "read",
                "ref_id": ref,
                "camera_id": "C1",
                "plate": "AB12CDE",
                "at": at(DAY1, 8),
                "longitude": ORIGIN_LON,
                "latitude": ORIGIN_LAT,
                "detail": f"read {ref}",
            }
            for ref in evidence_refs
        ],
        "status": status,
        "detected_at": at(DAY1, 10),
        "detector_version": "hotlist_hit/1",
    }


# ------------------------------------------------------------------------------------------------
# Migrations


def test_migrate_from_empty_reaches_head_and_is_idempotent(db: Settings, conn: Any) -> None:
    from alembic.script import ScriptDirectory

    from das.postgis.migrations import alembic_config

    head = ScriptDirectory.from_config(alembic_config(db)).get_current_head()
    assert head and int(head) >= 3
    assert scalar(conn, "SELECT version_num FROM das.alembic_version") == head
    tables = {r[0] for r in query(conn, "SELECT tablename FROM pg_tables WHERE schemaname = 'das'")}
    assert {
        "cameras",
        "crimes",
        "anpr_reads",
        "hotlist",
        "ingest_runs",
        "flags",
        "flag_evidence",
        "boroughs",
        "lsoas",
        "wards",
        "boundary_loads",
        "h3_cells",
        "quarantine_counts",
        "quality_results",
        "flag_triage",
        "flag_notifications",
        "anpr_reads_default",
    } <= tables
    postgis.migrate(db)  # again: nothing to do, nothing breaks
    assert scalar(conn, "SELECT count(*) FROM das.alembic_version") == 1
    views = {r[0] for r in query(conn, "SELECT viewname FROM pg_views WHERE schemaname = 'das'")}
    assert views == {
        "camera_coverage",
        "reads_per_camera_hour",
        "crimes_per_borough_week",
        "crimes_per_cell_week",
        "anpr_reads_pseudonymised",
        "hotspot_cells",
        "quarantine_summary",
        "camera_health",
    }
    functions = {
        r[0]
        for r in query(
            conn,
            "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'das'",
        )
    }
    assert {"plate_history", "vehicles_near", "cameras_covering", "normalise_plate", "triage_flag", "search_stakeout",
            "acting_user"} <= functions  # fmt: skip


def _drift(db: Settings, metadata: Any) -> list[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # alembic warns that computed columns cannot be compared
        return postgis.schema_drift(db, metadata)


def test_no_drift_between_migrations_and_declarations(db: Settings) -> None:
    # Partitions exist too by now or not: either way they are not migration-managed.
    postgis.publish_day_partition(
        db, SILVER_ANPR_READS, pd.DataFrame([read_row("drift-1", "C0", at(DAY2, 1), 0, 0)]), DAY2
    )
    assert _drift(db, METADATA) == []


def test_drift_check_catches_a_declaration_change_without_a_migration(db: Settings) -> None:
    from sqlalchemy import MetaData

    changed = dataclasses.replace(SILVER_CAMERAS, columns=(*SILVER_CAMERAS.columns, Column("mast_height_m", "double")))
    metadata = MetaData(schema="das")
    for table in METADATA.tables.values():
        if table.name != "cameras":
            table.to_metadata(metadata)
    build_table(changed, metadata)
    diffs = _drift(db, metadata)
    assert [(d[0], d[2], d[3].name) for d in diffs] == [("add_column", "cameras", "mast_height_m")]


# ------------------------------------------------------------------------------------------------
# Boundaries


def test_boundaries_loaded_and_reload_is_idempotent(db: Settings, conn: Any) -> None:
    assert scalar(conn, "SELECT count(*) FROM das.boroughs") == 33
    assert scalar(conn, "SELECT count(*) FROM das.lsoas") == 327
    assert postgis.load_reference_data(db) == {"boroughs": 33, "lsoas": 327}
    assert scalar(conn, "SELECT count(*) FROM das.boroughs") == 33
    assert scalar(conn, "SELECT count(*) FROM das.lsoas WHERE lad_code = 'E09000001'") > 0
    assert scalar(conn, "SELECT bool_and(ST_IsValid(geom) AND ST_SRID(geom) = 4326) FROM das.lsoas")
    westminster = query(
        conn,
        "SELECT gss_code, name FROM das.boroughs WHERE ST_Within(ST_SetSRID(ST_MakePoint(%s, %s), 4326), geom)",
        (ORIGIN_LON, ORIGIN_LAT),
    )
    assert westminster == [("E09000033", "Westminster")]


# ------------------------------------------------------------------------------------------------
# Publishing


def test_publish_day_partition_twice_gives_the_same_rows_and_days_are_independent(db: Settings, conn: Any) -> None:
    day1 = pd.DataFrame([read_row(f"d1-{i}", "C1", at(DAY1, 6, i), 0, 0) for i in range(5)])
    day2 = pd.DataFrame([read_row(f"d2-{i}", "C1", at(DAY2, 7, i), 0, 0) for i in range(3)])
    assert postgis.publish_day_partition(db, SILVER_ANPR_READS, day1, DAY1) == 5
    assert postgis.publish_day_partition(db, SILVER_ANPR_READS, day2, DAY2) == 3
    assert postgis.publish_day_partition(db, SILVER_ANPR_READS, day1, DAY1) == 5
    count_day = "SELECT count(*) FROM das.anpr_reads WHERE read_at >= %s AND read_at < %s"
    assert scalar(conn, count_day, (at(DAY1, 0), at(DAY2, 0))) == 5
    assert scalar(conn, count_day, (at(DAY2, 0), at(DAY2 + timedelta(days=1), 0))) == 3
    assert scalar(conn, "SELECT count(*) FROM das.anpr_reads_p20240304") == 5
    assert scalar(conn, "SELECT count(*) FROM das.anpr_reads_default") == 0
    assert {DAY1, DAY2} <= set(postgis.list_day_partitions(db, SILVER_ANPR_READS))
    # Republishing a smaller day replaces it; the other day is untouched.
    assert postgis.publish_day_partition(db, SILVER_ANPR_READS, day1.iloc[:2], DAY1) == 2
    assert scalar(conn, count_day, (at(DAY1, 0), at(DAY2, 0))) == 2
    assert scalar(conn, count_day, (at(DAY2, 0), at(DAY2 + timedelta(days=1), 0))) == 3
    # Geometry was computed by the database from the plain columns.
    srid, x = query(conn, "SELECT ST_SRID(geom_bng), ST_X(geom_bng) FROM das.anpr_reads WHERE read_id = 'd1-0'")[0]
    assert srid == 27700 and x == pytest.approx(ORIGIN_E)
    # Indexes of the parent exist on the partition (ATTACH built them).
    indexes = [
        r[0]
        for r in query(
            conn,
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'das' "
            "AND tablename = 'anpr_reads_p20240304' ORDER BY 1",
        )
    ]
    assert indexes == [
        "anpr_reads_p20240304_camera_id_read_at_idx",
        "anpr_reads_p20240304_geom_bng_idx",
        "anpr_reads_p20240304_geom_idx",
        "anpr_reads_p20240304_pkey",
        "anpr_reads_p20240304_plate_hash_read_at_idx",
        "anpr_reads_p20240304_plate_read_at_idx",
        "anpr_reads_p20240304_read_at_idx",
    ]  # primary key, 3 btree, 2 gist, brin


def test_publish_day_partition_refuses_reads_of_another_day_and_changes_nothing(db: Settings, conn: Any) -> None:
    before = scalar(conn, "SELECT count(*) FROM das.anpr_reads")
    stray = pd.DataFrame([read_row("stray-1", "C1", at(DAY2, 1), 0, 0)])
    with pytest.raises(ValueError, match="1 of 1 rows of silver/anpr_reads have read_at outside 2024-03-04"):
        postgis.publish_day_partition(db, SILVER_ANPR_READS, stray, DAY1)
    assert scalar(conn, "SELECT count(*) FROM das.anpr_reads") == before


def test_publish_day_partition_streams_batches_and_a_bad_batch_rolls_the_day_back(db: Settings, conn: Any) -> None:
    day = DAY1 + timedelta(days=20)
    rows = [read_row(f"st-{i}", "C1", at(day, 8, i), 0, 0) for i in range(6)]
    as_batches = postgis.to_arrow(SILVER_ANPR_READS, pd.DataFrame(rows)).to_batches(max_chunksize=2)
    assert len(as_batches) == 3
    assert postgis.publish_day_partition(db, SILVER_ANPR_READS, iter(as_batches), day) == 6
    count_day = "SELECT count(*) FROM das.anpr_reads WHERE read_at >= %s AND read_at < %s"
    window = (at(day, 0), at(day + timedelta(days=1), 0))
    assert scalar(conn, count_day, window) == 6
    # The third batch holds a read of the next day: nothing of the new day is published, the old stays.
    stray = [read_row("st-new-0", "C1", at(day, 9), 0, 0), read_row("st-new-1", "C1", at(day, 9, 1), 0, 0)]
    bad = [*stray, read_row("st-new-2", "C1", at(day + timedelta(days=1), 0, 5), 0, 0)]
    bad_batches = postgis.to_arrow(SILVER_ANPR_READS, pd.DataFrame(bad)).to_batches(max_chunksize=1)
    with pytest.raises(ValueError, match="1 of 1 rows of silver/anpr_reads have read_at outside"):
        postgis.publish_day_partition(db, SILVER_ANPR_READS, iter(bad_batches), day)
    conn.rollback()
    assert scalar(conn, count_day, window) == 6
    assert scalar(conn, "SELECT count(*) FROM das.anpr_reads WHERE read_id LIKE 'st-new-%%'") == 0


def test_a_failed_publish_rolls_back_the_whole_slice(db: Settings, conn: Any) -> None:
    good = pd.DataFrame([crime_row("x-1", at(DAY1, 1), 0, 0)])
    postgis.publish_replace(db, SILVER_CRIMES, good, key_filter="crime_month")
    duplicate_key = pd.DataFrame([crime_row("x-2", at(DAY1, 1), 0, 0), crime_row("x-2", at(DAY1, 2), 0, 0)])
    with pytest.raises(psycopg2.errors.UniqueViolation):
        postgis.publish_replace(db, SILVER_CRIMES, duplicate_key, key_filter="crime_month")
    assert [r[0] for r in query(conn, "SELECT crime_id FROM das.crimes WHERE crime_month = '2024-03'")] == ["x-1"]


def test_publish_replace_by_month_keeps_other_months(db: Settings, conn: Any) -> None:
    march = [crime_row(f"m-{i}", at(DAY1, 3), 10 * i, 0) for i in range(3)]
    april = [crime_row("a-1", at(date(2024, 4, 2), 3), 0, 0)]
    assert postgis.publish_replace(db, SILVER_CRIMES, pd.DataFrame(march + april), key_filter="crime_month") == 4
    assert postgis.publish_replace(db, SILVER_CRIMES, pd.DataFrame(march[:1]), key_filter="crime_month") == 1
    rows = query(conn, "SELECT crime_id FROM das.crimes ORDER BY crime_id")
    assert [r[0] for r in rows] == ["a-1", "m-0"]
    # Whole-table replace.
    assert postgis.publish_replace(db, SILVER_CRIMES, pd.DataFrame(april)) == 1
    assert [r[0] for r in query(conn, "SELECT crime_id FROM das.crimes")] == ["a-1"]


def test_flags_upsert_keeps_the_investigators_status_and_replaces_evidence(db: Settings, conn: Any) -> None:
    first = pd.DataFrame([flag_row("F1", 0.5, ["r1", "r2", "r3"]), flag_row("F2", 0.4, ["r9"])])
    assert postgis.publish_flags(db, first) == {"flags": 2, "flag_evidence": 4}
    query_status = "SELECT status, score FROM das.flags WHERE flag_id = %s"
    with conn.cursor() as cur:
        cur.execute("UPDATE das.flags SET status = 'escalated' WHERE flag_id = 'F1'")
    again = pd.DataFrame([flag_row("F1", 0.9, ["r1"]), flag_row("F3", 0.7, ["r5", "r6"])])
    assert postgis.publish_flags(db, again) == {"flags": 2, "flag_evidence": 3}
    assert query(conn, query_status, ("F1",)) == [("escalated", 0.9)]
    assert query(conn, query_status, ("F3",)) == [("new", 0.7)]
    assert query(conn, query_status, ("F2",)) == [("new", 0.4)]  # not republished: untouched
    evidence = query(conn, "SELECT flag_id, evidence_no, ref_id FROM das.flag_evidence ORDER BY 1, 2")
    assert evidence == [("F1", 0, "r1"), ("F2", 0, "r9"), ("F3", 0, "r5"), ("F3", 1, "r6")]
    related = scalar(conn, "SELECT related FROM das.flags WHERE flag_id = 'F1'")
    assert related == ["r1", 'odd "ref", {x}']
    assert scalar(conn, "SELECT ST_SRID(geom) FROM das.flag_evidence LIMIT 1") == 4326


def test_ingest_runs_upsert_by_run_and_file(db: Settings, conn: Any) -> None:
    def run(status: str, published: int) -> dict[str, Any]:
        return {
            "ingest_run_id": "run-1",
            "source": "anpr",
            "source_file": "a.csv",
            "source_checksum": "s1",
            "source_format": "csv",
            "started_at": at(DAY1, 1),
            "finished_at": at(DAY1, 2),
            "rows_landed": 10,
            "rows_published": published,
            "rows_quarantined": 10 - published,
            "rows_duplicate": 0,
            "rows_updated": 0,
            "rows_conflicting": 0,
            "status": status,
            "message": None,
        }

    assert postgis.publish_upsert(db, INGEST_RUNS, pd.DataFrame([run("failed", 0)])) == 1
    assert postgis.publish_upsert(db, INGEST_RUNS, pd.DataFrame([run("succeeded", 9)])) == 1
    assert query(conn, "SELECT status, rows_published FROM das.ingest_runs") == [("succeeded", 9)]
    assert INGEST_RUNS.postgis_name == "ingest_runs"


def test_publish_throughput_reports_rows_per_second_and_cleans_up(db: Settings, conn: Any) -> None:
    from das_tools.bench.synthetic import publish_throughput

    result = publish_throughput(db, rows=2_000, day=date(2000, 1, 1))
    assert result["rows"] == 2_000 and result["rows_per_s"] > 0
    assert scalar(conn, "SELECT to_regclass('das.anpr_reads_p20000101')") is None


# ------------------------------------------------------------------------------------------------
# Analyst views and functions (one tiny hand-made scene around the origin)


@pytest.fixture
def scene(db: Settings) -> Settings:
    cameras = [
        camera_row("NEAR", 300, 0),  # 300 m east of the origin
        camera_row("FAR", 700, 0),  # 700 m east
        # A cone looking east (bearing 90), 60 degree field of view, 100 m range, 2 km north.
        camera_row("CONE", 0, 2000, bearing_deg=90.0, fov_deg=60.0, range_m=100.0),
        # No bearing and no range: a 50 m circle, 4 km north.
        camera_row("RING", 0, 4000),
        # An old version of NEAR somewhere else, with another name (history, not current).
        camera_row(
            "NEAR",
            5000,
            5000,
            name="old NEAR",
            valid_from=at(date(2023, 1, 1), 0),
            valid_to=at(date(2024, 1, 1), 0),
            is_current=False,
        ),
    ]
    postgis.publish_replace(db, SILVER_CAMERAS, pd.DataFrame(cameras))
    reads = [
        read_row("near-1", "NEAR", at(S1, 10, 0), 300, 0, plate="AB12CDE"),
        read_row("near-2", "NEAR", at(S1, 10, 30), 300, 0, plate="XY99ZZZ"),
        read_row("near-3", "NEAR", at(S1, 11, 5), 300, 0, plate="AB12CDE"),
        read_row("far-1", "FAR", at(S1, 10, 15), 700, 0, plate="AB12CDE"),
    ]
    postgis.publish_day_partition(db, SILVER_ANPR_READS, pd.DataFrame(reads), S1)
    postgis.publish_day_partition(
        db, SILVER_ANPR_READS, pd.DataFrame([read_row("near-d2", "NEAR", at(S2, 10), 300, 0)]), S2
    )
    crimes = [
        crime_row("k-1", at(S1, 9), 0, 0),  # Westminster, week of Monday S1
        crime_row("k-2", at(S2, 9), 10, 0),
        crime_row("k-3", at(S1 + timedelta(days=7), 9), 0, 0, crime_type="robbery"),
    ]
    postgis.publish_replace(db, SILVER_CRIMES, pd.DataFrame(crimes))
    return db


def test_vehicles_near_finds_reads_within_the_radius_only(scene: Settings, conn: Any) -> None:
    rows = query(
        conn,
        "SELECT plate, read_id, camera_id, read_at, distance_m FROM das.vehicles_near(%s, %s, 500, %s, %s)",
        (ORIGIN_LON, ORIGIN_LAT, at(S1, 0), at(S2, 0)),
    )
    assert [r[1] for r in rows] == ["near-1", "near-2", "near-3"]
    assert all(r[2] == "NEAR" for r in rows)
    assert rows[0][4] == pytest.approx(300, abs=0.5)
    # The far camera comes in with a wider radius; the window excludes S2.
    wide = query(
        conn,
        "SELECT read_id FROM das.vehicles_near(%s, %s, 800, %s, %s)",
        (ORIGIN_LON, ORIGIN_LAT, at(S1, 10, 10), at(S1, 10, 20)),
    )
    assert [r[0] for r in wide] == ["far-1"]


def test_vehicles_near_prunes_partitions_and_can_use_indexes(scene: Settings, conn: Any) -> None:
    with conn.cursor() as cur:
        cur.execute("BEGIN; SET LOCAL enable_seqscan = off")
        cur.execute(
            "EXPLAIN (FORMAT JSON) SELECT * FROM das.vehicles_near(%s, %s, 500, %s, %s)",
            (ORIGIN_LON, ORIGIN_LAT, at(S1, 9), at(S1, 12)),
        )
        plan = json.dumps(cur.fetchone()[0])
        cur.execute("ROLLBACK")
    assert "anpr_reads_p20240318" in plan
    assert "anpr_reads_p20240319" not in plan and "anpr_reads_default" not in plan
    assert '"Node Type": "Seq Scan"' not in plan


def test_plate_history_normalises_the_plate_and_joins_the_camera_version(scene: Settings, conn: Any) -> None:
    rows = query(
        conn,
        "SELECT read_id, plate, camera_name, round(longitude::numeric, 6) FROM das.plate_history(%s, %s, %s)",
        ("ab-12 cde", at(S1, 0), at(S2, 0)),
    )
    assert [r[0] for r in rows] == ["near-1", "far-1", "near-3"]
    assert {r[1] for r in rows} == {"AB12CDE"}
    assert rows[0][2] == "camera NEAR"  # the version in force in 2024, not "old NEAR"
    assert float(rows[0][3]) == pytest.approx(offset(300, 0)["longitude"], abs=1e-6)
    # [t_from, t_to): far-1 at 10:15 is before, near-3 at 11:05 is not before t_to.
    assert (
        scalar(conn, "SELECT count(*) FROM das.plate_history('AB12CDE', %s, %s)", (at(S1, 10, 16), at(S1, 11, 5))) == 0
    )


def test_camera_coverage_cone_versus_radius(scene: Settings, conn: Any) -> None:
    kinds = dict(query(conn, "SELECT camera_id, coverage_kind FROM das.camera_coverage"))
    assert kinds == {"NEAR": "radius", "FAR": "radius", "CONE": "cone", "RING": "radius"}  # current only
    area = dict(query(conn, "SELECT camera_id, ST_Area(coverage_bng) FROM das.camera_coverage"))
    assert area["RING"] == pytest.approx(3.14159 * 50**2, rel=0.01)
    assert area["CONE"] == pytest.approx(3.14159 * 100**2 * 60 / 360, rel=0.01)

    def covering(east_m: float, north_m: float) -> list[str]:
        p = offset(east_m, north_m)
        return [
            r[0]
            for r in query(conn, "SELECT camera_id FROM das.cameras_covering(%s, %s)", (p["longitude"], p["latitude"]))
        ]

    assert covering(60, 2000) == ["CONE"]  # 60 m east, inside the cone
    assert covering(-60, 2000) == []  # 60 m west: behind the camera
    assert covering(60, 2060) == []  # 45 degrees off the bearing, outside a 60 degree cone
    assert covering(0, 4030) == ["RING"]
    assert covering(0, 4070) == []
    assert covering(300, 20) == ["NEAR"]


def test_reads_per_camera_hour(scene: Settings, conn: Any) -> None:
    rows = query(
        conn,
        "SELECT camera_id, hour, reads FROM das.reads_per_camera_hour WHERE hour >= %s AND hour < %s ORDER BY 1, 2",
        (at(S1, 0), at(S2, 0)),
    )
    assert rows == [("FAR", at(S1, 10), 1), ("NEAR", at(S1, 10), 2), ("NEAR", at(S1, 11), 1)]


def test_crimes_per_borough_week_and_per_cell_week(scene: Settings, conn: Any) -> None:
    rows = query(
        conn,
        "SELECT gss_code, borough, week, crime_type, crimes FROM das.crimes_per_borough_week ORDER BY week, crime_type",
    )
    assert rows == [
        ("E09000033", "Westminster", at(S1, 0), "burglary", 2),
        ("E09000033", "Westminster", at(S1 + timedelta(days=7), 0), "robbery", 1),
    ]
    cells = query(conn, "SELECT h3_cell, week, crime_type, crimes FROM das.crimes_per_cell_week ORDER BY week")
    assert cells == [
        ("89195da49b7ffff", at(S1, 0), "burglary", 2),
        ("89195da49b7ffff", at(S1 + timedelta(days=7), 0), "robbery", 1),
    ]
    assert SILVER_ANPR_READS.postgis_partition_by_day == "read_at"
    assert GOLD_FLAGS.postgis_exclude == ("evidence",)


def test_every_query_in_the_analyst_docs_runs(scene: Settings, conn: Any) -> None:
    """The guide's examples run as the pipeline's owner on this module's scene too; tests/integration/docs runs each
    as the role it names, against a scene made for the examples, and checks that they answer."""
    from tests.integration.docs.test_analyst_queries import GUIDE, MIN_EXAMPLES, guide_examples

    examples = guide_examples(GUIDE.read_text(encoding="utf-8"))
    assert len(examples) >= MIN_EXAMPLES
    with conn.cursor() as cur:
        cur.execute("BEGIN")
        try:
            for example in examples:
                cur.execute(example.sql)
        finally:
            cur.execute("ROLLBACK")


# Golden tests: hand-written migration objects that restate a declaration must not drift from it.
PLATE_READ_SOURCES = {"camera_name": (SILVER_CAMERAS, "name"), "camera_type": (SILVER_CAMERAS, "camera_type")}


def test_plate_read_type_restates_the_declared_read_columns(conn: Any) -> None:
    from sqlalchemy.dialects import postgresql

    from schemas.postgis import sql_type

    attributes = query(
        conn,
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
        "JOIN pg_type t ON t.typrelid = a.attrelid JOIN pg_namespace n ON n.oid = t.typnamespace "
        "WHERE n.nspname = 'das' AND t.typname = 'plate_read' AND a.attnum > 0 ORDER BY a.attnum",
    )
    assert attributes, "das.plate_read is missing"
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    for name, sql in attributes:
        if name == "geom":
            geometry = SILVER_ANPR_READS.geometries[0]
            assert sql == f"geometry(Point,{geometry.srid})"
            continue
        table, column = PLATE_READ_SOURCES.get(name, (SILVER_ANPR_READS, name))
        declared = sql_type(table.column(column)).compile(dialect=dialect).lower()
        assert (name, sql) == (name, declared)


@pytest.mark.parametrize("raw", ["ab12 cde", "AB-12-CDE", " a1 ", "Ä1", "--", "1234é", "ab\tcd"])
def test_normalise_plate_in_sql_behaves_as_declared(conn: Any, raw: str) -> None:
    from schemas.plates import PLATE_NOISE_PATTERN, normalise_plate

    assert scalar(conn, "SELECT das.normalise_plate(%s)", (raw,)) == normalise_plate(raw)
    definition = scalar(conn, "SELECT pg_get_functiondef('das.normalise_plate(text)'::regprocedure)")
    assert f"'{PLATE_NOISE_PATTERN}'" in definition
