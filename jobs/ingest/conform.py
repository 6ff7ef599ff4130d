"""Pure transforms from raw landed columns (all strings) to silver rows, per source and format.

Each ``conform_*`` returns the silver columns plus ``_reject_reason`` / ``_reject_detail``: the first critical check
the row fails, or null. The caller splits published from quarantined rows; nothing is dropped here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from das.errors import ContractError
from jobs.ingest.geo import coordinate_detail, coordinate_problem, with_bng_and_h3
from jobs.ingest.landing import FieldMapping
from jobs.ingest.parsing import normalise_name

REJECT_REASON = "_reject_reason"
REJECT_DETAIL = "_reject_detail"
FAR_FUTURE = "9999-12-31 00:00:00"
OFFSET_PATTERN = r"(?i)(z|[+-][0-9]{2}(:?[0-9]{2})?)$"

# police.uk categories (slug) keyed by the labels and slugs sources use; unknown types map to other-crime.
POLICE_UK_CATEGORIES: dict[str, str] = {
    "anti-social behaviour": "anti-social-behaviour",
    "bicycle theft": "bicycle-theft",
    "burglary": "burglary",
    "residential burglary": "burglary",
    "burglary dwelling": "burglary",
    "business and community burglary": "burglary",
    "criminal damage and arson": "criminal-damage-arson",
    "criminal damage": "criminal-damage-arson",
    "arson": "criminal-damage-arson",
    "drugs": "drugs",
    "other crime": "other-crime",
    "other theft": "other-theft",
    "possession of weapons": "possession-of-weapons",
    "public order": "public-order",
    "public disorder and weapons": "public-order",
    "robbery": "robbery",
    "shoplifting": "shoplifting",
    "theft from the person": "theft-from-the-person",
    "vehicle crime": "vehicle-crime",
    "theft of vehicle": "vehicle-crime",
    "theft from vehicle": "vehicle-crime",
    "violence and sexual offences": "violent-crime",
    "violent crime": "violent-crime",
    "violence": "violent-crime",
    "assault": "violent-crime",
}
POLICE_UK_SLUGS = frozenset(POLICE_UK_CATEGORIES.values())


@dataclass(frozen=True)
class SourceFormat:
    name: str
    required: tuple[str, ...]
    recognised_by: tuple[str, ...]


CAMERA_FORMATS = (
    SourceFormat("jamcam_geojson", ("imageurl", "longitude", "latitude"), ("imageurl", "available")),
    SourceFormat("camera_csv", ("camera_id", "longitude", "latitude"), ("camera_id",)),
)
CRIME_FORMATS = (
    SourceFormat("police_uk_csv", ("month", "crime_type"), ("month", "crime_type", "falls_within")),
    SourceFormat("police_uk_api", ("category", "month"), ("category", "month", "location_type")),
    SourceFormat("incident_csv", ("crime_id", "crime_type", "occurred_from", "longitude", "latitude"), ("crime_id",)),
)
ANPR_FORMATS = (SourceFormat("anpr", ("read_id", "camera_id", "plate", "read_at"), ("read_id",)),)
HOTLIST_FORMATS = (SourceFormat("hotlist_csv", ("plate",), ("plate",)),)
FORMATS = {"cameras": CAMERA_FORMATS, "crimes": CRIME_FORMATS, "anpr": ANPR_FORMATS, "hotlist": HOTLIST_FORMATS}


def apply_mapping(df: DataFrame, mapping: FieldMapping | None) -> DataFrame:
    """Rename a non-standard file's fields to contract names and fill declared defaults."""
    if mapping is None:
        return df
    for contract_field, file_field in mapping.fields.items():
        source = normalise_name(file_field)
        if source not in df.columns:
            raise ContractError(
                f"mapping {mapping.source_path} names field {file_field!r}, which the file lacks; "
                f"file fields: {', '.join(c for c in df.columns if not c.startswith('_'))}"
            )
        df = df.withColumn(normalise_name(contract_field), F.col(source))
    for contract_field, value in mapping.defaults.items():
        name = normalise_name(contract_field)
        if name not in df.columns:
            df = df.withColumn(name, F.lit(value))
    return df


