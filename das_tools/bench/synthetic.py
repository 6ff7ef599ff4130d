"""Synthetic served rows for throughput measurement: plausible reads for one day around central London."""

from __future__ import annotations

import time
from datetime import date

import numpy as np
import pyarrow as pa

from das.config import Settings
from das.postgis import drop_day_partition, publish_day_partition, to_arrow
from das.postgis.partitions import utc_midnight
from schemas.postgis import copy_columns
from schemas.tables import SILVER_ANPR_READS


def synthetic_reads(rows: int, day: date, *, cameras: int = 500, plates: int = 50_000, seed: int = 7) -> pa.Table:
    """``rows`` served anpr_reads rows on ``day``; columns the generator does not vary are null."""
    from pyproj import Transformer

    rng = np.random.default_rng(seed)
    camera_no = rng.integers(0, cameras, rows)
    cam_lon = -0.5 + 0.8 * np.random.default_rng(seed + 1).random(cameras)
    cam_lat = 51.3 + 0.35 * np.random.default_rng(seed + 2).random(cameras)
    cam_e, cam_n = Transformer.from_crs(4326, 27700, always_xy=True).transform(cam_lon, cam_lat)
    start = np.datetime64(utc_midnight(day).replace(tzinfo=None), "us")
    read_at = start + rng.integers(0, 86_400_000_000, rows).astype("timedelta64[us]")
    plates_text = np.char.add("AB", np.char.zfill(rng.integers(0, plates, rows).astype(str), 5))
    varied = {
        "read_id": pa.array([f"syn-{day:%Y%m%d}-{i}" for i in range(rows)]),
        "camera_id": pa.array(np.char.add("CAM", camera_no.astype(str))),
        "plate": pa.array(plates_text),
        "plate_raw": pa.array(plates_text),
        "read_at": pa.array(read_at, pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC")),
        "confidence": pa.array(rng.random(rows)),
        "country": pa.array(np.full(rows, "GB")),
        "longitude": pa.array(cam_lon[camera_no]),
        "latitude": pa.array(cam_lat[camera_no]),
        "easting": pa.array(cam_e[camera_no]),
        "northing": pa.array(cam_n[camera_no]),
        "source_file": pa.array(np.full(rows, "synthetic")),
        "ingest_run_id": pa.array(np.full(rows, "synthetic")),
    }
    table = SILVER_ANPR_READS
    columns = {name: varied.get(name, pa.nulls(rows, table.column(name).arrow_type())) for name in copy_columns(table)}
    return to_arrow(table, pa.table(columns))


def publish_throughput(
    settings: Settings, rows: int = 200_000, day: date = date(2000, 1, 1), *, keep: bool = False
) -> dict[str, float]:
    """Measure day-partition publishing rows/s on synthetic reads (day 2000-01-01 by default, dropped after)."""
    reads = synthetic_reads(rows, day)
    started = time.perf_counter()
    published = publish_day_partition(settings, SILVER_ANPR_READS, reads, day)
    seconds = time.perf_counter() - started
    if not keep:
        drop_day_partition(settings, SILVER_ANPR_READS, day)
    return {"rows": float(published), "seconds": seconds, "rows_per_s": published / seconds if seconds else 0.0}
