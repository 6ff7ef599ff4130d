"""The generated suites follow the table declarations (drift test) and carry a severity each."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from das.config import Settings
from quality.suites import build_suite
from schemas.model import Column, Table
from schemas.tables import REGISTRY, SILVER_ANPR_READS, SILVER_CAMERAS, SILVER_CRIMES, SILVER_HOTLIST

pytestmark = pytest.mark.unit

SILVER_TABLES = [SILVER_ANPR_READS, SILVER_CAMERAS, SILVER_CRIMES, SILVER_HOTLIST]

# Written out here on purpose (not taken from the code under test): declared type -> Spark class.
SPARK_TYPE_NAME = {
    "string": "StringType",
    "int": "IntegerType",
    "long": "LongType",
    "double": "DoubleType",
    "boolean": "BooleanType",
    "timestamp": "TimestampType",
    "date": "DateType",
    "array<string>": "ArrayType",
    "evidence": "ArrayType",
    "json": "StringType",  # JSON text in the lake
}


def _config(expectation: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    config = expectation.configuration
    return config.type, dict(config.kwargs), dict(config.meta or {})


def _signature(kind: str, kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """What a skeleton expectation asserts, in a comparable form."""
    if kind == "expect_table_columns_to_match_ordered_list":
        return (kind, tuple(kwargs["column_list"]))
    if kind == "expect_column_values_to_be_of_type":
        return (kind, kwargs["column"], kwargs["type_"])
    if kind == "expect_column_values_to_be_in_set":
        return (kind, kwargs["column"], frozenset(kwargs["value_set"]))
    if kind == "expect_column_values_to_be_between":
        return (kind, kwargs["column"], kwargs.get("min_value"), kwargs.get("max_value"))
    return (kind, kwargs.get("column"))


def expected_skeleton(table: Table) -> set[tuple[Any, ...]]:
    """Everything the declaration says, derived independently of quality.suites."""
    wanted: set[tuple[Any, ...]] = {
        ("expect_table_columns_to_match_ordered_list", tuple(c.name for c in table.columns))
    }
    for column in table.columns:
        wanted.add(("expect_column_values_to_be_of_type", column.name, SPARK_TYPE_NAME[column.type]))
        if not column.nullable:
            wanted.add(("expect_column_values_to_not_be_null", column.name))
        if column.allowed_values is not None:
            wanted.add(("expect_column_values_to_be_in_set", column.name, frozenset(column.allowed_values)))
        if column.min_value is not None or column.max_value is not None:
            wanted.add(("expect_column_values_to_be_between", column.name, column.min_value, column.max_value))
    return wanted


def skeleton_of(suite: Any) -> set[tuple[Any, ...]]:
    found = set()
    for expectation in suite.expectations:
        kind, kwargs, meta = _config(expectation)
        if meta.get("source") == "declaration":
            found.add(_signature(kind, kwargs))
    return found


def domain_of(suite: Any) -> list[tuple[str, str | None, str, dict[str, Any]]]:
    found = []
    for expectation in suite.expectations:
        _, kwargs, meta = _config(expectation)
        if meta.get("source") == "domain":
            found.append((meta["check"], kwargs.get("column"), meta["severity"], kwargs))
    return found


@pytest.fixture
def plain_settings(tmp_path) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(home=tmp_path / "home")


@pytest.mark.parametrize("table", SILVER_TABLES, ids=lambda t: t.qualified_name)
def test_suite_skeleton_matches_declaration(table: Table, plain_settings: Settings) -> None:
    """Fails when a declared column, nullability, type, value set or range has no expectation (or vice versa)."""
    suite = build_suite(table, plain_settings)
    assert skeleton_of(suite) == expected_skeleton(table)


def test_every_declared_table_gets_a_suite(plain_settings: Settings) -> None:
    for table in REGISTRY.tables.values():
        assert skeleton_of(build_suite(table, plain_settings)) == expected_skeleton(table), table.qualified_name


def test_a_column_added_to_the_declaration_gets_its_expectations(plain_settings: Settings) -> None:
    added = Column("lane_count", "int", False, "test column", min_value=1, max_value=12)
    widened = dataclasses.replace(SILVER_HOTLIST, columns=(*SILVER_HOTLIST.columns, added))
    skeleton = skeleton_of(build_suite(widened, plain_settings))
    assert ("expect_column_values_to_not_be_null", "lane_count") in skeleton
    assert ("expect_column_values_to_be_of_type", "lane_count", "IntegerType") in skeleton
    assert ("expect_column_values_to_be_between", "lane_count", 1, 12) in skeleton
    assert ("expect_table_columns_to_match_ordered_list", (*SILVER_HOTLIST.column_names, "lane_count")) in skeleton


def test_every_expectation_has_a_severity(plain_settings: Settings) -> None:
    for table in SILVER_TABLES:
        for expectation in build_suite(table, plain_settings).expectations:
            _, _, meta = _config(expectation)
            assert meta["severity"] in {"critical", "warning"}
            assert expectation.severity == meta["severity"]


def test_anpr_domain_checks_and_their_severity(plain_settings: Settings) -> None:
    domain = domain_of(build_suite(SILVER_ANPR_READS, plain_settings))
    checks = {(check, column): severity for check, column, severity, _ in domain}
    assert checks == {
        ("region_bbox", "longitude"): "critical",
        ("region_bbox", "latitude"): "critical",
        ("not_future", "read_at"): "critical",
        ("within_retention", "read_at"): "critical",
        ("known_camera", "camera_id"): "critical",
        ("plate_format", "plate"): "warning",
        ("volume", None): "warning",
    }
    # Only GB plates are held to the GB formats.
    plate_kwargs = next(kwargs for check, _, _, kwargs in domain if check == "plate_format")
    assert "GB" in str(plate_kwargs["row_condition"])
    # Confidence in [0, 1] comes from the declaration and blocks publish.
    confidence = next(
        e
        for e in build_suite(SILVER_ANPR_READS, plain_settings).expectations
        if _config(e)[1].get("column") == "confidence" and _config(e)[0] == "expect_column_values_to_be_between"
    )
    assert (_config(confidence)[1]["min_value"], _config(confidence)[1]["max_value"]) == (0, 1)
    assert _config(confidence)[2]["severity"] == "critical"


def test_bbox_comes_from_settings(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DAS_REGION_BBOX", "-2.5,53.3,-2.0,53.6")  # Greater Manchester
    settings = Settings(home=tmp_path)
    for table in (SILVER_CAMERAS, SILVER_CRIMES, SILVER_ANPR_READS):
        bounds = {
            column: (kwargs["min_value"], kwargs["max_value"])
            for check, column, _, kwargs in domain_of(build_suite(table, settings))
            if check == "region_bbox"
        }
        assert bounds == {"longitude": (-2.5, -2.0), "latitude": (53.3, 53.6)}
    assert not [d for d in domain_of(build_suite(SILVER_HOTLIST, settings)) if d[0] == "region_bbox"]


def test_default_bbox_covers_greater_london(plain_settings: Settings) -> None:
    bounds = {
        column: (kwargs["min_value"], kwargs["max_value"])
        for check, column, _, kwargs in domain_of(build_suite(SILVER_CAMERAS, plain_settings))
        if check == "region_bbox"
    }
    # Greater London spans about -0.51..0.33 E, 51.28..51.69 N.
    assert bounds["longitude"][0] < -0.51 and bounds["longitude"][1] > 0.33
    assert bounds["latitude"][0] < 51.28 and bounds["latitude"][1] > 51.69
