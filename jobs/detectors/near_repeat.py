"""near_repeat: a crime of the same type close in space and time to an earlier one (Johnson et al. 2007).

Which crimes: ``crime_types`` (police.uk slugs), occurred within ``lookback_days`` before ``now``,
with a BNG point and a time good to the day (exact or day precision; month-precision police.uk
records cannot take part). Snapped (anonymised) locations are *kept*: police.uk snaps to points on
the same street, an error of the order of the first distance band, and the Knox test is routinely run
on such data; their evidence says "snapped location". A crime's time is the midpoint of its window.

Links: two crimes of one type at most ``distance_m`` apart and at most ``days`` apart. Clusters are
the connected components of those links; one flag per cluster of >= 2 crimes, subject = the latest
crime (ties: larger crime id), related = all crime ids, window = earliest start to latest end.

Knox test, per crime type over the whole area and period: every pair of crimes is put in a distance
band x time band cell (bands [e_k, e_k+1) from ``knox_distance_bands_m`` and ``knox_day_bands``;
pairs beyond the last edge are in no cell). Expected counts and one-sided p-values come from
``knox_permutations`` Monte-Carlo shuffles of the crime times (seeded with ``seed``):
p = (1 + #{shuffles with count >= observed}) / (1 + shuffles). The same is computed for the
near-repeat region itself (<= distance_m and <= days); its p-value is in every summary and
score = (1 - p_region) x (1 - 0.5^(crimes in cluster - 1)). The full table is in the evidence detail
of the subject crime. Pair search uses a k-d tree on the driver (crimes, unlike reads, are few).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from das.config import NearRepeatParams
from jobs.detectors.common import (
    DetectorInputs,
    content_from_rows,
    empty_content,
    epoch_seconds,
    evidence_row,
    flag_type_of,
    to_flags_frame,
    usable_crimes,
    utc,
    utc_from_micros,
)

FLAG_TYPE = flag_type_of(__name__)


def band_labels(edges: list[float], unit: str) -> list[str]:
    """Half-open interval labels, e.g. "[0, 200) m" (edges given in ascending order)."""
    return [f"[{lo:g}, {hi:g}) {unit}" for lo, hi in pairwise(edges)]


@dataclass(frozen=True)
class KnoxResult:
    observed: np.ndarray  # distance bands x time bands
    expected: np.ndarray
    p_values: np.ndarray
    region_observed: int
    region_expected: float
    region_p: float
    n_crimes: int
    permutations: int

    def table_text(self, distance_labels: list[str], day_labels: list[str]) -> str:
        cells = []
        for i, d_label in enumerate(distance_labels):
            for j, t_label in enumerate(day_labels):
                obs, exp = int(self.observed[i, j]), float(self.expected[i, j])
                ratio = f"{obs / exp:.2f}" if exp > 0 else "n/a"
                cells.append(
                    f"{d_label} x {t_label}: obs {obs}, exp {exp:.2f}, ratio {ratio}, p {self.p_values[i, j]:.3f}"
                )
        return "; ".join(cells)


def _band_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Band of each value for half-open bands [e_k, e_k+1); -1 outside all bands."""
    index = np.searchsorted(edges, values, side="right") - 1
    index[(values < edges[0]) | (values >= edges[-1])] = -1
    return index


def knox_test(
    times_days: np.ndarray, params: NearRepeatParams, pairs: np.ndarray, pair_distance: np.ndarray
) -> KnoxResult:
    """Knox table with a Monte-Carlo p-value per cell (times shuffled, locations fixed)."""
    d_edges = np.asarray(sorted(params.knox_distance_bands_m), dtype=float)
    t_edges = np.asarray(sorted(params.knox_day_bands), dtype=float)
    n_d, n_t = len(d_edges) - 1, len(t_edges) - 1
    d_band = _band_index(pair_distance, d_edges)
    in_region_space = pair_distance <= params.distance_m

    def table(times: np.ndarray) -> tuple[np.ndarray, int]:
        gap = np.abs(times[pairs[:, 0]] - times[pairs[:, 1]])
        t_band = _band_index(gap, t_edges)
        counts = np.zeros((max(n_d, 0), max(n_t, 0)), dtype=np.int64)
        ok = (d_band >= 0) & (t_band >= 0)
        np.add.at(counts, (d_band[ok], t_band[ok]), 1)
        region = int(np.count_nonzero(in_region_space & (gap <= params.days)))
        return counts, region

    observed, region_observed = table(times_days)
    rng = np.random.default_rng(params.seed)
    exceed = np.zeros_like(observed)
    total = np.zeros(observed.shape, dtype=float)
    region_exceed, region_total = 0, 0.0
    for _ in range(params.knox_permutations):
        counts, region = table(times_days[rng.permutation(len(times_days))])
        exceed += counts >= observed
        total += counts
        region_exceed += region >= region_observed
        region_total += region
    permutations = max(params.knox_permutations, 0)
    return KnoxResult(
        observed=observed,
        expected=total / permutations if permutations else np.zeros(observed.shape),
        p_values=(1 + exceed) / (1 + permutations),
        region_observed=region_observed,
        region_expected=region_total / permutations if permutations else 0.0,
        region_p=(1 + region_exceed) / (1 + permutations),
        n_crimes=len(times_days),
        permutations=permutations,
    )


