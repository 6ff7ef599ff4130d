"""The lake schema reference (``docs/schema.md``), generated from the table declarations in ``schemas/``.

Regenerate it after changing a declaration::

    .venv/bin/python -m das_tools.schema_reference > docs/schema.md

``tests/unit/das_tools/test_schema_reference.py`` fails when the checked-in file differs from a fresh rendering,
so the reference cannot drift from the declarations. Rendering is pure: the same declarations give the same text.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import get_args

from sqlalchemy.dialects import postgresql

from schemas.model import EVIDENCE_FIELDS, Column, Layer, Table
from schemas.postgis import SCHEMA, primary_key_columns, served_tables, sql_type
from schemas.tables import REGISTRY

REGENERATE = ".venv/bin/python -m das_tools.schema_reference > docs/schema.md"

# The declared column types, in the order the type table lists them.
COLUMN_TYPES = ("string", "int", "long", "double", "boolean", "timestamp", "date", "array<string>", "json", "evidence")

_LAYER_NOTES = {
    "bronze": "records exactly as landed, with lineage; append-only",
    "silver": "validated and conformed, one table per source; published to PostGIS",
    "gold": "derived by the detectors",
    "quarantine": "rejected rows and files, each with a reason",
    "ops": "run bookkeeping: the reconciliation ledger (lake), and summaries for engineers (PostGIS only)",
    "reference": "boundaries and other reference geometry, in PostGIS only; never in the lake",
    "governance": "PostGIS only: the audit log and the users; never in the lake",
}


def declared_tables() -> list[Table]:
    """Every declared table: the lake's (``schemas.tables``), then those served in PostGIS only (reference,
    governance, operations: whatever ``schemas.postgis`` serves beyond the lake)."""
    lake = list(REGISTRY.tables.values())
    return lake + [t for t in served_tables() if not in_lake(t)]


def in_lake(table: Table) -> bool:
    """A lake (Delta) table is one of ``schemas.tables``; the other registries are served in PostGIS only."""
    return REGISTRY.tables.get(table.qualified_name) is table


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _code(names: Iterable[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def _postgres_type(column: Column) -> str:
    try:
        return sql_type(column).compile(dialect=postgresql.dialect())
    except TypeError:
        return "not served (flattened into `flag_evidence`)"


def _checks(column: Column) -> str:
    parts = []
    if column.allowed_values:
        parts.append("one of " + _code(column.allowed_values))
    if column.min_value is not None:
        parts.append(f"≥ {column.min_value:g}")
    if column.max_value is not None:
        parts.append(f"≤ {column.max_value:g}")
    if column.references:
        parts.append(f"must exist in `{column.references}`")
    return "; ".join(parts)


def _anchor(table: Table) -> str:
    """The GitHub-style anchor of a table's heading: punctuation but ``_`` and ``-`` dropped."""
    return table.qualified_name.replace("/", "").lower()


def _contents(tables: Sequence[Table]) -> list[str]:
    lines = [
        "| table | layer | lake path | PostGIS | description |",
        "|---|---|---|---|---|",
    ]
    for t in tables:
        path = f"`<lake>/{t.layer}/{t.name}`" if in_lake(t) else "—"
        served = f"`{SCHEMA}.{t.postgis_name}`" if t.postgis_name else "—"
        lines.append(
            f"| [`{t.qualified_name}`](#{_anchor(t)}) | {t.layer} | {path} | {served} | {_cell(t.description)} |"
        )
    return lines


def _type_table() -> list[str]:
    lines = [
        "| declared type | Delta / Spark | Arrow | PostgreSQL |",
        "|---|---|---|---|",
    ]
    for name in COLUMN_TYPES:
        column = Column("x", name)  # type: ignore[arg-type]
        spark = column.spark_type().simpleString()
        arrow = str(column.arrow_type())
        lines.append(f"| `{name}` | `{_cell(spark)}` | `{_cell(arrow)}` | {_postgres_type(column)} |")
    return lines


def _evidence_table() -> list[str]:
    lines = ["| field | type |", "|---|---|"]
    lines += [f"| `{name}` | `{kind}` |" for name, kind in EVIDENCE_FIELDS]
    return lines


