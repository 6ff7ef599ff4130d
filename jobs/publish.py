"""Publish what an ingest run changed from silver Delta into PostGIS, by the source spec's publish mode."""

from __future__ import annotations

from datetime import date
from typing import Any

from pyspark.sql import functions as F

from das import postgis
from das.config import Settings
from das.lake import Lake
from jobs.ingest.spec import SourceSpec
from schemas.postgis import copy_columns
from schemas.tables import INGEST_RUNS


def publish_run(lake: Lake, settings: Settings, spec: SourceSpec, summary: dict[str, Any]) -> dict[str, int]:
    """The run's ledger rows, then the silver slices it changed; returns rows published per PostGIS table."""
    published: dict[str, int] = {}
    if summary.get("run_id"):
        runs = lake.read(INGEST_RUNS).where(F.col("ingest_run_id") == summary["run_id"])
        published[INGEST_RUNS.postgis_name or ""] = postgis.publish_upsert(settings, INGEST_RUNS, runs.toArrow())
    if summary.get("rows_published", 0) == 0 or spec.publish == "none":
        return published
    table = spec.silver
    target = table.postgis_name or ""
    if spec.publish == "replace":
        published[target] = postgis.publish_replace(settings, table, lake.read(table).toArrow())
    elif spec.publish == "upsert":
        published[target] = postgis.publish_upsert(settings, table, lake.read(table).toArrow())
    else:  # day_partitions
        column = table.partition_by[0]
        total = 0
        for value in summary.get("published_partitions", []):
            day = date.fromisoformat(value)
            # Streamed from the lake in Arrow batches: a day of reads is too big to collect on the driver.
            batches = lake.iter_batches(table, partitions=[(column, "=", day)], columns=copy_columns(table))
            total += postgis.publish_day_partition(settings, table, batches, day)
        published[target] = total
    return published