def recognise_format(source: str, columns: Sequence[str]) -> SourceFormat:
    """Which landing format a file follows, from its fields; ContractError names the missing fields."""
    present = set(columns)
    candidates = FORMATS[source]
    for fmt in candidates:
        if set(fmt.recognised_by) <= present or source in ("anpr", "hotlist"):
            required = _required_with_aliases(fmt, present)
            missing = [c for c in required if c not in present]
            if not missing:
                return fmt
            if set(fmt.recognised_by) <= present:
                raise ContractError(f"missing required columns for {fmt.name}: {', '.join(missing)}")
    expected = " | ".join(f"{f.name} ({', '.join(f.required)})" for f in candidates)
    raise ContractError(
        f"missing required columns: the fields {sorted(present)} match no {source} format; expected {expected}, "
        "or add a *.mapping.yaml beside the file"
    )


def _required_with_aliases(fmt: SourceFormat, present: set[str]) -> tuple[str, ...]:
    if fmt.name == "incident_csv" and "occurred_at" in present:
        return tuple("occurred_at" if c == "occurred_from" else c for c in fmt.required)
    return fmt.required


RAW_PREFIX = "raw__"
LINEAGE = ("source_file", "source_checksum", "row_number", "ingest_run_id", "ingested_at", "ingest_date")


def prefix_raw(df: DataFrame) -> DataFrame:
    """Landed fields get a prefix so typed outputs (e.g. longitude) never clash with their raw text."""
    return df.select(
        *[F.col(c).alias(RAW_PREFIX + c) if not (c.startswith("_") or c in LINEAGE) else F.col(c) for c in df.columns]
    )


def _text(name: str, df: DataFrame) -> Column:
    """A landed field as trimmed text; empty strings and absent fields are null."""
    column = RAW_PREFIX + name
    if column not in df.columns:
        return F.lit(None).cast("string")
    return F.when(F.trim(F.col(column)) == "", None).otherwise(F.trim(F.col(column)))


def _missing(df: DataFrame, fields: Sequence[str]) -> list[tuple[Column, str, Column | str]]:
    return [(_text(f, df).isNull(), "missing_required_field", f"required field {f!r} is empty") for f in fields]


def parse_timestamp(value: Column) -> Column:
    """ISO 8601 -> UTC timestamp; null when unparseable (ANSI mode would otherwise raise)."""
    cleaned = F.regexp_replace(value, r"(?i)z$", "+00:00")
    return F.coalesce(F.try_to_timestamp(cleaned), F.try_to_timestamp(value))


def normalise_plate(plate: Column) -> Column:
    return F.upper(F.regexp_replace(plate, r"[^A-Za-z0-9]", ""))


def _double(df: DataFrame, name: str) -> Column:
    return _text(name, df).try_cast("double")


def _located(df: DataFrame, bbox: tuple[float, float, float, float], *, optional: bool = False) -> tuple:
    """Parsed lon/lat and the coordinate checks (invalid text, 0,0, swapped, outside region)."""
    lon, lat = _double(df, "longitude"), _double(df, "latitude")
    unparseable = (_text("longitude", df).isNotNull() & lon.isNull()) | (
        _text("latitude", df).isNotNull() & lat.isNull()
    )
    problem = coordinate_problem(lon, lat, bbox)
    checks: list[tuple[Column, str, Column | str]] = [
        (
            unparseable,
            "invalid_coordinates",
            F.format_string("longitude=%s latitude=%s are not numbers", _text("longitude", df), _text("latitude", df)),
        ),
    ]
    if not optional:
        checks += _missing(df, ["longitude", "latitude"])
    has_point = lon.isNotNull() & lat.isNotNull()
    checks.append((has_point & problem.isNotNull(), "", coordinate_detail(problem, lon, lat, bbox)))
    return lon, lat, problem, checks


