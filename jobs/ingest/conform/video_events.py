"""AI video-analytics events: detected objects, located at their camera's position at detection time.

das takes in what the analytics system emits (class, confidence, the per-camera track id, attributes such as colour
and vehicle type) and never the footage. ``attributes`` must be a JSON object: in CSV a JSON text field, in JSONL a
nested object (which parsing flattens to ``attributes_<key>`` fields; they are put back together here).
"""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.ingest.conform.common import (
    RAW_PREFIX,
    Check,
    ConformContext,
    allowed,
    apply_reasons,
    at_camera,
    event_time_checks,
    missing,
    parse_timestamp,
    text,
    unknown_camera_check,
)
from schemas.landing import LandingFormat
from schemas.tables import SILVER_CAMERAS, SILVER_VIDEO_EVENTS

OBJECT_CLASSES = allowed(SILVER_VIDEO_EVENTS, "object_class")
_ATTRIBUTE_PREFIX = RAW_PREFIX + "attributes_"


def conform(raw: DataFrame, fmt: LandingFormat, ctx: ConformContext) -> DataFrame:
    return conform_video_events(
        raw,
        ctx.reference(SILVER_CAMERAS),
        now=ctx.now,
        clock_skew_s=ctx.settings.clock_skew_tolerance_s,
        retention_days=ctx.settings.retention_days,
    )


def attributes_json(raw: DataFrame) -> tuple[Column, Column]:
    """(the attributes as canonical JSON object text or null, whether what landed was not a JSON object)."""
    landed = text("attributes", raw)
    as_map = F.from_json(landed, "map<string,string>")
    bad = landed.isNotNull() & (~landed.startswith("{") | as_map.isNull())
    # Keys and values in lower case, trimmed: attribute search compares them so ("Red" is "red").
    canonical = F.transform_values(
        F.transform_keys(as_map, lambda k, _: F.lower(F.trim(k))), lambda _, v: F.lower(F.trim(v))
    )
    from_text = F.when(~bad, F.to_json(canonical))
    flattened = [c for c in raw.columns if c.startswith(_ATTRIBUTE_PREFIX)]
    if not flattened:
        return from_text, bad
    pairs = [
        part
        for c in flattened
        for part in (F.lit(c.removeprefix(_ATTRIBUTE_PREFIX)), F.lower(text(c.removeprefix(RAW_PREFIX), raw)))
    ]
    nested = F.map_filter(F.create_map(*pairs), lambda _, v: v.isNotNull())
    from_object = F.when(F.size(nested) > 0, F.to_json(nested))
    return F.coalesce(from_text, from_object), bad


def conform_video_events(
    raw: DataFrame, cameras: DataFrame, *, now: datetime, clock_skew_s: int, retention_days: int
) -> DataFrame:
    detected_text, confidence_text = text("detected_at", raw), text("confidence", raw)
    detected = parse_timestamp(detected_text)
    object_class = F.lower(text("object_class", raw))
    attributes, bad_attributes = attributes_json(raw)
    df = raw.select("*", text("camera_id", raw).alias("_camera_id"), detected.alias("_detected_at"))
    joined = at_camera(df, cameras, "_camera_id", "_detected_at")
    confidence = confidence_text.try_cast("double")
    checks: list[Check] = [
        *missing(joined, ["event_id", "camera_id", "detected_at", "object_class", "confidence"]),
        *event_time_checks(
            "detected_at", F.col("_detected_at"), now, clock_skew_s=clock_skew_s, retention_days=retention_days
        ),
        (
            ~object_class.isin(*OBJECT_CLASSES),
            "invalid_value",
            F.format_string(f"object_class=%s is not one of {'|'.join(OBJECT_CLASSES)}", text("object_class", joined)),
        ),
        (
            confidence.isNull() | ~confidence.between(0, 1),
            "invalid_confidence",
            F.format_string("confidence=%s is not a number in [0, 1]", confidence_text),
        ),
        (
            bad_attributes,
            "invalid_attributes",
            F.format_string(
                'attributes=%s is not a JSON object, e.g. {"colour": "red", "vehicle_type": "van"}',
                F.substring(text("attributes", joined), 1, 200),
            ),
        ),
        unknown_camera_check("_camera_id", "detected_at"),
    ]
    conformed = joined.select(
        "*",
        text("event_id", joined).alias("event_id"),
        F.col("_camera_id").alias("camera_id"),
        F.col("_detected_at").alias("detected_at"),
        object_class.alias("object_class"),
        confidence.alias("confidence"),
        text("track_id", joined).alias("track_id"),
        attributes.alias("attributes"),
        text("image_uri", joined).alias("image_uri"),
        F.to_date(F.col("_detected_at")).alias("detected_date"),
    )
    return apply_reasons(conformed, checks, None)
