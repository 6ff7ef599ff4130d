"""What every source's conform shares: raw text access, timestamp and plate parsing, coordinate checks and the
reject-reason columns.

Each source's ``conform`` returns the silver columns plus ``_reject_reason`` / ``_reject_detail``: the first
critical check the row fails, or null. The caller splits published from quarantined rows; nothing is dropped here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from string import Formatter

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from das.config import Settings
from das.errors import ContractError
from jobs.ingest.geo import coordinate_detail, coordinate_problem
from jobs.ingest.landing import FieldMapping
from schemas.landing import LandingFormat, normalise_field_name
from schemas.model import Table
from schemas.plates import PLATE_NOISE_PATTERN

REJECT_REASON = "_reject_reason"
REJECT_DETAIL = "_reject_detail"
FAR_FUTURE = "9999-12-31 00:00:00"
OFFSET_PATTERN = r"(?i)(z|[+-][0-9]{2}(:?[0-9]{2})?)$"
RAW_PREFIX = "raw__"
LINEAGE = ("source_file", "source_checksum", "row_number", "ingest_run_id", "ingested_at", "ingest_date")
RECORD_COLUMN = "_record"  # the raw record as JSON (see jobs.ingest.parsing)

Check = tuple[Column, str, Column | str]  # (failed, reason code, detail)


@dataclass(frozen=True)
class ConformContext:
    """What a conform function may know besides the raw rows: the run's clock, settings and reference frames."""

    now: datetime
    settings: Settings
    references: Mapping[str, DataFrame] = field(default_factory=dict)  # qualified table name -> frame

    def reference(self, table: Table) -> DataFrame:
        try:
            return self.references[table.qualified_name]
        except KeyError:
            raise KeyError(f"conform needs {table.qualified_name}: list it in the source spec's references") from None


def allowed(table: Table, column: str) -> tuple[str, ...]:
    """The declared allowed values of a column (the declaration is the one source of them)."""
    values = table.column(column).allowed_values
    if not values:
        raise ValueError(f"{table.qualified_name}.{column} declares no allowed_values")
    return values


def declared(table: Table, column: str, value: str) -> str:
    """``value``, checked against the column's declared allowed values (so a rename cannot drift)."""
    if value not in allowed(table, column):
        raise ValueError(f"{value!r} is not an allowed value of {table.qualified_name}.{column}")
    return value


def apply_mapping(df: DataFrame, mapping: FieldMapping | None) -> DataFrame:
    """Rename a non-standard file's fields to contract names and fill declared defaults."""
    if mapping is None:
        return df

    def file_column(file_field: str) -> Column:
        source = normalise_field_name(file_field)
        if source not in df.columns:
            raise ContractError(
                f"mapping {Path(mapping.source_path).name} names field {file_field!r}, which the file lacks; "
                f"file fields: {', '.join(c for c in df.columns if not c.startswith('_'))}"
            )
        return F.col(source)

    for contract_field, spec in mapping.fields.items():
        if "{" in spec:  # a template: "{notes}-{cam_number}"
            parts = [
                piece
                for text_, name, _, _ in Formatter().parse(spec)
                for piece in ([F.lit(text_)] if text_ else []) + ([file_column(name)] if name else [])
            ]
            value = F.concat(*parts)
        else:
            value = file_column(spec)
        df = df.withColumn(normalise_field_name(contract_field), value)
    for contract_field, default in mapping.defaults.items():
        name = normalise_field_name(contract_field)
        if name not in df.columns:
            df = df.withColumn(name, F.lit(default))
    return df


def recognise_format(source: str, formats: Sequence[LandingFormat], columns: Sequence[str]) -> LandingFormat:
    """Which landing format a file follows, from its fields; ContractError names the missing fields."""
    present = set(columns)
    for fmt in formats:
        if fmt.recognises(present):
            missing = fmt.missing(present)
            if missing:
                raise ContractError(f"missing required columns for {fmt.name}: {', '.join(missing)}")
            return fmt
    expected = " | ".join(f"{f.name} ({', '.join(f.required)})" for f in formats)
    raise ContractError(
        f"missing required columns: the fields {sorted(present)} match no {source} format; expected {expected}, "
        "or add a *.mapping.yaml beside the file"
    )


def prefix_raw(df: DataFrame) -> DataFrame:
    """Landed fields get a prefix so typed outputs (e.g. longitude) never clash with their raw text."""
    return df.select(
        *[F.col(c).alias(RAW_PREFIX + c) if not (c.startswith("_") or c in LINEAGE) else F.col(c) for c in df.columns]
    )


def text(name: str, df: DataFrame) -> Column:
    """A landed field as trimmed text; empty strings and absent fields are null."""
    column = RAW_PREFIX + name
    if column not in df.columns:
        return F.lit(None).cast("string")
    return F.when(F.trim(F.col(column)) == "", None).otherwise(F.trim(F.col(column)))


def missing(df: DataFrame, fields: Sequence[str]) -> list[Check]:
    return [(text(f, df).isNull(), "missing_required_field", f"required field {f!r} is empty") for f in fields]


def parse_timestamp(value: Column) -> Column:
    """ISO 8601 -> UTC timestamp; null when unparseable (ANSI mode would otherwise raise)."""
    cleaned = F.regexp_replace(value, r"(?i)z$", "+00:00")
    return F.coalesce(F.try_to_timestamp(cleaned), F.try_to_timestamp(value))