def _apply_reasons(
    df: DataFrame, checks: Sequence[tuple[Column, str, Column | str]], problem: Column | None
) -> DataFrame:
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


# ---------------------------------------------------------------- ANPR reads


def conform_anpr(
    raw: DataFrame, cameras: DataFrame, *, now: datetime, clock_skew_s: int, retention_days: int
) -> DataFrame:
    """Raw ANPR reads -> silver reads located at the camera's position at read time."""
    read_at = parse_timestamp(_text("read_at", raw))
    confidence_text = _text("confidence", raw)
    df = raw.select(
        "*",
        _text("read_id", raw).alias("_read_id"),
        _text("camera_id", raw).alias("_camera_id"),
        _text("plate", raw).alias("_plate_raw"),
        read_at.alias("_read_at"),
        confidence_text.try_cast("double").alias("_confidence"),
    )
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
    joined = df.join(
        F.broadcast(cams),
        (df["_camera_id"] == cams["_cam_id"])
        & (df["_read_at"] >= cams["_cam_from"])
        & (df["_read_at"] < cams["_cam_to"]),
        "left",
    )
    now_lit = F.lit(now).cast("timestamp")
    checks: list[tuple[Column, str, Column | str]] = [
        *_missing(joined, ["read_id", "camera_id", "read_at"]),
        (
            F.col("_plate_raw").isNull() | (normalise_plate(F.col("_plate_raw")) == ""),
            "missing_required_field",
            "required field 'plate' is empty",
        ),
        (
            F.col("_read_at").isNull() | ~_text("read_at", joined).rlike(OFFSET_PATTERN),
            "invalid_timestamp",
            F.format_string("read_at=%s is not ISO 8601 with an offset or Z", _text("read_at", joined)),
        ),
        (
            F.col("_read_at") > now_lit + F.expr(f"INTERVAL {int(clock_skew_s)} SECONDS"),
            "future_timestamp",
            F.format_string(
                "read_at=%s is in the future (tolerance DAS_CLOCK_SKEW_TOLERANCE_S=%d s)",
                _text("read_at", joined),
                F.lit(clock_skew_s),
            ),
        ),
        (
            F.col("_read_at") < now_lit - F.expr(f"INTERVAL {int(retention_days)} DAYS"),
            "beyond_retention",
            F.format_string(
                "read_at=%s is older than DAS_RETENTION_DAYS=%d", _text("read_at", joined), F.lit(retention_days)
            ),
        ),
        (
            (confidence_text.isNotNull() & F.col("_confidence").isNull())
            | ~F.coalesce(F.col("_confidence").between(0, 1), F.lit(True)),
            "invalid_confidence",
            F.format_string("confidence=%s is not a number in [0, 1]", confidence_text),
        ),
        (
            F.col("_cam_id").isNull(),
            "unknown_camera",
            F.format_string(
                "camera_id=%s is not a known camera at read_at (ingest its camera first)", F.col("_camera_id")
            ),
        ),
    ]
    conformed = joined.select(
        "*",
        F.col("_read_id").alias("read_id"),
        F.col("_camera_id").alias("camera_id"),
        normalise_plate(F.col("_plate_raw")).alias("plate"),
        F.col("_plate_raw").alias("plate_raw"),
        F.col("_read_at").alias("read_at"),
        F.col("_confidence").alias("confidence"),
        F.upper(F.coalesce(_text("country", joined), F.lit("GB"))).alias("country"),
        _text("direction", joined).alias("direction"),
        _text("lane", joined).alias("lane"),
        _text("image_uri", joined).alias("image_uri"),
        F.to_date(F.col("_read_at")).alias("read_date"),
    )
    return _apply_reasons(conformed, checks, None)


# ---------------------------------------------------------------- cameras


