"""ANPR reads: raw landed reads -> silver reads located at the camera's position at read time."""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.ingest.conform.common import (
    Check,
    ConformContext,
    apply_reasons,
    at_camera,
    event_time_checks,
    missing,
    normalise_plate,
    parse_timestamp,
    plate_checks,
    text,
    unknown_camera_check,
)
from schemas.landing import LandingFormat
from schemas.tables import SILVER_CAMERAS


def conform(raw: DataFrame, fmt: LandingFormat, ctx: ConformContext) -> DataFrame:
    """The source spec's entry point: reads are located against silver cameras."""
    return conform_anpr(
        raw,
        ctx.reference(SILVER_CAMERAS),
        now=ctx.now,
        clock_skew_s=ctx.settings.clock_skew_tolerance_s,
        retention_days=ctx.settings.retention_days,
    )


def conform_anpr(
    raw: DataFrame, cameras: DataFrame, *, now: datetime, clock_skew_s: int, retention_days: int
) -> DataFrame:
    """Raw ANPR reads -> silver reads located at the camera's position at read time."""
    read_at = parse_timestamp(text("read_at", raw))
    confidence_text = text("confidence", raw)
    df = raw.select(
        "*",
        text("read_id", raw).alias("_read_id"),
        text("camera_id", raw).alias("_camera_id"),
        text("plate", raw).alias("_plate_raw"),
        read_at.alias("_read_at"),
        confidence_text.try_cast("double").alias("_confidence"),
    )
    joined = at_camera(df, cameras, "_camera_id", "_read_at")
    checks: list[Check] = [
        *missing(joined, ["read_id", "camera_id", "read_at"]),
        *plate_checks(F.col("_plate_raw")),
        *event_time_checks("read_at", F.col("_read_at"), now, clock_skew_s=clock_skew_s, retention_days=retention_days),
        (
            (confidence_text.isNotNull() & F.col("_confidence").isNull())
            | ~F.coalesce(F.col("_confidence").between(0, 1), F.lit(True)),
            "invalid_confidence",
            F.format_string("confidence=%s is not a number in [0, 1]", confidence_text),
        ),
        unknown_camera_check("_camera_id", "read_at"),
    ]
    conformed = joined.select(
        "*",
        F.col("_read_id").alias("read_id"),
        F.col("_camera_id").alias("camera_id"),
        normalise_plate(F.col("_plate_raw")).alias("plate"),
        F.col("_plate_raw").alias("plate_raw"),
        F.col("_read_at").alias("read_at"),
        F.col("_confidence").alias("confidence"),
        F.upper(F.coalesce(text("country", joined), F.lit("GB"))).alias("country"),
        text("direction", joined).alias("direction"),
        text("lane", joined).alias("lane"),
        text("image_uri", joined).alias("image_uri"),
        F.to_date(F.col("_read_at")).alias("read_date"),
    )
    return apply_reasons(conformed, checks, None)
