"""The generated SQLAlchemy/GeoAlchemy2 tables match the table declarations (no database needed)."""

from __future__ import annotations

import pytest
from sqlalchemy import Computed
from sqlalchemy.dialects import postgresql

from schemas.postgis import METADATA, SCHEMA, sa_table, served_tables
from schemas.reference import BOROUGHS, LSOAS
from schemas.tables import (
    FLAG_EVIDENCE,
    GOLD_FLAGS,
    INGEST_RUNS,
    REGISTRY,
    SILVER_ANPR_READS,
    SILVER_CAMERAS,
    SILVER_CRIMES,
    SILVER_HOTLIST,
)

pytestmark = pytest.mark.unit

DIALECT = postgresql.dialect()

# Written out by hand (not taken from schemas.postgis) so a wrong mapping there fails here.
EXPECTED_PG_TYPE = {
    "string": "TEXT",
    "int": "INTEGER",
    "long": "BIGINT",
    "double": "DOUBLE PRECISION",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMP WITH TIME ZONE",
    "date": "DATE",
    "array<string>": "TEXT[]",
    "json": "JSONB",
}

EXPECTED_GEOMETRIES = {
    "cameras": {"geom": "geometry(POINT,4326)", "geom_bng": "geometry(POINT,27700)"},
    "crimes": {"geom": "geometry(POINT,4326)", "geom_bng": "geometry(POINT,27700)"},
    "anpr_reads": {"geom": "geometry(POINT,4326)", "geom_bng": "geometry(POINT,27700)"},
    "hotlist": {},
    "lfr_deployments": {"geom": "geometry(POINT,4326)", "geom_bng": "geometry(POINT,27700)"},
    "lfr_alerts": {},
    "video_events": {"geom": "geometry(POINT,4326)", "geom_bng": "geometry(POINT,27700)"},
    "ingest_runs": {},
    "flags": {"geom": "geometry(POINT,4326)"},
    "flag_evidence": {"geom": "geometry(POINT,4326)"},
    "boroughs": {"geom": "geometry(MULTIPOLYGON,4326)"},
    "lsoas": {"geom": "geometry(MULTIPOLYGON,4326)"},
    "wards": {"geom": "geometry(MULTIPOLYGON,4326)"},
    "h3_cells": {"geom": "geometry(POLYGON,4326)"},
    "boundary_loads": {},
    "quarantine_counts": {},
    "audit_log": {},
    "api_users": {},
    "flag_triage": {},
    "flag_notifications": {},
    "quality_results": {},
}


def _type(column) -> str:  # type: ignore[no-untyped-def]
    return str(column.type.compile(dialect=DIALECT))


def test_every_served_table_and_only_those_is_generated_in_schema_das() -> None:
    assert {t.name for t in METADATA.tables.values()} == set(EXPECTED_GEOMETRIES)
    assert {t.schema for t in METADATA.tables.values()} == {SCHEMA}
    served = {t.postgis_name for t in REGISTRY.served()}
    assert served == {
        "cameras",
        "crimes",
        "anpr_reads",
        "hotlist",
        "lfr_deployments",
        "lfr_alerts",
        "video_events",
        "ingest_runs",
        "flags",
        "flag_evidence",
    }


@pytest.mark.parametrize("table", served_tables(), ids=lambda t: t.postgis_name)
def test_served_columns_present_with_declared_type_and_nullability(table) -> None:  # type: ignore[no-untyped-def]
    generated = sa_table(table)
    for column in table.served_columns:
        assert column.name in generated.c, f"{table.postgis_name}.{column.name} missing"
        sa_column = generated.c[column.name]
        assert _type(sa_column) == EXPECTED_PG_TYPE[column.type], column.name
        assert sa_column.nullable == column.nullable, column.name
        assert sa_column.computed is None


@pytest.mark.parametrize("table", served_tables(), ids=lambda t: t.postgis_name)
def test_excluded_columns_are_absent_and_nothing_extra_is_added(table) -> None:  # type: ignore[no-untyped-def]
    generated = sa_table(table)
    for name in table.postgis_exclude:
        assert name not in generated.c
    pseudonyms = [p for p, _ in table.postgis_pseudonyms]
    expected = [c.name for c in table.served_columns] + pseudonyms + list(EXPECTED_GEOMETRIES[table.postgis_name])
    assert sorted(generated.c.keys()) == sorted(expected)


