"""Cameras: raw camera records (JamCam GeoJSON or camera CSV) -> camera attributes (history is applied later)."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.ingest.conform.common import (
    Check,
    ConformContext,
    allowed,
    apply_reasons,
    double,
    located,
    missing,
    parse_timestamp,
    text,
)
from jobs.ingest.geo import with_bng_and_h3
from schemas.landing import LandingFormat
from schemas.tables import SILVER_CAMERAS

CAMERA_TYPES = allowed(SILVER_CAMERAS, "camera_type")
CAMERA_STATUSES = allowed(SILVER_CAMERAS, "status")
# A change in any of these opens a new camera version (SCD2).
VERSIONED_ATTRIBUTES = (
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
)


def conform(raw: DataFrame, fmt: LandingFormat, ctx: ConformContext) -> DataFrame:
    return conform_cameras(raw, fmt, bbox=ctx.settings.region_bbox, h3_resolution=ctx.settings.h3_resolution)


def conform_cameras(
    raw: DataFrame, fmt: LandingFormat, *, bbox: tuple[float, float, float, float], h3_resolution: int
) -> DataFrame:
    """Raw camera records -> camera attributes (history is applied by the caller)."""
    if fmt.name == "jamcam_geojson":
        # No id property: the TfL id is the image file name (…/00001.07450.jpg).
        df = raw.select(
            "*",
            F.regexp_extract(text("imageurl", raw), r"([^/]+?)\.(jpg|jpeg|png)$", 1).alias("camera_id_derived"),
        ).select(
            "*",
            F.when(F.col("camera_id_derived") == "", None).otherwise(F.col("camera_id_derived")).alias("_camera_id"),
            F.regexp_replace(text("view", raw), r"\\/", "/").alias("_name"),
            F.lit("traffic").alias("_camera_type"),
            F.lit("TfL").alias("_owner"),
            F.when(F.lower(text("available", raw)) == "true", "active").otherwise("inactive").alias("_status"),
            text("imageurl", raw).alias("_image_url"),
            text("videourl", raw).alias("_video_url"),
        )
        id_check: list[Check] = [
            (
                F.col("_camera_id").isNull(),
                "missing_required_field",
                F.format_string("cannot derive a camera id from imageUrl=%s", text("imageurl", raw)),
            ),
        ]
    else:
        df = raw.select(
            "*",
            text("camera_id", raw).alias("_camera_id"),
            text("name", raw).alias("_name"),
            F.lower(F.coalesce(text("camera_type", raw), F.lit("anpr"))).alias("_camera_type"),
            text("owner", raw).alias("_owner"),
            F.lower(F.coalesce(text("status", raw), F.lit("active"))).alias("_status"),
            text("image_url", raw).alias("_image_url"),
            text("video_url", raw).alias("_video_url"),
        )
        id_check = missing(df, ["camera_id"])
    lon, lat, problem, coord_checks = located(df, bbox)
    numeric = {n: double(df, n) for n in ("bearing_deg", "fov_deg", "range_m")}
    installed, removed = parse_timestamp(text("installed_at", df)), parse_timestamp(text("removed_at", df))
    checks = [
        *id_check,
        *coord_checks,
        (
            ~F.col("_camera_type").isin(*CAMERA_TYPES),
            "invalid_value",
            F.format_string(f"camera_type=%s is not one of {'|'.join(CAMERA_TYPES)}", F.col("_camera_type")),
        ),
        (
            ~F.col("_status").isin(*CAMERA_STATUSES),
            "invalid_value",
            F.format_string(f"status=%s is not {'|'.join(CAMERA_STATUSES)}", F.col("_status")),
        ),
        *[
            ((text(n, df).isNotNull() & c.isNull()), "invalid_value", f"{n} is not a number")
            for n, c in numeric.items()
        ],
        (
            (text("installed_at", df).isNotNull() & installed.isNull())
            | (text("removed_at", df).isNotNull() & removed.isNull()),
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
    conformed = apply_reasons(conformed, checks, problem)
    conformed = with_bng_and_h3(conformed, h3_resolution)
    attributes = F.to_json(F.struct(*[F.col(a) for a in VERSIONED_ATTRIBUTES]))
    return conformed.withColumn("attributes_hash", F.sha2(attributes, 256))
