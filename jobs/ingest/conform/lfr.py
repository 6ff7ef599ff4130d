"""Live facial recognition: deployments and alerts, as the LFR system and its operators record them.

das stores no face images and no biometric templates, only the records: where and when a deployment stood, how
many faces it compared with a watchlist of what size, and for each alert the operator's verdict and what followed.
An alert must belong to a deployment das holds (ingest deployments first).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.ingest.conform.common import (
    Check,
    ConformContext,
    allowed,
    apply_reasons,
    located,
    missing,
    parse_timestamp,
    text,
)
from jobs.ingest.geo import with_bng_and_h3
from schemas.landing import LandingFormat
from schemas.model import Table
from schemas.tables import LFR_DEPLOYMENT_TOTALS, SILVER_LFR_ALERTS, SILVER_LFR_DEPLOYMENTS

VERDICTS = allowed(SILVER_LFR_ALERTS, "operator_verdict")
OUTCOMES = allowed(SILVER_LFR_ALERTS, "outcome")
_ID_SEPARATORS = r"[;|,\s]+"


def conform_deployments_source(raw: DataFrame, fmt: LandingFormat, ctx: ConformContext) -> DataFrame:
    return conform_deployments(raw, bbox=ctx.settings.region_bbox, h3_resolution=ctx.settings.h3_resolution)


def conform_alerts_source(raw: DataFrame, fmt: LandingFormat, ctx: ConformContext) -> DataFrame:
    deployments = ctx.reference(SILVER_LFR_DEPLOYMENTS).where(F.col("is_current"))
    return conform_alerts(raw, deployments, now=ctx.now, clock_skew_s=ctx.settings.clock_skew_tolerance_s)


def _count(name: str, df: DataFrame) -> tuple[Column, Check]:
    """A non-negative whole number, and the check that rejects anything else."""
    value = text(name, df)
    number = F.when(value.rlike(r"^[0-9]{1,15}$"), value.cast("long"))
    return number, (
        value.isNotNull() & number.isNull(),
        "invalid_value",
        F.format_string(f"{name}=%s is not a whole number of at least 0", value),
    )


def camera_id_list(value: Column) -> Column:
    """'C1;C2', 'C1|C2', 'C1 C2' or a JSON array ["C1","C2"] -> the ids, in order; null or blank -> []."""
    as_json = F.from_json(value, "array<string>")
    listed = F.when(value.startswith("["), as_json).otherwise(
        F.split(F.regexp_replace(value, r"^[;|,\s]+|[;|,\s]+$", ""), _ID_SEPARATORS)
    )
    cleaned = F.filter(F.transform(listed, lambda c: F.trim(c)), lambda c: c.isNotNull() & (c != ""))
    return F.coalesce(cleaned, F.array().cast("array<string>"))


def conform_deployments(raw: DataFrame, *, bbox: tuple[float, float, float, float], h3_resolution: int) -> DataFrame:
    starts_text, ends_text = text("starts_at", raw), text("ends_at", raw)
    starts, ends = parse_timestamp(starts_text), parse_timestamp(ends_text)
    watchlist, watchlist_check = _count("watchlist_size", raw)
    faces, faces_check = _count("faces_scanned", raw)
    ids_text = text("camera_ids", raw)
    lon, lat, problem, coord_checks = located(raw, bbox)
    checks: list[Check] = [
        *missing(raw, ["deployment_id", "starts_at"]),
        *coord_checks,
        (
            (starts_text.isNotNull() & starts.isNull()) | (ends_text.isNotNull() & ends.isNull()),
            "invalid_timestamp",
            F.format_string("starts_at=%s / ends_at=%s is not ISO 8601", starts_text, ends_text),
        ),
        (ends < starts, "invalid_timestamp", F.format_string("ends_at=%s is before starts_at", ends_text)),
        watchlist_check,
        faces_check,
        (
            ids_text.startswith("[") & F.from_json(ids_text, "array<string>").isNull(),
            "invalid_value",
            F.format_string("camera_ids=%s is not a JSON array of ids, nor ids separated by ; | or ,", ids_text),
        ),
    ]
    conformed = raw.select(
        "*",
        text("deployment_id", raw).alias("deployment_id"),
        text("location_name", raw).alias("location_name"),
        lon.alias("longitude"),
        lat.alias("latitude"),
        starts.alias("starts_at"),
        ends.alias("ends_at"),
        watchlist.alias("watchlist_size"),
        faces.alias("faces_scanned"),
        camera_id_list(ids_text).alias("camera_ids"),
    )
    return with_bng_and_h3(apply_reasons(conformed, checks, problem), h3_resolution)


def conform_alerts(raw: DataFrame, deployments: DataFrame, *, now: datetime, clock_skew_s: int) -> DataFrame:
    """Alerts, each checked against the deployments held (``deployments``: current silver rows)."""
    alerted_text = text("alerted_at", raw)
    alerted = parse_timestamp(alerted_text)
    verdict = F.lower(text("operator_verdict", raw))
    outcome = F.lower(text("outcome", raw))
    known = deployments.select(F.col("deployment_id").alias("_known_deployment")).distinct()
    df = raw.join(F.broadcast(known), text("deployment_id", raw) == F.col("_known_deployment"), "left")
    now_lit = F.lit(now).cast("timestamp")
    checks: list[Check] = [
        *missing(df, ["alert_id", "deployment_id", "alerted_at", "operator_verdict"]),
        (
            alerted_text.isNotNull() & alerted.isNull(),
            "invalid_timestamp",
            F.format_string("alerted_at=%s is not ISO 8601", alerted_text),
        ),
        (
            alerted > now_lit + F.expr(f"INTERVAL {int(clock_skew_s)} SECONDS"),
            "future_timestamp",
            F.format_string(
                "alerted_at=%s is in the future (tolerance DAS_CLOCK_SKEW_TOLERANCE_S=%d s)",
                alerted_text,
                F.lit(clock_skew_s),
            ),
        ),
        (
            verdict.isNotNull() & ~verdict.isin(*VERDICTS),
            "invalid_value",
            F.format_string(f"operator_verdict=%s is not {'|'.join(VERDICTS)}", text("operator_verdict", df)),
        ),
        (
            outcome.isNotNull() & ~outcome.isin(*OUTCOMES),
            "invalid_value",
            F.format_string(f"outcome=%s is not {'|'.join(OUTCOMES)}", text("outcome", df)),
        ),
        (
            text("deployment_id", df).isNotNull() & F.col("_known_deployment").isNull(),
            "unknown_deployment",
            F.format_string(
                "deployment_id=%s is not a known LFR deployment (ingest its deployment record first)",
                text("deployment_id", df),
            ),
        ),
    ]
    conformed = df.select(
        "*",
        text("alert_id", df).alias("alert_id"),
        text("deployment_id", df).alias("deployment_id"),
        alerted.alias("alerted_at"),
        text("watchlist_category", df).alias("watchlist_category"),
        verdict.alias("operator_verdict"),
        outcome.alias("outcome"),
        text("demographic_group", df).alias("demographic_group"),
    )
    return apply_reasons(conformed, checks, None)


def deployment_totals(deployments: DataFrame, alerts: DataFrame) -> DataFrame:
    """Per current deployment: its faces scanned and its current alerts (``schemas.tables.LFR_DEPLOYMENT_TOTALS``)."""
    counts = alerts.groupBy("deployment_id").agg(F.count("*").alias("_alerts"))
    return (
        deployments.select("deployment_id", "faces_scanned")
        .join(counts, "deployment_id", "left")
        .select("deployment_id", "faces_scanned", F.coalesce(F.col("_alerts"), F.lit(0)).cast("long").alias("alerts"))
    )


def totals_after_deployments(batch: DataFrame, others: Mapping[str, DataFrame]) -> tuple[Table, DataFrame]:
    """The cross-table gate of a deployments batch (``batch``: the staged silver, every version)."""
    alerts = others[SILVER_LFR_ALERTS.qualified_name]
    return LFR_DEPLOYMENT_TOTALS, deployment_totals(batch.where(F.col("is_current")), alerts)


def totals_after_alerts(batch: DataFrame, others: Mapping[str, DataFrame]) -> tuple[Table, DataFrame]:
    """The cross-table gate of an alerts batch."""
    deployments = others[SILVER_LFR_DEPLOYMENTS.qualified_name]
    return LFR_DEPLOYMENT_TOTALS, deployment_totals(deployments, batch.where(F.col("is_current")))