def normalise_plate(plate: Column) -> Column:
    return F.upper(F.regexp_replace(plate, PLATE_NOISE_PATTERN, ""))


def plate_checks(plate_raw: Column) -> list[Check]:
    """A plate is required, and must normalise to exactly its letters and digits: "Ä1" is not "1"."""
    letters_and_digits = F.upper(F.regexp_replace(plate_raw, r"[^\p{L}\p{N}]", ""))
    plate = normalise_plate(plate_raw)
    return [
        (plate_raw.isNull(), "missing_required_field", "required field 'plate' is empty"),
        (
            (plate == "") | (plate != letters_and_digits),
            "invalid_plate",
            F.format_string("plate=%s has no plate characters, or others than A-Z and 0-9", plate_raw),
        ),
    ]


def double(df: DataFrame, name: str) -> Column:
    return text(name, df).try_cast("double")


def located(df: DataFrame, bbox: tuple[float, float, float, float], *, optional: bool = False) -> tuple:
    """Parsed lon/lat and the coordinate checks (invalid text, 0,0, swapped, outside region)."""
    lon, lat = double(df, "longitude"), double(df, "latitude")
    unparseable = (text("longitude", df).isNotNull() & lon.isNull()) | (text("latitude", df).isNotNull() & lat.isNull())
    problem = coordinate_problem(lon, lat, bbox)
    checks: list[Check] = [
        (
            unparseable,
            "invalid_coordinates",
            F.format_string("longitude=%s latitude=%s are not numbers", text("longitude", df), text("latitude", df)),
        ),
    ]
    if not optional:
        checks += missing(df, ["longitude", "latitude"])
    has_point = lon.isNotNull() & lat.isNotNull()
    checks.append((has_point & problem.isNotNull(), "", coordinate_detail(problem, lon, lat, bbox)))
    return lon, lat, problem, checks


def apply_reasons(df: DataFrame, checks: Sequence[Check], problem: Column | None) -> DataFrame:
    code_checks = []
    for failed, code, detail in checks:
        code_col = problem if (code == "" and problem is not None) else F.lit(code)
        code_checks.append((failed, code_col, detail))
    reason: Column = F.lit(None).cast("string")
    detail_col: Column = F.lit(None).cast("string")
    for failed, code_col, detail in reversed(code_checks):
        reason = F.when(failed, code_col).otherwise(reason)
        detail_col = F.when(failed, detail if isinstance(detail, Column) else F.lit(detail)).otherwise(detail_col)
    return df.withColumn(REJECT_REASON, reason).withColumn(REJECT_DETAIL, detail_col)


def at_camera(df: DataFrame, cameras: DataFrame, camera_id: str, at: str) -> DataFrame:
    """``df`` with the position (longitude .. h3_cell) of the camera version in force at ``at``; ``_cam_id`` is null
    when no camera of that id was in force then (the caller rejects the row as ``unknown_camera``)."""
    cams = cameras.select(
        F.col("camera_id").alias("_cam_id"),
        F.col("valid_from").alias("_cam_from"),
        F.coalesce(F.col("valid_to"), F.lit(FAR_FUTURE).cast("timestamp")).alias("_cam_to"),
        "longitude",
        "latitude",
        "easting",
        "northing",
        "h3_cell",
    )
    return df.join(
        F.broadcast(cams),
        (df[camera_id] == cams["_cam_id"]) & (df[at] >= cams["_cam_from"]) & (df[at] < cams["_cam_to"]),
        "left",
    )


def unknown_camera_check(camera_id: str, at_name: str) -> Check:
    """The check that rejects a row ``at_camera`` found no camera for."""
    return (
        F.col("_cam_id").isNull(),
        "unknown_camera",
        F.format_string(f"camera_id=%s is not a known camera at {at_name} (ingest its camera first)", F.col(camera_id)),
    )


def event_time_checks(
    name: str, at: Column, now: datetime, *, clock_skew_s: int, retention_days: int | None = None
) -> list[Check]:
    """An event time must be ISO 8601 with an offset, not in the future, and (optionally) within retention."""
    raw = F.trim(F.col(RAW_PREFIX + name))  # a required field: the caller's frame has it
    landed = F.when(raw == "", None).otherwise(raw)
    now_lit = F.lit(now).cast("timestamp")
    checks: list[Check] = [
        (
            at.isNull() | ~landed.rlike(OFFSET_PATTERN),
            "invalid_timestamp",
            F.format_string(f"{name}=%s is not ISO 8601 with an offset or Z", landed),
        ),
        (
            at > now_lit + F.expr(f"INTERVAL {int(clock_skew_s)} SECONDS"),
            "future_timestamp",
            F.format_string(
                f"{name}=%s is in the future (tolerance DAS_CLOCK_SKEW_TOLERANCE_S=%d s)", landed, F.lit(clock_skew_s)
            ),
        ),
    ]
    if retention_days is not None:
        checks.append(
            (
                at < now_lit - F.expr(f"INTERVAL {int(retention_days)} DAYS"),
                "beyond_retention",
                F.format_string(f"{name}=%s is older than DAS_RETENTION_DAYS=%d", landed, F.lit(retention_days)),
            )
        )
    return checks
