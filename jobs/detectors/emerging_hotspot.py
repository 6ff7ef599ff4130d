"""emerging_hotspot: H3 cells significantly hot this week that were not hot before (Getis-Ord Gi*).

Events: crimes of every type with a point and a time good to the day (``usable_crimes``). The
current week is the Monday-to-Monday UTC week holding the latest such crime not after ``now``
(derived from the data, so flag ids are stable); the baseline is the ``baseline_weeks`` weeks before.
Cells: H3 at ``h3_resolution`` computed with the h3 library in an Arrow (pandas) UDF on crimes only;
counts per (cell, week) are aggregated in Spark and the small cell table is analysed on the driver.

Study area: every cell with a crime in any of the weeks plus its grid_disk(k=1) ring (zeros).
Weights: binary, j in grid_disk(i, 1) (self included: Gi*). For a variable x over the n cells,
    Gi*(i) = (sum_j w_ij x_j - mean * W_i) / (s * sqrt((n * W_i - W_i^2) / (n - 1))),  W_i = |disk(i)|,
s the population standard deviation of x (s = 0: no cell can be hot). Gi* is a z-score; one-sided
p = 1 - Phi(z); Benjamini-Hochberg q-values over the study area, significant when q <= ``fdr_alpha``.
Three variables: x_now (current week's counts), x_base (mean weekly count over the baseline weeks)
and x_change = x_now - x_base.

A cell is flagged when: hot now (Gi* on x_now significant, z > 0) AND count this week >=
``min_count`` AND x_now > x_base AND (not hot in the baseline (Gi* on x_base not significant) OR
significantly hotter (Gi* on x_change significant, z > 0)). score = (1 - q_now) x (1 - x_base/x_now).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import h3
import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T
from scipy.stats import norm

from das.config import EmergingHotspotParams
from jobs.detectors.common import (
    DetectorInputs,
    content_from_rows,
    empty_content,
    evidence_row,
    flag_type_of,
    to_flags_frame,
    usable_crimes,
    utc,
    utc_from_micros,
)
from jobs.detectors.statistics import benjamini_hochberg, getis_ord_gi_star

FLAG_TYPE = flag_type_of(__name__)


@F.pandas_udf(T.StringType())  # type: ignore[call-overload]
def _h3_cell(latitude: pd.Series, longitude: pd.Series, resolution: pd.Series) -> pd.Series:
    return pd.Series(
        [h3.latlng_to_cell(lat, lon, int(res)) for lat, lon, res in zip(latitude, longitude, resolution, strict=True)]
    )


def _week_start(ts: datetime) -> datetime:
    day = utc(ts).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def detect(inputs: DetectorInputs, params: EmergingHotspotParams, now: datetime) -> DataFrame:
    now = utc(now)
    spark = inputs.spark
    crimes = usable_crimes(inputs.crimes).where(F.col("occurred_from") <= F.lit(now))
    latest = crimes.agg(F.unix_micros(F.max("occurred_from")).alias("latest")).first()
    latest_at = utc_from_micros(latest["latest"]) if latest is not None else None
    if latest_at is None:
        return to_flags_frame(empty_content(spark), FLAG_TYPE, params, now, salt=inputs.flag_id_salt)
    week_start = _week_start(latest_at)
    week_end = week_start + timedelta(days=7)
    baseline_start = week_start - timedelta(days=7 * params.baseline_weeks)

    cells = (
        crimes.where((F.col("occurred_from") >= F.lit(baseline_start)) & (F.col("occurred_from") < F.lit(week_end)))
        .where(F.col("latitude").isNotNull() & F.col("longitude").isNotNull())
        .withColumn("cell", _h3_cell(F.col("latitude"), F.col("longitude"), F.lit(params.h3_resolution)))
        .withColumn("current", F.col("occurred_from") >= F.lit(week_start))
    )
    counts = (
        cells.groupBy("cell")
        .agg(
            F.sum(F.col("current").cast("int")).alias("now"),
            F.sum((~F.col("current")).cast("int")).alias("base"),
        )
        .collect()
    )
    if not counts:
        return to_flags_frame(empty_content(spark), FLAG_TYPE, params, now, salt=inputs.flag_id_salt)

    observed = {r["cell"]: (float(r["now"]), float(r["base"])) for r in counts}
    area = sorted({c for cell in observed for c in h3.grid_disk(cell, 1)})
    index = {cell: i for i, cell in enumerate(area)}
    neighbours = [np.array([index[c] for c in h3.grid_disk(cell, 1) if c in index]) for cell in area]
    x_now = np.array([observed.get(c, (0.0, 0.0))[0] for c in area])
    weeks = max(params.baseline_weeks, 1)
    x_base = np.array([observed.get(c, (0.0, 0.0))[1] for c in area]) / weeks

    def test(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z = getis_ord_gi_star(x, neighbours)
        return z, benjamini_hochberg(norm.sf(z))

    z_now, q_now = test(x_now)
    z_base, q_base = test(x_base)
    z_change, q_change = test(x_now - x_base)
    alpha = params.fdr_alpha
    hot_now = (z_now > 0) & (q_now <= alpha)
    hot_base = (z_base > 0) & (q_base <= alpha)
    hotter = (z_change > 0) & (q_change <= alpha)
    chosen = hot_now & (x_now >= params.min_count) & (x_now > x_base) & (~hot_base | hotter)
    flagged_cells = [area[i] for i in np.flatnonzero(chosen)]
    if not flagged_cells:
        return to_flags_frame(empty_content(spark), FLAG_TYPE, params, now, salt=inputs.flag_id_salt)

    crimes_now = (
        cells.where(F.col("current") & F.col("cell").isin(flagged_cells))
        .select(
            "cell",
            "crime_id",
            "crime_type",
            F.unix_micros("occurred_from").alias("occurred_micros"),
            "longitude",
            "latitude",
            "location",
        )
        .collect()
    )
    flags: list[dict[str, Any]] = []
    for cell in flagged_cells:
        i = index[cell]
        lat, lon = h3.cell_to_latlng(cell)
        stats = (
            f"{int(x_now[i])} crimes in the week of {week_start:%Y-%m-%d} vs {x_base[i]:.2f}/week over the "
            f"{params.baseline_weeks} weeks before; Gi* now z={z_now[i]:.2f} (q={q_now[i]:.3f}), "
            f"baseline z={z_base[i]:.2f} (q={q_base[i]:.3f}), change z={z_change[i]:.2f} (q={q_change[i]:.3f})"
        )
        evidence = [
            evidence_row(
                "cell",
                ref_id=cell,
                at=week_start,
                longitude=lon,
                latitude=lat,
                detail=f"H3 res {params.h3_resolution} cell: {stats}",
            )
        ]
        for c in sorted(
            (c for c in crimes_now if c["cell"] == cell), key=lambda c: (c["occurred_micros"], c["crime_id"])
        ):
            where = f" at {c['location']}" if c["location"] else ""
            evidence.append(
                evidence_row(
                    "crime",
                    ref_id=c["crime_id"],
                    at=utc_from_micros(c["occurred_micros"]),
                    longitude=c["longitude"],
                    latitude=c["latitude"],
                    detail=f"{c['crime_type']}{where}",
                )
            )
        flags.append(
            {
                "subject": cell,
                "score": float((1.0 - q_now[i]) * (1.0 - x_base[i] / x_now[i])),
                "related": [e["ref_id"] for e in evidence[1:]],
                "summary": f"Emerging crime hotspot in H3 cell {cell}: {stats}.",
                "window_start": week_start,
                "window_end": week_end,
                "longitude": lon,
                "latitude": lat,
                "evidence": evidence,
            }
        )
    return to_flags_frame(content_from_rows(spark, flags), FLAG_TYPE, params, now, salt=inputs.flag_id_salt)
