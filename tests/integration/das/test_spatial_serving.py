"""Spatial serving against a real PostGIS: typed geometry as GDAL (QGIS) reads it, a force's own boundaries, H3 cell
outlines that join the hotspots, and the quarantine summary for engineers only.

The module works in its own database on the shared test cluster. Expected coordinates come from pyproj and h3 here,
independently of PostGIS.
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import h3
import numpy as np
import pandas as pd
import psycopg2
import pyarrow as pa
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Point, box

from das import postgis, users
from das.config import Settings
from das.errors import BoundaryFileError
from jobs.ingest.geo import lonlat_to_h3
from schemas.postgis import METADATA, SCHEMA
from schemas.tables import GOLD_FLAGS, SILVER_CAMERAS, SILVER_CRIMES
from tests.integration.das.test_postgis import ORIGIN_LAT, ORIGIN_LON, camera_row, crime_row, flag_row, offset
from tests.postgres_fixtures import autocommit, own_database, query

pytestmark = pytest.mark.integration

TO_WGS84 = Transformer.from_crs(27700, 4326, always_xy=True)
WEEK = date(2024, 4, 1)  # a Monday


@pytest.fixture(scope="module")
def db(pg_settings: Settings) -> Iterator[Settings]:
    with own_database(pg_settings, "das_spatial_test") as settings:
        yield settings


@pytest.fixture
def conn(db: Settings) -> Iterator[Any]:
    with autocommit(db) as connection:
        yield connection


# ------------------------------------------------------------------------------------------------
# Every geometry, typed, as GDAL sees it


def _declared_geometries() -> set[tuple[str, str, str, int]]:
    """(table, column, type, srid) of every geometry the declarations serve."""
    found = set()
    for table in METADATA.tables.values():
        for column in table.columns:
            geometry_type = getattr(column.type, "geometry_type", None)
            if geometry_type:
                found.add((table.name, column.name, geometry_type.upper(), column.type.srid))  # type: ignore[attr-defined]
    return found


def _ogr_layer(db: Settings, layer: str) -> tuple[str, int]:
    """(geometry type, EPSG code) of one layer as ``ogrinfo`` reports them."""
    password = db.local_password(db.pg_user) or ""
    dsn = f"PG:host={db.pg_host} port={db.pg_port} dbname={db.pg_database} user={db.pg_user} password={password}"
    out = subprocess.run(
        ["ogrinfo", "-ro", "-so", dsn, layer], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    geometry = re.search(r"^Geometry: (.+)$", out, flags=re.MULTILINE)
    assert geometry, f"ogrinfo gives {layer} no geometry type:\n{out}"
    wkt = out.split("Layer SRS WKT:", 1)[1] if "Layer SRS WKT:" in out else ""
    codes = re.findall(r'ID\["EPSG",(\d+)\]', wkt.split("Data axis to CRS axis mapping")[0])
    assert codes, f"ogrinfo gives {layer} no SRS:\n{out}"
    return geometry.group(1).strip(), int(codes[-1])  # the CRS's own ID closes its WKT


def test_ogrinfo_lists_the_type_and_srid_of_every_geometry_in_schema_das(db: Settings, conn: Any) -> None:
    if shutil.which("ogrinfo") is None:
        pytest.fail("ogrinfo (GDAL) is missing: infra/setup-system.sh installs gdal-bin", pytrace=False)
    served = {
        (t, c, ty, s)
        for t, c, ty, s in query(
            conn,
            "SELECT f_table_name, f_geometry_column, type, srid FROM geometry_columns WHERE f_table_schema = %s",
            (SCHEMA,),
        )
    }
    views = {r[0] for r in query(conn, "SELECT viewname FROM pg_views WHERE schemaname = %s", (SCHEMA,))}
    assert _declared_geometries() <= served  # every declared geometry is there, as declared
    assert {"camera_coverage", "crimes_per_cell_week", "hotspot_cells"} <= {t for t, *_ in served} & views
    untyped = sorted((t, c) for t, c, ty, s in served if ty == "GEOMETRY" or s == 0)
    assert untyped == [], f"geometry columns without a type or SRID (cast them in the view): {untyped}"
    ogr_names = {"POINT": "Point", "POLYGON": "Polygon", "MULTIPOLYGON": "Multi Polygon", "LINESTRING": "Line String"}
    for table, column, geometry_type, srid in sorted(served):
        assert _ogr_layer(db, f"{SCHEMA}.{table}({column})") == (ogr_names[geometry_type], srid), (table, column)


# ------------------------------------------------------------------------------------------------
# A force's own boundaries


def _write(path: Path, features: list[tuple[dict[str, Any], Any]], crs: str, driver: str) -> Path:
    import pyogrio.raw

    names = list(features[0][0])
    pyogrio.raw.write(
        path,
        geometry=np.array([shapely.to_wkb(g) for _, g in features], dtype=object),
        field_data=[np.array([p[n] for p, _ in features], dtype=object) for n in names],
        fields=names,
        crs=crs,
        driver=driver,
        geometry_type="MultiPolygon" if isinstance(features[0][1], MultiPolygon) else features[0][1].geom_type,
    )
    return path


def _square_bng(east_m: float, north_m: float, side_m: float) -> Any:
    e, n = offset(east_m, north_m)["easting"], offset(east_m, north_m)["northing"]
    return MultiPolygon([box(e, n, e + side_m, n + side_m)])


def test_a_geojson_in_4326_replaces_the_lsoas_and_migrations_keep_it(db: Settings, conn: Any, tmp_path: Path) -> None:
    squares = [
        (
            {"LSOA21CD": f"E0109999{i}", "LSOA21NM": f"Westminster 9{i}A"},
            box(lon, ORIGIN_LAT, lon + 0.001, ORIGIN_LAT + 0.001),
        )
        for i, lon in enumerate((ORIGIN_LON, ORIGIN_LON + 0.002))
    ]
    path = _write(tmp_path / "lsoa2021.geojson", squares, "EPSG:4326", "GeoJSON")
    try:
        assert postgis.load_boundaries(db, path, "lsoa") == 2
        rows = query(
            conn,
            "SELECT lsoa_code, lsoa_name, lad_code, GeometryType(geom), ST_SRID(geom), ST_XMin(geom), ST_YMin(geom) "
            "FROM das.lsoas ORDER BY 1",
        )
        assert [r[:5] for r in rows] == [
            ("E01099990", "Westminster 90A", "E09000033", "MULTIPOLYGON", 4326),  # lad_code: the borough holding it
            ("E01099991", "Westminster 91A", "E09000033", "MULTIPOLYGON", 4326),
        ]
        assert rows[0][5] == pytest.approx(ORIGIN_LON, abs=1e-9) and rows[0][6] == pytest.approx(ORIGIN_LAT, abs=1e-9)
        postgis.migrate(db)  # migrations reload only the kinds that still hold their bundled sample
        assert query(conn, "SELECT count(*) FROM das.lsoas") == [(2,)]
        assert query(conn, "SELECT count(*) FROM das.boroughs") == [(33,)]
        assert query(conn, "SELECT kind, bundled, features, source FROM das.boundary_loads WHERE kind = 'lsoa'") == [
            ("lsoa", False, 2, str(path))
        ]
    finally:
        restore_samples(db, conn)


def restore_samples(db: Settings, conn: Any) -> None:
    query(conn, "UPDATE das.boundary_loads SET bundled = true")
    postgis.load_reference_data(db)
    query(conn, "DELETE FROM das.wards")
    query(conn, "DELETE FROM das.boundary_loads WHERE kind = 'ward'")


def test_a_geopackage_in_27700_is_reprojected_to_4326(db: Settings, conn: Any, tmp_path: Path) -> None:
    ward = _square_bng(0, 0, 500)
    path = _write(
        tmp_path / "wards.gpkg",
        [({"WD23CD": "E05013806", "WD23NM": "St James's", "LAD23CD": "E09000033"}, ward)],
        "EPSG:27700",
        "GPKG",
    )
    try:
        assert postgis.load_boundaries(db, path, "ward") == 1
        (row,) = query(conn, "SELECT ward_code, ward_name, lad_code, ST_SRID(geom), ST_AsText(geom) FROM das.wards")
        assert row[:4] == ("E05013806", "St James's", "E09000033", 4326)
        loaded = np.array(shapely.get_coordinates(shapely.from_wkt(row[4])))
        e, n = np.array(shapely.get_coordinates(ward)).T
        expected = np.column_stack(TO_WGS84.transform(e, n))
        assert loaded == pytest.approx(expected, abs=1e-9)  # every vertex, in lon/lat order
        inside = offset(250, 250)
        assert query(
            conn,
            "SELECT ward_code FROM das.wards WHERE ST_Contains(geom, ST_SetSRID(ST_MakePoint(%s, %s), 4326))",
            (inside["longitude"], inside["latitude"]),
        ) == [("E05013806",)]
        assert query(conn, "SELECT source_crs FROM das.boundary_loads WHERE kind = 'ward'") == [("EPSG:27700",)]
    finally:
        restore_samples(db, conn)


@pytest.mark.parametrize(
    ("name", "features", "message"),
    [
        (
            "points.geojson",
            [({"LSOA21CD": "E01000001", "LSOA21NM": "A"}, Point(ORIGIN_LON, ORIGIN_LAT))],
            "not a polygon",
        ),
        (
            "nocode.geojson",
            [({"id": "1", "label": "A"}, box(0, 51, 0.01, 51.01))],
            "no recognisable field for lsoa_code",
        ),
        (
            "twice.geojson",
            [({"LSOA21CD": "E01000001", "LSOA21NM": n}, box(0, 51, 0.01, 51.01)) for n in ("A", "B")],
            "repeats",
        ),
    ],
)
def test_a_bad_file_is_refused_naming_it_and_the_previous_boundaries_stay(
    db: Settings, conn: Any, tmp_path: Path, name: str, features: list[Any], message: str
) -> None:
    before = query(conn, "SELECT lsoa_code, md5(ST_AsEWKB(geom)::text) FROM das.lsoas ORDER BY 1")
    path = _write(tmp_path / name, features, "EPSG:4326", "GeoJSON")
    with pytest.raises(BoundaryFileError, match=message) as refused:
        postgis.load_boundaries(db, path, "lsoa")
    assert str(path) in str(refused.value)
    assert query(conn, "SELECT lsoa_code, md5(ST_AsEWKB(geom)::text) FROM das.lsoas ORDER BY 1") == before
    assert len(before) == 327


def test_das_load_boundaries_from_the_command_line(db: Settings, tmp_path: Path) -> None:
    import sys

    from tests.postgres_fixtures import child_env

    path = _write(
        tmp_path / "w.geojson",
        [({"WD23CD": "E05000001", "WD23NM": "X"}, box(-0.13, 51.50, -0.12, 51.51))],
        "EPSG:4326",
        "GeoJSON",
    )
    cli = [str(Path(sys.executable).with_name("das")), "load", "boundaries"]
    bad = subprocess.run([*cli, str(path), "--kind", "county"], capture_output=True, text=True, env=child_env(db))
    assert bad.returncode == 2 and "borough, lsoa, ward" in bad.stderr
    try:
        ok = subprocess.run([*cli, str(path), "--kind", "ward"], capture_output=True, text=True, env=child_env(db))
        assert ok.returncode == 0, ok.stderr
        assert "loaded 1 ward boundaries" in ok.stdout
    finally:
        conn = psycopg2.connect(db.libpq_dsn)
        conn.autocommit = True
        restore_samples(db, conn)
        conn.close()


# ------------------------------------------------------------------------------------------------
# H3 cells: one resolution, outlines served


def test_hotspot_cells_join_crimes_per_cell_week_and_have_their_outline(db: Settings, conn: Any) -> None:
    resolution = db.h3_resolution
    crimes = [crime_row(f"h-{i}", datetime(2024, 4, 2, 9, i, tzinfo=UTC), 40 * i, 0) for i in range(3)]
    for crime in crimes:  # as ingest computes it
        crime["h3_cell"] = lonlat_to_h3(pd.Series([crime["longitude"]]), pd.Series([crime["latitude"]]), resolution)[0]
    cell = crimes[0]["h3_cell"]
    postgis.publish_replace(db, SILVER_CRIMES, pd.DataFrame(crimes))
    lat, lon = h3.cell_to_latlng(cell)
    hotspot = {
        **flag_row("hotspot-1", 0.9, []),
        "flag_type": "emerging_hotspot",
        "subject": cell,
        "related": [c["crime_id"] for c in crimes],
        "window_start": datetime(2024, 4, 1, tzinfo=UTC),
        "window_end": datetime(2024, 4, 8, tzinfo=UTC),
        "evidence": [
            {
                "kind": "cell",
                "ref_id": cell,
                "camera_id": None,
                "plate": None,
                "at": datetime(2024, 4, 1, tzinfo=UTC),
                "longitude": lon,
                "latitude": lat,
                "detail": "cell",
            }
        ],
    }
    postgis.publish_flags(db, pd.DataFrame([hotspot]))
    joined = query(
        conn,
        "SELECT h.h3_cell, h.resolution, c.crimes, ST_Equals(h.geom, c.geom) FROM das.hotspot_cells AS h "
        "JOIN das.crimes_per_cell_week AS c ON c.h3_cell = h.h3_cell AND c.week = h.window_start",
    )
    per_cell = {c: sum(1 for x in crimes if x["h3_cell"] == c) for c in {x["h3_cell"] for x in crimes}}
    assert joined == [(cell, resolution, per_cell[cell], True)]
    # Every crime's cell is served, and its outline holds the crime (h3's own polygon, not an approximation).
    outlines = query(
        conn,
        "SELECT c.crime_id, ST_Covers(h.geom, c.geom), h.resolution FROM das.crimes AS c "
        "JOIN das.h3_cells AS h ON h.h3_cell = c.h3_cell WHERE c.crime_id LIKE 'h-%%' ORDER BY 1",
    )
    assert outlines == [(c["crime_id"], True, resolution) for c in crimes]
    (area,) = query(conn, "SELECT ST_Area(geom::geography) FROM das.h3_cells WHERE h3_cell = %s", (cell,))[0]
    assert area == pytest.approx(h3.cell_area(cell, unit="m^2"), rel=0.01)
    postgis.publish_replace(db, SILVER_CRIMES, pd.DataFrame(crimes))  # again: the outlines are not duplicated
    assert query(conn, "SELECT count(*) FROM das.h3_cells WHERE h3_cell = %s", (cell,)) == [(1,)]
    assert GOLD_FLAGS.postgis_name == "flags" and SILVER_CAMERAS.postgis_name == "cameras"


def test_camera_coverage_serves_typed_polygons(db: Settings, conn: Any) -> None:
    postgis.publish_replace(db, SILVER_CAMERAS, pd.DataFrame([camera_row("TYPED", 0, 0)]))
    rows = query(
        conn,
        "SELECT GeometryType(coverage), ST_SRID(coverage), GeometryType(coverage_bng), ST_SRID(coverage_bng), "
        "GeometryType(camera_geom_bng), ST_SRID(camera_geom_bng) FROM das.camera_coverage WHERE camera_id = 'TYPED'",
    )
    assert rows == [("POLYGON", 4326, "POLYGON", 27700, "POINT", 27700)]


# ------------------------------------------------------------------------------------------------
# The quarantine summary, for engineers only


def test_the_quarantine_summary_is_for_engineers_and_analysts_are_refused(db: Settings) -> None:
    at = datetime(2024, 4, 2, 6, tzinfo=UTC)
    rejected = pa.table(
        {
            "source": ["anpr"] * 3 + ["crimes"],
            "reason_code": ["invalid_plate", "invalid_plate", "null_island", "empty_file"],
            "source_file": ["anpr/a.csv"] * 3 + ["crimes/b.csv"],
            "ingest_date": [date(2024, 4, 2)] * 4,
            "whole_file": [False, False, False, True],
            "ingested_at": [at] * 4,
        }
    )
    anpr = rejected.filter(pa.compute.equal(rejected.column("source"), "anpr"))
    crimes = rejected.filter(pa.compute.equal(rejected.column("source"), "crimes"))
    assert postgis.publish_quarantine_counts(db, "anpr", ["anpr/a.csv"], anpr) == 2
    assert postgis.publish_quarantine_counts(db, "crimes", ["crimes/b.csv"], crimes) == 1
    assert postgis.publish_quarantine_counts(db, "anpr", ["anpr/a.csv"], anpr) == 2  # replaced, not added
    suffix = secrets.token_hex(3)
    engineer = users.add(db, f"eng_{suffix}", "engineer")
    analyst = users.add(db, f"ana_{suffix}", "analyst")

    def login(user: users.NewUser) -> Any:
        return psycopg2.connect(
            host=db.pg_host, port=db.pg_port, dbname=db.pg_database, user=user.name, password=user.db_password
        )

    conn = login(engineer)
    try:
        rows = query(
            conn,
            "SELECT source, reason_code, source_file, ingest_date, rows, whole_file FROM das.quarantine_summary "
            "ORDER BY 1, 2",
        )
        assert rows == [
            ("anpr", "invalid_plate", "anpr/a.csv", date(2024, 4, 2), 2, False),
            ("anpr", "null_island", "anpr/a.csv", date(2024, 4, 2), 1, False),
            ("crimes", "empty_file", "crimes/b.csv", date(2024, 4, 2), 1, True),
        ]
    finally:
        conn.close()
    conn = login(analyst)
    try:
        for sql in ("SELECT * FROM das.quarantine_summary", "SELECT * FROM das.quarantine_counts"):
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                query(conn, sql)
            conn.rollback()
        # What the analyst does get: boundaries, cell outlines and hotspots.
        for view in ("wards", "h3_cells", "hotspot_cells", "boundary_loads"):
            query(conn, f"SELECT count(*) FROM das.{view}")
    finally:
        conn.close()
