"""The table declaration model. Each table is declared once; every artefact is generated from it.

Generated artefacts: the Spark ``StructType`` (Delta table schema), the Arrow schema, the SQLAlchemy /
GeoAlchemy2 table for PostGIS (see ``schemas.postgis``), and the skeleton of the quality suite
(see ``quality.suites``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pyarrow as pa
from pyspark.sql import types as T

Layer = Literal["bronze", "silver", "gold", "quarantine", "ops", "reference", "governance"]
ColumnType = Literal[
    "string", "int", "long", "double", "boolean", "timestamp", "date", "array<string>", "evidence", "json"
]

# Evidence is the one nested type: one row per read, crime or camera that backs a flag.
EVIDENCE_FIELDS: tuple[tuple[str, str], ...] = (
    ("kind", "string"),  # read | crime | camera | cell
    ("ref_id", "string"),
    ("camera_id", "string"),
    ("plate", "string"),
    ("at", "timestamp"),
    ("longitude", "double"),
    ("latitude", "double"),
    ("detail", "string"),
)

_SPARK_SCALARS: dict[str, T.DataType] = {
    "string": T.StringType(),
    "json": T.StringType(),  # JSON text in the lake, jsonb in PostGIS
    "int": T.IntegerType(),
    "long": T.LongType(),
    "double": T.DoubleType(),
    "boolean": T.BooleanType(),
    "timestamp": T.TimestampType(),
    "date": T.DateType(),
}
_ARROW_SCALARS: dict[str, pa.DataType] = {
    "string": pa.string(),
    "json": pa.string(),
    "int": pa.int32(),
    "long": pa.int64(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
}


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    nullable: bool = True
    description: str = ""
    # Quality-suite hints, read by quality.suites to build the expectation skeleton.
    allowed_values: tuple[str, ...] | None = None
    min_value: float | None = None
    max_value: float | None = None
    # "layer/table.column" this column refers to, e.g. "silver/cameras.camera_id": values must exist there.
    references: str | None = None

    def spark_type(self) -> T.DataType:
        if self.type == "array<string>":
            return T.ArrayType(T.StringType(), containsNull=False)
        if self.type == "evidence":
            return T.ArrayType(
                T.StructType([T.StructField(n, _SPARK_SCALARS[t], True) for n, t in EVIDENCE_FIELDS]),
                containsNull=False,
            )
        return _SPARK_SCALARS[self.type]

    def arrow_type(self) -> pa.DataType:
        if self.type == "array<string>":
            return pa.list_(pa.field("element", pa.string(), nullable=False))
        if self.type == "evidence":
            struct = pa.struct([pa.field(n, _ARROW_SCALARS[t]) for n, t in EVIDENCE_FIELDS])
            return pa.list_(pa.field("element", struct, nullable=False))
        return _ARROW_SCALARS[self.type]


@dataclass(frozen=True)
class PointGeometry:
    """A PostGIS point column computed from two numeric columns of the same table."""

    name: str
    srid: int
    x_column: str
    y_column: str


@dataclass(frozen=True)
class PolygonGeometry:
    """A PostGIS (multi)polygon column loaded as a shape, e.g. a boundary; not computed from columns."""

    name: str
    srid: int
    geometry_type: Literal["POLYGON", "MULTIPOLYGON"] = "MULTIPOLYGON"


@dataclass(frozen=True)
class Table:
    name: str
    layer: Layer
    description: str
    columns: tuple[Column, ...]
    partition_by: tuple[str, ...] = ()
    key: tuple[str, ...] = ()  # the natural key: what makes a row unique
    geometries: tuple[PointGeometry, ...] = ()
    shapes: tuple[PolygonGeometry, ...] = ()  # PostGIS-only polygon columns (reference boundaries)
    postgis_name: str | None = None  # the serving table in schema ``das``; None = not served
    postgis_partition_by_day: str | None = None  # column for declarative daily partitions
    postgis_exclude: tuple[str, ...] = ()  # lake-only columns (lineage that analysts do not need)
    postgis_indexes: tuple[tuple[str, ...], ...] = ()
    postgis_brin: tuple[str, ...] = ()
    postgis_key: tuple[str, ...] | None = None  # the served table's key when it differs (one version served)
    # Served-only pseudonyms: (column, source column) = HMAC of the source under the pseudonym key, computed at
    # publish (the key never reaches the lake). Analysts' views carry these instead of the source.
    postgis_pseudonyms: tuple[tuple[str, str], ...] = ()
    event_time: str | None = None  # when the recorded event happened: checked against now and retention

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        if len(names) != len(set(names)):
            raise ValueError(f"table {self.name}: duplicate column names in {names}")
        event = (self.event_time,) if self.event_time else ()
        for _, pseudonymised in self.postgis_pseudonyms:
            if pseudonymised not in names:
                raise ValueError(f"table {self.name}: pseudonym of {pseudonymised!r}, which is not declared")
        names = [*names, *(p for p, _ in self.postgis_pseudonyms)]
        for wanted in (*self.partition_by, *self.key, *self.postgis_exclude, *self.postgis_brin, *event):
            if wanted not in names:
                raise ValueError(f"table {self.name}: {wanted!r} is not a declared column")
        for geom in self.geometries:
            for wanted in (geom.x_column, geom.y_column):
                if wanted not in names:
                    raise ValueError(f"table {self.name}: geometry {geom.name} needs column {wanted!r}")

    @property
    def qualified_name(self) -> str:
        return f"{self.layer}/{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"table {self.name} has no column {name!r}")

    def row(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """A row in declared column order, built by column name; absent nullable columns are null."""
        unknown = set(values) - set(self.column_names)
        if unknown:
            raise KeyError(f"table {self.qualified_name} has no columns {sorted(unknown)}")
        missing = [c.name for c in self.columns if not c.nullable and values.get(c.name) is None]
        if missing:
            raise ValueError(f"table {self.qualified_name}: required columns {missing} have no value")
        return tuple(values.get(name) for name in self.column_names)

    def spark_schema(self) -> T.StructType:
        return T.StructType([T.StructField(c.name, c.spark_type(), c.nullable) for c in self.columns])

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.arrow_type(), nullable=c.nullable) for c in self.columns])

    @property
    def served_columns(self) -> list[Column]:
        return [c for c in self.columns if c.name not in self.postgis_exclude]


LINEAGE_COLUMNS: tuple[Column, ...] = (
    Column("source_file", "string", False, "Landing file the row came from"),
    Column("source_checksum", "string", False, "SHA-256 of the landing file (with its mapping file's, when mapped)"),
    Column("row_number", "long", False, "1-based record number within the file"),
    Column("ingest_run_id", "string", False, "The ingest run that wrote the row"),
    Column("ingested_at", "timestamp", False, "When the row was ingested (UTC)"),
)


@dataclass
class Registry:
    tables: dict[str, Table] = field(default_factory=dict)

    def add(self, table: Table) -> Table:
        if table.qualified_name in self.tables:
            raise ValueError(f"table {table.qualified_name} declared twice")
        self.tables[table.qualified_name] = table
        return table

    def get(self, qualified_name: str) -> Table:
        try:
            return self.tables[qualified_name]
        except KeyError:
            known = ", ".join(sorted(self.tables))
            raise KeyError(f"no table {qualified_name!r}; declared tables: {known}") from None

    def served(self) -> list[Table]:
        return [t for t in self.tables.values() if t.postgis_name]