def _serving(table: Table) -> list[str]:
    if not table.postgis_name:
        return ["- **PostGIS:** not served."]
    lines = [f"- **PostGIS:** `{SCHEMA}.{table.postgis_name}`, primary key {_code(primary_key_columns(table))}."]
    if table.postgis_key:
        lines.append(f"  - One version per {_code(table.postgis_key)} is served (the current one).")
    if table.postgis_partition_by_day:
        lines.append(f"  - Range-partitioned by day on `{table.postgis_partition_by_day}`.")
    if table.postgis_exclude:
        lines.append(f"  - Not served (lake only): {_code(table.postgis_exclude)}.")
    for pseudonym, source in table.postgis_pseudonyms:
        lines.append(
            f"  - Added at publish: `{pseudonym}` (`TEXT`), HMAC-SHA256 of `{source}` under the pseudonym key (hex)."
        )
    for geom in table.geometries:
        lines.append(
            f"  - Added: `{geom.name}` `geometry(POINT,{geom.srid})`, generated from "
            f"`{geom.x_column}`/`{geom.y_column}` (EPSG:{geom.srid}), GiST-indexed."
        )
    for shape in table.shapes:
        lines.append(f"  - Added: `{shape.name}` `geometry({shape.geometry_type},{shape.srid})`, GiST-indexed.")
    indexes = [f"({_code(cols)})" for cols in table.postgis_indexes]
    indexes += [f"BRIN ({_code((col,))})" for col in table.postgis_brin]
    if indexes:
        lines.append(f"  - Indexes: {', '.join(indexes)}.")
    return lines


def _table_section(table: Table) -> list[str]:
    sentence = table.description if table.description.endswith(".") else table.description + "."
    lines = [f"### `{table.qualified_name}`", "", sentence, ""]
    if in_lake(table):
        lines.append(f"- **Lake path:** `<lake>/{table.layer}/{table.name}` (Delta).")
    else:
        lines.append("- **Lake path:** none: PostGIS only.")
    lines.append(f"- **Key:** {_code(table.key) if table.key else 'none'}.")
    if in_lake(table):
        lines.append(f"- **Partitioned by:** {_code(table.partition_by) if table.partition_by else 'not partitioned'}.")
    if table.event_time:
        lines.append(
            f"- **Event time:** `{table.event_time}` (checked against now, the clock-skew tolerance and retention)."
        )
    lines += _serving(table)
    lines += [
        "",
        "| column | type | nullable | description | checks |",
        "|---|---|---|---|---|",
    ]
    for c in table.columns:
        nullable = "yes" if c.nullable else "no"
        lines.append(f"| `{c.name}` | `{c.type}` | {nullable} | {_cell(c.description)} | {_cell(_checks(c))} |")
    return [*lines, ""]


def render(tables: Sequence[Table] | None = None) -> str:
    """The whole reference as Markdown."""
    tables = list(declared_tables() if tables is None else tables)
    lake = [t for t in tables if in_lake(t)]
    postgis_only = [t for t in tables if not in_lake(t)]
    present = {t.layer for t in tables}
    layers = [layer for layer in get_args(Layer) if layer in present]
    lines = [
        "# Lake schema reference",
        "",
        "<!-- Generated from the declarations in schemas/ by das_tools/schema_reference.py. Do not edit by hand;",
        f"     regenerate with: {REGENERATE} -->",
        "",
        "Every table of das, as declared once in `schemas/`: `schemas/tables.py` for the lake, and the registries",
        "of the tables that live only in PostGIS (reference, governance, operations). The Delta schemas, the Arrow",
        "schemas, the PostGIS tables (`schemas/postgis.py`, and through it the Alembic migrations) and the",
        "skeleton of the quality suites are all generated from the same declarations, so what this page says is",
        "what they hold.",
        "",
        "- `<lake>` is the lake root: `DAS_LAKE_ROOT`, by default `DAS_HOME/lake` (a path or an object-store URI).",
        f"- Served tables live in the PostGIS schema `{SCHEMA}`. The analyst views and functions built on them are",
        "  in `docs/analyst-queries.md`.",
        "- **Key** is the natural key, what makes a row unique. **Checks** are the declaration's hints that the",
        "  Great Expectations suites are generated from (allowed values, ranges, references to another table).",
        "- The run journal (`<lake>/_journal/<source>/<run_id>.json`, see `jobs/ingest/journal.py`) is JSON, not a",
        "  table, and is not listed here.",
        "",
        "Layers:",
        "",
    ]
    lines += [f"- **{layer}**: {_LAYER_NOTES.get(layer, '')}" for layer in layers]
    lines += ["", "## Contents", "", *_contents(tables), ""]
    lines += ["## Column types", "", *_type_table(), ""]
    lines += [
        "The `evidence` type is a list of structs, one per read, crime, camera or cell that backs a flag:",
        "",
        *_evidence_table(),
        "",
    ]
    lines += ["## Lake tables", ""]
    for table in lake:
        lines += _table_section(table)
    if postgis_only:
        lines += ["## PostGIS-only tables", ""]
        for table in postgis_only:
            lines += _table_section(table)
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