def conform_cameras(
    raw: DataFrame, fmt: SourceFormat, *, bbox: tuple[float, float, float, float], h3_resolution: int
) -> DataFrame:
    """Raw camera records -> camera attributes (history is applied by the caller)."""
    if fmt.name == "jamcam_geojson":
        # No id property: the TfL id is the image file name (…/00001.07450.jpg).
        df = raw.select(
            "*",
            F.regexp_extract(_text("imageurl", raw), r"([^/]+?)\.(jpg|jpeg|png)$", 1).alias("camera_id_derived"),
        ).select(
            "*",
            F.when(F.col("camera_id_derived") == "", None).otherwise(F.col("camera_id_derived")).alias("_camera_id"),
            F.regexp_replace(_text("view", raw), r"\\/", "/").alias("_name"),
            F.lit("traffic").alias("_camera_type"),
            F.lit("TfL").alias("_owner"),
            F.when(F.lower(_text("available", raw)) == "true", "active").otherwise("inactive").alias("_status"),
            _text("imageurl", raw).alias("_image_url"),
            _text("videourl", raw).alias("_video_url"),
        )
        id_check: list[tuple[Column, str, Column | str]] = [
            (
                F.col("_camera_id").isNull(),
                "missing_required_field",
                F.format_string("cannot derive a camera id from imageUrl=%s", _text("imageurl", raw)),
            ),
        ]
    else:
        df = raw.select(
            "*",
            _text("camera_id", raw).alias("_camera_id"),
            _text("name", raw).alias("_name"),
            F.lower(F.coalesce(_text("camera_type", raw), F.lit("anpr"))).alias("_camera_type"),
            _text("owner", raw).alias("_owner"),
            F.lower(F.coalesce(_text("status", raw), F.lit("active"))).alias("_status"),
            _text("image_url", raw).alias("_image_url"),
            _text("video_url", raw).alias("_video_url"),
        )
        id_check = _missing(df, ["camera_id"])
    lon, lat, problem, coord_checks = _located(df, bbox)
    numeric = {n: _double(df, n) for n in ("bearing_deg", "fov_deg", "range_m")}
    installed, removed = parse_timestamp(_text("installed_at", df)), parse_timestamp(_text("removed_at", df))
    checks = [
        *id_check,
        *coord_checks,
        (
            ~F.col("_camera_type").isin("anpr", "cctv", "lfr", "traffic"),
            "invalid_value",
            F.format_string("camera_type=%s is not one of anpr|cctv|lfr|traffic", F.col("_camera_type")),
        ),
        (
            ~F.col("_status").isin("active", "inactive"),
            "invalid_value",
            F.format_string("status=%s is not active|inactive", F.col("_status")),
        ),
        *[
            ((_text(n, df).isNotNull() & c.isNull()), "invalid_value", f"{n} is not a number")
            for n, c in numeric.items()
        ],
        (
            (_text("installed_at", df).isNotNull() & installed.isNull())
            | (_text("removed_at", df).isNotNull() & removed.isNull()),
            "invalid_timestamp",
            "installed_at/removed_at is not ISO 8601",
        ),
    ]
    conformed = df.select(
        "*",
        F.col("_camera_id").alias("camera_id"),
        F.col("_name").alias("name"),
        F.col("_camera_type").alias("camera_type"),
        lon.alias("longitude"),
        lat.alias("latitude"),
        numeric["bearing_deg"].alias("bearing_deg"),
        numeric["fov_deg"].alias("fov_deg"),
        numeric["range_m"].alias("range_m"),
        F.col("_owner").alias("owner"),
        F.col("_status").alias("status"),
        (F.col("_status") == "active").alias("available"),
        F.col("_image_url").alias("image_url"),
        F.col("_video_url").alias("video_url"),
        installed.alias("installed_at"),
        removed.alias("removed_at"),
    )
    conformed = _apply_reasons(conformed, checks, problem)
    conformed = with_bng_and_h3(conformed, h3_resolution)
    attributes = [
        "name",
        "camera_type",
        "longitude",
        "latitude",
        "bearing_deg",
        "fov_deg",
        "range_m",
        "owner",
        "status",
        "image_url",
        "video_url",
        "installed_at",
        "removed_at",
    ]
    return conformed.withColumn("attributes_hash", F.sha2(F.to_json(F.struct(*[F.col(a) for a in attributes])), 256))


