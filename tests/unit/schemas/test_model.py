"""The declaration model: rows built by column name, and declarations that check themselves."""

from __future__ import annotations

import pytest

from schemas.landing import INCIDENT_CSV, LandingFormat
from schemas.model import Column, Table
from schemas.tables import FLAG_FIELDS, GOLD_FLAGS, INGEST_RUNS, bronze_table

T = Table("t", "silver", "a test table", (Column("a", "string", False), Column("b", "long"), Column("c", "string")))


def test_a_row_is_built_by_name_in_declared_order_with_absent_nullable_columns_null() -> None:
    assert T.row({"c": "z", "a": "x"}) == ("x", None, "z")


def test_a_row_names_unknown_and_missing_required_columns() -> None:
    with pytest.raises(KeyError, match="no columns \\['zz'\\]"):
        T.row({"a": "x", "zz": 1})
    with pytest.raises(ValueError, match="required columns \\['a'\\]"):
        T.row({"b": 1})


def test_a_declaration_naming_an_undeclared_column_fails() -> None:
    with pytest.raises(ValueError, match="'nope' is not a declared column"):
        Table("u", "silver", "", (Column("a", "string"),), key=("nope",))
    with pytest.raises(ValueError, match="'when' is not a declared column"):
        Table("u", "silver", "", (Column("a", "string"),), event_time="when")


def test_bronze_tables_are_generated_once_per_source() -> None:
    assert bronze_table("anpr") is bronze_table("anpr")
    assert bronze_table("anpr").qualified_name == "bronze/anpr"
    assert "record" in bronze_table("anpr").column_names


def test_flag_fields_are_the_gold_columns_but_bookkeeping() -> None:
    assert tuple(GOLD_FLAGS.column_names[: len(FLAG_FIELDS)]) == FLAG_FIELDS
    assert {"status", "detected_at", "detector_version"} == set(GOLD_FLAGS.column_names) - set(FLAG_FIELDS)


def test_ingest_runs_declares_its_reconciliation_columns() -> None:
    assert {"rows_landed", "rows_published", "rows_quarantined", "rows_duplicate"} <= set(INGEST_RUNS.column_names)


def test_landing_formats_check_their_fields_and_aliases() -> None:
    assert INCIDENT_CSV.missing({"crime_id", "crime_type", "occurred_at", "longitude", "latitude"}) == []
    assert INCIDENT_CSV.missing({"crime_id", "crime_type"}) == ["occurred_from", "longitude", "latitude"]
    with pytest.raises(ValueError, match="'x' is not one of its fields"):
        LandingFormat("bad", fields=("a",), required=("x",))
