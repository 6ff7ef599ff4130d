"""Tiny silver-shaped frames from a few dicts, with defaults filled from the table declarations.

Positions are given in British National Grid metres (``position(dx, dy)`` is relative to a point in
central London); longitude/latitude and the H3 cell are derived, so distances in tests are exact.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

import h3
from pyproj import Transformer
from pyspark.sql import DataFrame, SparkSession

from jobs.detectors import DetectorInputs
from jobs.detectors.common import READ_COLUMNS
from schemas.model import Table
from schemas.tables import GOLD_FLAGS, SILVER_ANPR_READS, SILVER_CAMERAS, SILVER_CRIMES, SILVER_HOTLIST

UTC = timezone.utc
MONDAY = datetime(2024, 5, 6, 0, 0, tzinfo=UTC)  # a Monday, so week arithmetic in tests is obvious
ORIGIN_BNG = (530_000.0, 180_000.0)  # near Waterloo
READS_H3_RESOLUTION = 9

_LINEAGE_DEFAULTS: dict[str, Any] = {
    "source_file": "test.csv",
    "source_checksum": "0" * 64,
    "ingest_run_id": "test-run",
    "ingested_at": datetime(2024, 6, 1, tzinfo=UTC),
}


@lru_cache(maxsize=1)
def _bng_to_wgs84() -> Transformer:
    return Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)


def position(dx_m: float = 0.0, dy_m: float = 0.0) -> dict[str, Any]:
    """Located columns for the point dx_m east and dy_m north of the origin."""
    easting, northing = ORIGIN_BNG[0] + dx_m, ORIGIN_BNG[1] + dy_m
    lon, lat = _bng_to_wgs84().transform(easting, northing)
    return {
        "easting": easting,
        "northing": northing,
        "longitude": lon,
        "latitude": lat,
        "h3_cell": h3.latlng_to_cell(lat, lon, READS_H3_RESOLUTION),
    }


def position_of_cell(cell: str) -> dict[str, Any]:
    """Located columns for the centre of an H3 cell (for hotspot tests)."""
    lat, lon = h3.cell_to_latlng(cell)
    easting, northing = _bng_to_wgs84().transform(lon, lat, direction="INVERSE")
    return position(easting - ORIGIN_BNG[0], northing - ORIGIN_BNG[1])


def at(hours: float = 0.0, *, days: float = 0.0, minutes: float = 0.0, seconds: float = 0.0) -> datetime:
    """A time relative to MONDAY 00:00 UTC."""
    return MONDAY + timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def silver_frame(spark: SparkSession, table: Table, rows: Iterable[Mapping[str, Any]]) -> DataFrame:
    """Rows -> DataFrame with the declared schema; unknown keys and missing required values fail loudly."""
    names = table.column_names
    tuples = []
    for number, row in enumerate(rows, start=1):
        unknown = set(row) - set(names)
        if unknown:
            raise KeyError(f"{table.qualified_name} has no columns {sorted(unknown)}")
        full = {**_LINEAGE_DEFAULTS, "row_number": number, **row}
        for column in table.columns:
            if not column.nullable and full.get(column.name) is None:
                raise ValueError(f"{table.qualified_name} row {number}: required column {column.name!r} missing")
        tuples.append(tuple(full.get(name) for name in names))
    return spark.createDataFrame(tuples, table.spark_schema())


def camera(camera_id: str, dx_m: float = 0.0, dy_m: float = 0.0, **overrides: Any) -> dict[str, Any]:
    return {
        "camera_id": camera_id,
        "name": f"camera {camera_id}",
        "camera_type": "anpr",
        **position(dx_m, dy_m),
        "status": "active",
        "available": True,
        "valid_from": datetime(2020, 1, 1, tzinfo=UTC),
        "valid_to": None,
        "is_current": True,
        "attributes_hash": f"hash-{camera_id}",
        **overrides,
    }


def read(
    plate: str, camera_id: str, read_at: datetime, *, cameras: Iterable[Mapping[str, Any]] = (), **overrides: Any
) -> dict[str, Any]:
    """A read located at its camera's current position (taken from ``cameras`` when given)."""
    located: dict[str, Any] = {}
    for cam in cameras:
        if cam["camera_id"] == camera_id and cam.get("is_current", True):
            located = {k: cam[k] for k in ("longitude", "latitude", "easting", "northing", "h3_cell")}
    row = {
        "read_id": overrides.pop("read_id", None),
        "camera_id": camera_id,
        "plate": plate,
        "plate_raw": plate,
        "read_at": read_at,
        "confidence": 0.95,
        "country": "GB",
        **located,
        "read_date": read_at.date() if isinstance(read_at, datetime) else date.today(),
        **overrides,
    }
    return row


def crime(
    crime_id: str, occurred: datetime | None, dx_m: float = 0.0, dy_m: float = 0.0, **overrides: Any
) -> dict[str, Any]:
    return {
        "crime_id": crime_id,
        "crime_type": "burglary",
        "crime_type_original": "Burglary",
        "occurred_from": occurred,
        "occurred_to": occurred,
        "time_precision": "exact" if occurred else "unknown",
        **position(dx_m, dy_m),
        "location_precision": "exact",
        "source_format": "incident_csv",
        "crime_month": occurred.strftime("%Y-%m") if occurred else "2024-05",
        "valid_from": datetime(2020, 1, 1, tzinfo=UTC),
        "is_current": True,
        **overrides,
    }


def hotlist_entry(plate: str, **overrides: Any) -> dict[str, Any]:
    return {
        "hotlist_entry_id": overrides.pop("hotlist_entry_id", f"hl-{plate}"),
        "plate": plate,
        "plate_raw": plate,
        "list_name": "default",
        "reason": "stolen vehicle",
        "priority": "high",
        "valid_from": None,
        "valid_to": None,
        **overrides,
    }


def detector_inputs(
    spark: SparkSession,
    *,
    reads: Iterable[Mapping[str, Any]] = (),
    cameras: Iterable[Mapping[str, Any]] = (),
    crimes: Iterable[Mapping[str, Any]] = (),
    hotlist: Iterable[Mapping[str, Any]] = (),
) -> DetectorInputs:
    """Frames for a detector; reads without an id get r1, r2, ... in the order given."""
    numbered = [{**r, "read_id": r.get("read_id") or f"r{n}"} for n, r in enumerate(reads, start=1)]
    return DetectorInputs(
        reads=silver_frame(spark, SILVER_ANPR_READS, numbered).select(*READ_COLUMNS),  # what jobs.tasks hands over
        cameras=silver_frame(spark, SILVER_CAMERAS, cameras),
        crimes=silver_frame(spark, SILVER_CRIMES, crimes),
        hotlist=silver_frame(spark, SILVER_HOTLIST, hotlist),
    )


def flags_of(frame: DataFrame) -> list[dict[str, Any]]:
    """Check the exact gold schema, then return the flags as dicts, ordered by subject and window."""
    assert frame.schema == GOLD_FLAGS.spark_schema(), frame.schema.simpleString()
    rows = [r.asDict(recursive=True) for r in frame.collect()]
    return sorted(rows, key=lambda r: (r["subject"], r["window_start"]))