@pytest.mark.parametrize("table", served_tables(), ids=lambda t: t.postgis_name)
def test_geometry_columns_have_type_srid_and_a_gist_index(table) -> None:  # type: ignore[no-untyped-def]
    generated = sa_table(table)
    for name, pg_type in EXPECTED_GEOMETRIES[table.postgis_name].items():
        assert _type(generated.c[name]) == pg_type
        gist = [i for i in generated.indexes if [c.name for c in i.columns] == [name]]
        assert len(gist) == 1 and gist[0].dialect_options["postgresql"]["using"] == "gist", name


def test_point_geometries_are_stored_generated_columns_from_their_coordinates() -> None:
    cameras = sa_table(SILVER_CAMERAS)
    geom, geom_bng = cameras.c["geom"].computed, cameras.c["geom_bng"].computed
    assert isinstance(geom, Computed) and geom.persisted
    assert str(geom.sqltext) == "ST_SetSRID(ST_MakePoint(longitude, latitude), 4326)"
    assert isinstance(geom_bng, Computed) and geom_bng.persisted
    assert str(geom_bng.sqltext) == "ST_SetSRID(ST_MakePoint(easting, northing), 27700)"
    # Boundaries are loaded shapes, not computed.
    assert sa_table(BOROUGHS).c["geom"].computed is None


def test_flags_serve_no_evidence_column_and_flag_evidence_holds_it_flattened() -> None:
    flags = sa_table(GOLD_FLAGS)
    assert "evidence" not in flags.c
    assert _type(flags.c["related"]) == "TEXT[]"
    evidence = sa_table(FLAG_EVIDENCE)
    assert {"flag_id", "evidence_no", "kind", "ref_id", "at", "geom"} <= set(evidence.c.keys())


def test_lineage_columns_excluded_where_declared() -> None:
    reads = sa_table(SILVER_ANPR_READS)
    for name in ("source_checksum", "row_number", "ingested_at", "read_date"):
        assert name not in reads.c
    assert "source_file" in reads.c and "ingest_run_id" in reads.c


def test_primary_keys_are_the_natural_keys_plus_the_partition_column() -> None:
    expected = {
        "cameras": ["camera_id", "valid_from"],
        "crimes": ["crime_id"],
        "anpr_reads": ["read_id", "read_at"],  # PostgreSQL requires the partition column in the key
        "hotlist": ["hotlist_entry_id"],
        "lfr_deployments": ["deployment_id"],  # the current version is served
        "lfr_alerts": ["alert_id"],
        "video_events": ["event_id", "detected_at"],
        "ingest_runs": ["ingest_run_id", "source_checksum"],
        "flags": ["flag_id"],
        "flag_evidence": ["flag_id", "evidence_no"],
        "boroughs": ["gss_code"],
        "lsoas": ["lsoa_code"],
        "wards": ["ward_code"],
        "h3_cells": ["h3_cell"],
        "boundary_loads": ["kind"],
        "quarantine_counts": ["source", "reason_code", "source_file", "ingest_date"],
        "audit_log": ["audit_id"],
        "api_users": ["name"],
        "flag_triage": ["flag_id", "version"],
        "flag_notifications": ["flag_id", "channel"],
        "quality_results": ["ingest_run_id", "table_name", "check_name"],
    }
    got = {t.name: [c.name for c in t.primary_key.columns] for t in METADATA.tables.values()}
    assert got == expected


def test_anpr_reads_is_range_partitioned_on_read_at_with_brin_and_btree_indexes() -> None:
    reads = sa_table(SILVER_ANPR_READS)
    assert reads.dialect_options["postgresql"]["partition_by"] == "RANGE (read_at)"
    by_columns = {tuple(c.name for c in i.columns): i.dialect_options["postgresql"]["using"] for i in reads.indexes}
    assert by_columns[("read_at",)] == "brin"
    assert not by_columns[("plate", "read_at")]  # no USING: the default btree
    assert not by_columns[("camera_id", "read_at")]
    for table in (SILVER_CAMERAS, SILVER_CRIMES, SILVER_HOTLIST, INGEST_RUNS, GOLD_FLAGS):
        assert not sa_table(table).dialect_options["postgresql"]["partition_by"]


def test_declared_btree_indexes_exist() -> None:
    for table in served_tables():
        columns = {tuple(c.name for c in i.columns) for i in sa_table(table).indexes}
        for wanted in table.postgis_indexes:
            assert tuple(wanted) in columns, (table.postgis_name, wanted)
    assert ("lad_code",) in {tuple(c.name for c in i.columns) for i in sa_table(LSOAS).indexes}
