"""Crimes: police.uk street CSV, police.uk API JSON or incident CSV -> crimes with an occurrence window."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.ingest.conform.common import (
    RAW_PREFIX,
    RECORD_COLUMN,
    Check,
    ConformContext,
    apply_reasons,
    declared,
    located,
    missing,
    parse_timestamp,
    text,
)
from jobs.ingest.geo import with_bng_and_h3
from schemas.landing import LandingFormat
from schemas.tables import SILVER_CRIMES

EXACT_TIME, MONTH = (declared(SILVER_CRIMES, "time_precision", v) for v in ("exact", "month"))
EXACT_LOCATION, SNAPPED, NO_LOCATION = (
    declared(SILVER_CRIMES, "location_precision", v) for v in ("exact", "snapped", "none")
)

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


def conform(raw: DataFrame, fmt: LandingFormat, ctx: ConformContext) -> DataFrame:
    return conform_crimes(raw, fmt, bbox=ctx.settings.region_bbox, h3_resolution=ctx.settings.h3_resolution)


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
    raw: DataFrame, fmt: LandingFormat, *, bbox: tuple[float, float, float, float], h3_resolution: int
) -> DataFrame:
    if fmt.name == "police_uk_csv":
        df = raw.select(
            "*",
            text("crime_id", raw).alias("_crime_id"),
            text("crime_type", raw).alias("_type"),
            text("month", raw).alias("_month"),
            text("last_outcome_category", raw).alias("_outcome"),
            text("location", raw).alias("_location"),
            text("reported_by", raw).alias("_reported_by"),
            F.lit(SNAPPED).alias("_location_precision"),
        )
    elif fmt.name == "police_uk_api":
        df = (
            raw.select(
                "*",
                F.coalesce(text("persistent_id", raw), text("id", raw)).alias("_crime_id"),
                text("category", raw).alias("_type"),
                text("month", raw).alias("_month"),
                text("outcome_status_category", raw).alias("_outcome"),
                text("location_street_name", raw).alias("_location"),
                F.lit(None).cast("string").alias("_reported_by"),
                F.lit(SNAPPED).alias("_location_precision"),
            )
            .withColumn(RAW_PREFIX + "longitude", text("location_longitude", raw))
            .withColumn(RAW_PREFIX + "latitude", text("location_latitude", raw))
        )
    else:
        df = raw.select(
            "*",
            text("crime_id", raw).alias("_crime_id"),
            text("crime_type", raw).alias("_type"),
            F.lit(None).cast("string").alias("_month"),
            text("outcome", raw).alias("_outcome"),
            text("location", raw).alias("_location"),
            F.lit(None).cast("string").alias("_reported_by"),
            F.lit(EXACT_LOCATION).alias("_location_precision"),
        )
    if fmt.name == "incident_csv":
        start_text = F.coalesce(text("occurred_from", df), text("occurred_at", df))
        end_text = F.coalesce(text("occurred_to", df), text("occurred_at", df), start_text)
        occurred_from, occurred_to = parse_timestamp(start_text), parse_timestamp(end_text)
        precision = F.lit(EXACT_TIME)
        time_checks: list[Check] = [
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
        precision = F.lit(MONTH)
        time_checks = [
            (F.col("_month").isNull(), "missing_required_field", "required field 'month' is empty"),
            (
                F.col("_month_start").isNull(),
                "invalid_timestamp",
                F.format_string("month=%s is not YYYY-MM", F.col("_month")),
            ),
        ]
    optional_location = fmt.name != "incident_csv"
    lon, lat, problem, coord_checks = located(df, bbox, optional=optional_location)
    checks = [
        *([] if fmt.name != "incident_csv" else missing(df, ["crime_id"])),
        (F.col("_type").isNull(), "missing_required_field", "required field 'crime_type' is empty"),
        *time_checks,
        *coord_checks,
    ]
    has_point = lon.isNotNull() & lat.isNotNull()
    # Crimes without an id (police.uk anti-social behaviour) are identified by their content plus the ordinal of
    # identical records in the file: identical rows there are separate incidents at the same snapped point.
    record_hash = F.sha2(F.col(RECORD_COLUMN), 256)
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
        F.when(has_point, F.col("_location_precision")).otherwise(NO_LOCATION).alias("location_precision"),
        F.col("_location").alias("location"),
        text("lsoa_code", df).alias("lsoa_code"),
        text("lsoa_name", df).alias("lsoa_name"),
        F.col("_outcome").alias("outcome"),
        F.col("_reported_by").alias("reported_by"),
        F.lit(fmt.name).alias("source_format"),
    ).withColumn("crime_month", F.date_format(F.col("occurred_from"), "yyyy-MM"))
    conformed = apply_reasons(conformed, checks, problem)
    return with_bng_and_h3(conformed, h3_resolution)