# ---------------------------------------------------------------- crimes


def crime_category(label: Column) -> Column:
    """police.uk slug for a label or slug; unknown types become other-crime (the original is kept)."""
    key = F.lower(F.trim(label))
    mapping = F.create_map(*[F.lit(x) for pair in POLICE_UK_CATEGORIES.items() for x in pair])
    return (
        F.when(key.isin(*POLICE_UK_SLUGS), key)
        .when(mapping[key].isNotNull(), mapping[key])
        .when(mapping[F.regexp_replace(key, "-", " ")].isNotNull(), mapping[F.regexp_replace(key, "-", " ")])
        .otherwise(F.lit("other-crime"))
    )


def conform_crimes(
    raw: DataFrame, fmt: SourceFormat, *, bbox: tuple[float, float, float, float], h3_resolution: int
) -> DataFrame:
    if fmt.name == "police_uk_csv":
        df = raw.select(
            "*",
            _text("crime_id", raw).alias("_crime_id"),
            _text("crime_type", raw).alias("_type"),
            _text("month", raw).alias("_month"),
            _text("last_outcome_category", raw).alias("_outcome"),
            _text("location", raw).alias("_location"),
            _text("reported_by", raw).alias("_reported_by"),
            F.lit("snapped").alias("_location_precision"),
        )
    elif fmt.name == "police_uk_api":
        df = (
            raw.select(
                "*",
                F.coalesce(_text("persistent_id", raw), _text("id", raw)).alias("_crime_id"),
                _text("category", raw).alias("_type"),
                _text("month", raw).alias("_month"),
                _text("outcome_status_category", raw).alias("_outcome"),
                _text("location_street_name", raw).alias("_location"),
                F.lit(None).cast("string").alias("_reported_by"),
                F.lit("snapped").alias("_location_precision"),
            )
            .withColumn(RAW_PREFIX + "longitude", _text("location_longitude", raw))
            .withColumn(RAW_PREFIX + "latitude", _text("location_latitude", raw))
        )
    else:
        df = raw.select(
            "*",
            _text("crime_id", raw).alias("_crime_id"),
            _text("crime_type", raw).alias("_type"),
            F.lit(None).cast("string").alias("_month"),
            _text("outcome", raw).alias("_outcome"),
            _text("location", raw).alias("_location"),
            F.lit(None).cast("string").alias("_reported_by"),
            F.lit("exact").alias("_location_precision"),
        )
    if fmt.name == "incident_csv":
        start_text = F.coalesce(_text("occurred_from", df), _text("occurred_at", df))
        end_text = F.coalesce(_text("occurred_to", df), _text("occurred_at", df), start_text)
        occurred_from, occurred_to = parse_timestamp(start_text), parse_timestamp(end_text)
        precision = F.lit("exact")
        time_checks: list[tuple[Column, str, Column | str]] = [
            (start_text.isNull(), "missing_required_field", "required field 'occurred_from' is empty"),
            (
                occurred_from.isNull() | occurred_to.isNull(),
                "invalid_timestamp",
                F.format_string("occurred_from=%s / occurred_to=%s is not ISO 8601", start_text, end_text),
            ),
            (occurred_to < occurred_from, "invalid_timestamp", "occurred_to is before occurred_from"),
        ]
    else:
        month_start = F.try_to_timestamp(F.concat(F.col("_month"), F.lit("-01")), F.lit("yyyy-MM-dd"))
        occurred_from = month_start
        occurred_to = F.expr("add_months(_month_start, 1)") - F.expr("INTERVAL 1 SECOND")
        df = df.withColumn("_month_start", month_start)
        occurred_from = F.col("_month_start")
        precision = F.lit("month")
        time_checks = [
            (F.col("_month").isNull(), "missing_required_field", "required field 'month' is empty"),
            (
                F.col("_month_start").isNull(),
                "invalid_timestamp",
                F.format_string("month=%s is not YYYY-MM", F.col("_month")),
            ),
        ]
    optional_location = fmt.name != "incident_csv"
    lon, lat, problem, coord_checks = _located(df, bbox, optional=optional_location)
    checks = [
        *([] if fmt.name != "incident_csv" else _missing(df, ["crime_id"])),
        (F.col("_type").isNull(), "missing_required_field", "required field 'crime_type' is empty"),
        *time_checks,
        *coord_checks,
    ]
    has_point = lon.isNotNull() & lat.isNotNull()
    # Crimes without an id (police.uk anti-social behaviour) are identified by their content plus the ordinal of
    # identical records in the file: identical rows there are separate incidents at the same snapped point.
    record_hash = F.sha2(F.col("_record"), 256)
    ordinal = F.row_number().over(Window.partitionBy("source_checksum", record_hash).orderBy("row_number"))
    content_id = F.concat(
        F.lit("h:"), F.substring(F.sha2(F.concat(record_hash, F.lit("#"), ordinal.cast("string")), 256), 1, 24)
    )
    conformed = df.select(
        "*",
        F.coalesce(F.col("_crime_id"), content_id).alias("crime_id"),
        crime_category(F.col("_type")).alias("crime_type"),
        F.col("_type").alias("crime_type_original"),
        occurred_from.alias("occurred_from"),
        occurred_to.alias("occurred_to"),
        precision.alias("time_precision"),
        lon.alias("longitude"),
        lat.alias("latitude"),
        F.when(has_point, F.col("_location_precision")).otherwise("none").alias("location_precision"),
        F.col("_location").alias("location"),
        _text("lsoa_code", df).alias("lsoa_code"),
        _text("lsoa_name", df).alias("lsoa_name"),
        F.col("_outcome").alias("outcome"),
        F.col("_reported_by").alias("reported_by"),
        F.lit(fmt.name).alias("source_format_name"),
    ).withColumn("crime_month", F.date_format(F.col("occurred_from"), "yyyy-MM"))
    conformed = _apply_reasons(conformed, checks, problem)
    return with_bng_and_h3(conformed, h3_resolution)