def _flags_for_type(crime_type: str, rows: list[Any], params: NearRepeatParams) -> list[dict[str, Any]]:
    n = len(rows)
    if n < 2:
        return []
    xy = np.array([(r["easting"], r["northing"]) for r in rows], dtype=float)
    times_days = np.array([r["t_seconds"] for r in rows], dtype=float) / 86_400.0
    search_m = max([params.distance_m, *params.knox_distance_bands_m])
    pairs = cKDTree(xy).query_pairs(r=search_m, output_type="ndarray").reshape(-1, 2)
    delta = xy[pairs[:, 0]] - xy[pairs[:, 1]]
    pair_distance = np.hypot(delta[:, 0], delta[:, 1])
    knox = knox_test(times_days, params, pairs, pair_distance)

    gap_days = np.abs(times_days[pairs[:, 0]] - times_days[pairs[:, 1]])
    links = pairs[(pair_distance <= params.distance_m) & (gap_days <= params.days)]
    if len(links) == 0:
        return []
    graph = coo_matrix((np.ones(len(links)), (links[:, 0], links[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)

    d_labels = band_labels(sorted(params.knox_distance_bands_m), "m")
    t_labels = band_labels([float(d) for d in sorted(params.knox_day_bands)], "days")
    region_text = (
        f"Knox test for {crime_type} ({knox.n_crimes} crimes, {knox.permutations} permutations): "
        f"{knox.region_observed} pairs within {params.distance_m:g} m and {params.days} days vs "
        f"{knox.region_expected:.2f} expected, p={knox.region_p:.3f}"
    )
    flags = []
    for label in np.unique(labels):
        members = sorted(
            (rows[i] for i in np.flatnonzero(labels == label)), key=lambda r: (r["t_seconds"], r["crime_id"])
        )
        if len(members) < 2:
            continue
        latest = members[-1]
        evidence = []
        for crime in members:
            detail = f"{crime_type}" + (f" at {crime['location']}" if crime["location"] else "")
            if crime["location_precision"] == "snapped":
                detail += " (snapped location)"
            if crime is latest:
                detail += f"; latest crime of the cluster. {region_text}. Knox table: " + knox.table_text(
                    d_labels, t_labels
                )
            evidence.append(
                evidence_row(
                    "crime",
                    ref_id=crime["crime_id"],
                    at=crime["occurred_from"],
                    longitude=crime["longitude"],
                    latitude=crime["latitude"],
                    detail=detail,
                )
            )
        first = members[0]
        flags.append(
            {
                "subject": latest["crime_id"],
                "score": (1.0 - knox.region_p) * (1.0 - 0.5 ** (len(members) - 1)),
                "related": [m["crime_id"] for m in members],
                "summary": (
                    f"{len(members)} {crime_type} crimes within {params.distance_m:g} m and {params.days} days of "
                    f"each other between {first['occurred_from']:%Y-%m-%d} and {latest['occurred_to']:%Y-%m-%d}, "
                    f"latest {latest['crime_id']}; {region_text}."
                ),
                "window_start": min(m["occurred_from"] for m in members),
                "window_end": max(m["occurred_to"] for m in members),
                "longitude": latest["longitude"],
                "latitude": latest["latitude"],
                "evidence": evidence,
            }
        )
    return flags


def detect(inputs: DetectorInputs, params: NearRepeatParams, now: datetime) -> DataFrame:
    now = utc(now)
    crimes = (
        usable_crimes(inputs.crimes)
        .where(F.col("crime_type").isin(list(params.crime_types)))
        .where(F.col("occurred_from") >= F.lit(now - timedelta(days=params.lookback_days)))
        .where(F.col("occurred_from") <= F.lit(now))
        .select(
            "crime_id",
            "crime_type",
            F.unix_micros("occurred_from").alias("from_micros"),
            F.unix_micros("occurred_to").alias("to_micros"),
            "easting",
            "northing",
            "longitude",
            "latitude",
            "location",
            "location_precision",
            ((epoch_seconds(F.col("occurred_from")) + epoch_seconds(F.col("occurred_to"))) / 2).alias("t_seconds"),
        )
        .dropDuplicates(["crime_id"])
    )
    # Crimes of the chosen types in the lookback are few (thousands): the Knox test runs on the driver.
    by_type: dict[str, list[Any]] = {}
    for row in crimes.orderBy("crime_id").collect():
        crime = row.asDict()
        crime["occurred_from"] = utc_from_micros(crime.pop("from_micros"))
        crime["occurred_to"] = utc_from_micros(crime.pop("to_micros"))
        by_type.setdefault(row["crime_type"], []).append(crime)
    flags = [
        flag for crime_type in sorted(by_type) for flag in _flags_for_type(crime_type, by_type[crime_type], params)
    ]
    spark = inputs.spark
    content = content_from_rows(spark, flags) if flags else empty_content(spark)
    return to_flags_frame(content, FLAG_TYPE, params, now, salt=inputs.flag_id_salt)
