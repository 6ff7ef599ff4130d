"""Hotlists: vehicles of interest with list, priority and validity."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.ingest.conform.common import (
    Check,
    ConformContext,
    allowed,
    apply_reasons,
    normalise_plate,
    parse_timestamp,
    plate_checks,
    text,
)
from schemas.landing import LandingFormat
from schemas.tables import SILVER_HOTLIST

PRIORITIES = allowed(SILVER_HOTLIST, "priority")


def conform(raw: DataFrame, fmt: LandingFormat, ctx: ConformContext) -> DataFrame:
    return conform_hotlist(raw)


def conform_hotlist(raw: DataFrame) -> DataFrame:
    valid_from_text, valid_to_text = text("valid_from", raw), text("valid_to", raw)
    valid_from, valid_to = parse_timestamp(valid_from_text), parse_timestamp(valid_to_text)
    priority = F.lower(F.coalesce(text("priority", raw), F.lit("medium")))
    plate_raw = text("plate", raw)
    plate = normalise_plate(plate_raw)
    list_name = F.coalesce(text("list_name", raw), F.lit("default"))
    checks: list[Check] = [
        *plate_checks(plate_raw),
        (
            ~priority.isin(*PRIORITIES),
            "invalid_value",
            F.format_string(f"priority=%s is not {'|'.join(PRIORITIES)}", priority),
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
            ),
            256,
        ).alias("hotlist_entry_id"),
        plate.alias("plate"),
        plate_raw.alias("plate_raw"),
        list_name.alias("list_name"),
        text("reason", raw).alias("reason"),
        priority.alias("priority"),
        valid_from.alias("valid_from"),
        valid_to.alias("valid_to"),
    )
    return apply_reasons(conformed, checks, None)