# ---------------------------------------------------------------- hotlist


def conform_hotlist(raw: DataFrame) -> DataFrame:
    valid_from_text, valid_to_text = _text("valid_from", raw), _text("valid_to", raw)
    valid_from, valid_to = parse_timestamp(valid_from_text), parse_timestamp(valid_to_text)
    priority = F.lower(F.coalesce(_text("priority", raw), F.lit("medium")))
    plate_raw = _text("plate", raw)
    plate = normalise_plate(plate_raw)
    list_name = F.coalesce(_text("list_name", raw), F.lit("default"))
    checks: list[tuple[Column, str, Column | str]] = [
        (plate_raw.isNull() | (plate == ""), "missing_required_field", "required field 'plate' is empty"),
        (
            ~priority.isin("high", "medium", "low"),
            "invalid_value",
            F.format_string("priority=%s is not high|medium|low", priority),
        ),
        (
            (valid_from_text.isNotNull() & valid_from.isNull()) | (valid_to_text.isNotNull() & valid_to.isNull()),
            "invalid_timestamp",
            F.format_string("valid_from=%s / valid_to=%s is not ISO 8601", valid_from_text, valid_to_text),
        ),
        (valid_to < valid_from, "invalid_timestamp", "valid_to is before valid_from"),
    ]
    conformed = raw.select(
        "*",
        F.sha2(
            F.concat_ws(
                "|",
                list_name,
                plate,
                F.coalesce(valid_from.cast("string"), F.lit("")),
                F.coalesce(valid_to.cast("string"), F.lit("")),
            ),
            256,
        ).alias("hotlist_entry_id"),
        plate.alias("plate"),
        plate_raw.alias("plate_raw"),
        list_name.alias("list_name"),
        _text("reason", raw).alias("reason"),
        priority.alias("priority"),
        valid_from.alias("valid_from"),
        valid_to.alias("valid_to"),
    )
    return _apply_reasons(conformed, checks, None)
