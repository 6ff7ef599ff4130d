"""vehicle_near_crimes: a plate seen near more separate crimes than chance predicts for its own travel.

A read counts for a crime when it is within ``radius_m`` (BNG metres, the read's own position at read time) and
within [occurred_from - window_min, occurred_to + window_min]. Crimes without an exact point (snapped or none),
whose time is only known to the month, or whose window is wider than ``max_window_hours`` take no part.

Occasions, not crimes: crimes within ``radius_m`` of each other whose windows come within ``occasion_gap_min``
form one occasion (single linkage, ``statistics.space_time_clusters``), so three crimes at one spot in one
minute are one occasion, and a read counts for one occasion at most (observed k = min(occasions, matched reads)).

Surprise, not volume: the chance of a read matching an occasion at camera c is the local occasion rate,
lambda_c = sum over occasions near c of (span + 2 window) / B, with B the hours the crime data covers (at least
``min_baseline_hours``), times the hour-of-day factor of crimes (24 x the share of crime starts in that hour,
smoothed). A plate's exposure mu = the sum over its distinct (camera, 2-window bucket) of lambda_c x factor(hour):
every read it made, not only the matching ones. Its p-value at that scale is P(Poisson(mu) >= k).

Closeness: the same test runs again at tighter scales (``closeness_scales``: shares f of radius_m and window_min,
default 1, 1/2, 1/4). At share f a match must be within f x radius_m of the crime and within f x window_min of its
window, each camera's rate counts only the occasions within f x radius_m of it (the real crime geography, not an
assumed uniform one) with windows span + 2 f window, and the exposure buckets shrink to 2 f window. An offender is
read minutes from the scene; a passer-by anywhere in the window. A scale counts where it still holds
``min_crimes`` occasions; p is the smallest p over the scales times their number (Bonferroni), and q-values are
Benjamini-Hochberg over every plate seen. A flag needs k >= ``min_crimes`` occasions and q <= ``fdr_alpha``.
Score = min(1, -log10(p) / 10): 1.0 at p <= 1e-10. A vehicle that passes everywhere has a large mu, so a few
occasions are no surprise for it: its score is low by the model, not by a special rule.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from das.config import VehicleNearCrimesParams
from jobs.detectors.common import (
    DetectorInputs,
    empty_content,
    epoch_seconds,
    evidence_entry,
    flag_type_of,
    flags_from,
    read_evidence,
    to_flags_frame,
    usable_crimes,
)
from jobs.detectors.statistics import benjamini_hochberg, poisson_tail, space_time_clusters

FLAG_TYPE = flag_type_of(__name__)


def empty_content_flags(spark: SparkSession, params: VehicleNearCrimesParams, now: datetime, salt: str) -> DataFrame:
    return to_flags_frame(empty_content(spark), FLAG_TYPE, params, now, salt)


def _grid(easting: F.Column, northing: F.Column, size_m: float) -> tuple[F.Column, F.Column]:
    return F.floor(easting / size_m).cast("long"), F.floor(northing / size_m).cast("long")


def _crime_cameras(crimes: DataFrame, cameras: DataFrame, radius_m: float) -> DataFrame:
    """(crime, camera) pairs whose camera has ever stood within radius_m of the crime."""
    gx, gy = _grid(F.col("cam_easting"), F.col("cam_northing"), radius_m)
    camera_points = (
        cameras.where(F.col("easting").isNotNull() & F.col("northing").isNotNull())
        .select("camera_id", F.col("easting").alias("cam_easting"), F.col("northing").alias("cam_northing"))
        .distinct()
        .withColumn("gx", gx)
        .withColumn("gy", gy)
    )
    cx, cy = _grid(F.col("easting"), F.col("northing"), radius_m)
    steps = F.array(F.lit(-1), F.lit(0), F.lit(1))
    crime_cells = crimes.withColumn("gx", F.explode(F.transform(steps, lambda d: cx + d))).withColumn(
        "gy", F.explode(F.transform(steps, lambda d: cy + d))
    )
    distance = F.sqrt(
        F.pow(F.col("easting") - F.col("cam_easting"), 2) + F.pow(F.col("northing") - F.col("cam_northing"), 2)
    )
    return (
        crime_cells.join(camera_points, ["gx", "gy"])
        .where(distance <= radius_m)
        .select(
            "crime_id",
            "crime_type",
            "occurred_from",
            "occurred_to",
            "easting",
            "northing",
            "longitude",
            "latitude",
            "location",
            "camera_id",
            distance.alias("camera_distance_m"),
        )
        .distinct()
    )


def crime_occasions(crimes: pd.DataFrame, params: VehicleNearCrimesParams) -> pd.DataFrame:
    """crime_id -> occasion (a number) for the usable crimes, with each occasion's span in hours."""
    if crimes.empty:
        return crimes.assign(occasion=pd.Series(dtype="int64"), span_h=pd.Series(dtype="float64"))
    numbers = space_time_clusters(
        crimes["easting"].to_numpy(float),
        crimes["northing"].to_numpy(float),
        crimes["t0"].to_numpy(float),
        crimes["t1"].to_numpy(float),
        params.radius_m,
        params.occasion_gap_min * 60.0,
    )
    out = crimes.assign(occasion=numbers)
    spans = out.groupby("occasion").agg(o0=("t0", "min"), o1=("t1", "max"))
    out = out.join((spans["o1"] - spans["o0"]).rename("span_h") / 3600.0, on="occasion")
    return out


def hour_factors(starts: pd.Series) -> pd.DataFrame:
    """24 x the (add-one smoothed) share of crime starts in each UTC hour: 1.0 everywhere for a flat day."""
    hours = (starts // 3600 % 24).astype(int)
    counts = np.bincount(hours, minlength=24) if len(hours) else np.zeros(24)
    factor = 24.0 * (counts + 1.0) / (counts.sum() + 24.0)
    return pd.DataFrame({"hour": np.arange(24, dtype=np.int32), "factor": factor})


def scale_column(name: str, scale: int) -> str:
    """``k``/``mu`` at the whole window (scale 0), ``k_<i>``/``mu_<i>`` at the tighter scales."""
    return name if scale == 0 else f"{name}_{scale}"


def surprise(candidates: pd.DataFrame, plates_seen: int, params: VehicleNearCrimesParams) -> pd.DataFrame:
    """p, BH q over every plate seen, score and verdict, with the closeness scale that decided p.

    At each scale i (a share of radius_m and window_min, column suffix ``_i``; scale 0 is the whole window,
    columns ``k`` and ``mu``) the Poisson tail of k_i occasions given exposure mu_i, counted only where k_i still
    reaches min_crimes; p is the smallest, times the number of scales (Bonferroni)."""
    n = len(params.closeness_scales)
    ks = np.column_stack([candidates[scale_column("k", i)].to_numpy(float) for i in range(n)])
    mus = np.column_stack([candidates[scale_column("mu", i)].to_numpy(float) for i in range(n)])
    tails = np.where(ks >= params.min_crimes, poisson_tail(ks, np.nan_to_num(mus)), 1.0)
    best = np.argmin(tails, axis=1)
    rows = np.arange(len(candidates))
    p = np.minimum(1.0, n * tails[rows, best])
    q = benjamini_hochberg(p, n_tests=plates_seen)
    score = np.clip(-np.log10(np.maximum(p, 1e-300)) / 10.0, 0.0, 1.0)
    shares = params.closeness_scales
    within = [f"{f * params.radius_m:g} m and {f * params.window_min:g} min" for f in shares]
    return candidates.assign(
        p=p,
        q=q,
        score=score,
        close_share=np.asarray(shares)[best],
        close_within=np.asarray(within, dtype=object)[best],
        k_close=ks[rows, best].astype("int64"),
        mu_close=np.nan_to_num(mus[rows, best]),
        keep=(candidates["k"] >= params.min_crimes) & (q <= params.fdr_alpha),
    )


def detect(inputs: DetectorInputs, params: VehicleNearCrimesParams, now: datetime) -> DataFrame:
    spark = inputs.spark
    crimes = usable_crimes(inputs.crimes, max_window_hours=params.max_window_hours).where(
        F.col("location_precision") == "exact"  # a snapped point can be streets away from the scene
    )
    crime_table = crime_occasions(
        crimes.select(
            "crime_id",
            "easting",
            "northing",
            epoch_seconds(F.col("occurred_from")).alias("t0"),
            epoch_seconds(F.col("occurred_to")).alias("t1"),
        ).toPandas(),
        params,
    )
    if crime_table.empty:
        return empty_content_flags(spark, params, now, inputs.flag_id_salt)
    window_h = params.window_min / 60.0
    baseline_h = max(params.min_baseline_hours, (crime_table["t1"].max() - crime_table["t0"].min()) / 3600.0)
    occasions = F.broadcast(spark.createDataFrame(crime_table[["crime_id", "occasion", "span_h"]]))
    crimes = crimes.join(occasions, "crime_id")
    crime_cameras = _crime_cameras(crimes, inputs.cameras, params.radius_m).join(occasions, "crime_id")
    scales = params.closeness_scales
    camera_rate = (
        crime_cameras.groupBy("camera_id", "occasion")
        .agg(F.min("camera_distance_m").alias("d"), F.first("span_h").alias("span_h"))
        .groupBy("camera_id")
        .agg(
            F.array(
                *[
                    F.sum(F.when(F.col("d") <= params.radius_m * f, F.col("span_h") + 2 * window_h * f)) / baseline_h
                    for f in scales
                ]
            ).alias("rates")
        )
    )
    factors = F.broadcast(spark.createDataFrame(hour_factors(crime_table["t0"])))
    crime_cameras = crime_cameras.select(
        "crime_id",
        "crime_type",
        "occurred_from",
        "occurred_to",
        "occasion",
        F.col("camera_id").alias("near_camera_id"),
        *[F.col(c).alias(f"crime_{c}") for c in ("easting", "northing", "longitude", "latitude", "location")],
    )
    margin = F.expr(f"make_dt_interval(0, 0, 0, {params.window_min * 60.0})")
    read_distance = F.sqrt(
        F.pow(F.col("easting") - F.col("crime_easting"), 2) + F.pow(F.col("northing") - F.col("crime_northing"), 2)
    )
    reads = inputs.reads.select(
        "read_id", "plate", "camera_id", "read_at", "read_date", "easting", "northing", "longitude", "latitude"
    )
    matches = (
        reads.join(
            F.broadcast(crime_cameras),
            # Column names are unique across the two sides: no reliance on DataFrame-bound references.
            (F.col("camera_id") == F.col("near_camera_id"))
            & (F.col("read_at") >= F.col("occurred_from") - margin)
            & (F.col("read_at") <= F.col("occurred_to") + margin),
        )
        .drop("near_camera_id")
        .withColumn("distance_m", read_distance)
        .where(F.col("distance_m") <= params.radius_m)
    )
    read_s, from_s, to_s = (epoch_seconds(F.col(c)) for c in ("read_at", "occurred_from", "occurred_to"))
    offset_s = F.greatest(from_s - read_s, read_s - to_s, F.lit(0.0))  # outside the crime's own window

    def within(f: float) -> F.Column:
        return (F.col("distance_m") <= params.radius_m * f) & (offset_s <= params.window_min * 60.0 * f)

    observed = (
        matches.groupBy("plate")
        .agg(
            *[
                F.least(
                    F.countDistinct(F.when(within(f), F.col("occasion"))),
                    F.countDistinct(F.when(within(f), F.col("read_id"))),
                ).alias(scale_column("k", i))
                for i, f in enumerate(scales)
            ],
            F.countDistinct("read_date").alias("n_days"),
        )
        .where(F.col("k") >= params.min_crimes)
    )
    # Exposure of the candidates at each scale: every read they made, one per camera and 2-window bucket, at its
    # place and hour.
    bucket_sizes = [max(2 * params.window_min * 60.0 * f, 1.0) for f in scales]
    exposure = (
        reads.join(F.broadcast(observed.select("plate")), "plate")
        .select("plate", "camera_id", epoch_seconds(F.col("read_at")).alias("t"))
        .select("*", F.posexplode(F.array(*[F.lit(b) for b in bucket_sizes])).alias("scale", "bucket_s"))
        .withColumn("bucket", F.floor(F.col("t") / F.col("bucket_s")))
        .groupBy("plate", "scale", "camera_id", "bucket", "bucket_s")
        .agg(F.count("*").alias("reads_in_bucket"))
        .withColumn("hour", (F.col("bucket") * F.col("bucket_s") / 3600 % 24).cast("int"))
        .join(F.broadcast(camera_rate), "camera_id", "left")
        .join(factors, "hour", "left")
        .withColumn(
            "chance",
            F.coalesce(F.element_at("rates", F.col("scale") + 1), F.lit(0.0)) * F.coalesce("factor", F.lit(1.0)),
        )
        .groupBy("plate")
        .agg(
            *[
                F.sum(F.when(F.col("scale") == i, F.col("chance"))).alias(scale_column("mu", i))
                for i in range(len(scales))
            ],
            F.sum(F.when(F.col("scale") == 0, F.col("reads_in_bucket"))).alias("n_reads"),
        )
    )
    candidates = pd.DataFrame(observed.join(exposure, "plate").toPandas())
    if candidates.empty:
        return empty_content_flags(spark, params, now, inputs.flag_id_salt)
    plates_seen = reads.select("plate").distinct().count()
    verdicts = surprise(candidates, plates_seen, params)
    verdicts = verdicts[verdicts["keep"]]
    if verdicts.empty:
        return empty_content_flags(spark, params, now, inputs.flag_id_salt)
    kept = F.broadcast(
        spark.createDataFrame(
            verdicts[
                [
                    "plate",
                    "k",
                    "n_days",
                    "n_reads",
                    "mu",
                    "p",
                    "q",
                    "score",
                    "close_share",
                    "close_within",
                    "k_close",
                    "mu_close",
                ]
            ].astype({"k": "int64", "n_days": "int64", "n_reads": "int64"})
        )
    )
    matches = matches.join(kept.select("plate"), "plate")
    read_detail = F.concat(
        F.format_number("distance_m", 0),
        F.lit(" m from "),
        F.col("crime_type"),
        F.lit(" "),
        F.col("crime_id"),
    )
    read_items = (
        matches.groupBy("plate", "read_id")
        .agg(
            F.first(F.struct("read_id", "camera_id", "read_at", "longitude", "latitude")).alias("r"),
            F.array_sort(F.collect_set(read_detail)).alias("details"),
        )
        .select(
            "plate",
            read_evidence(F.concat(F.lit("read "), F.array_join("details", "; ")), prefix="r.").alias("item"),
        )
    )
    crime_detail = F.concat(
        F.col("crime_type"),
        F.coalesce(F.concat(F.lit(" at "), F.col("crime_location")), F.lit("")),
        F.lit(", occurred "),
        F.date_format("occurred_from", "yyyy-MM-dd HH:mm"),
        F.lit(" to "),
        F.date_format("occurred_to", "yyyy-MM-dd HH:mm"),
        F.lit(" UTC"),
    )
    crime_items = matches.select(
        "plate",
        evidence_entry(
            "crime",
            ref_id=F.col("crime_id"),
            at=F.col("occurred_from"),
            longitude=F.col("crime_longitude"),
            latitude=F.col("crime_latitude"),
            detail=crime_detail,
        ).alias("item"),
    ).distinct()
    evidence = read_items.unionByName(crime_items).groupBy("plate").agg(F.collect_list("item").alias("evidence"))

    first_crime = F.min_by(
        F.struct(F.col("crime_longitude").alias("longitude"), F.col("crime_latitude").alias("latitude")),
        F.struct("occurred_from", "crime_id"),
    )
    per_plate = (
        matches.groupBy("plate")
        .agg(
            F.array_sort(F.collect_set("crime_id")).alias("related"),
            F.array_sort(F.collect_set("crime_type")).alias("crime_types"),
            F.countDistinct("camera_id").alias("n_cameras"),
            F.min("read_at").alias("window_start"),
            F.max("read_at").alias("window_end"),
            first_crime.alias("first"),
        )
        .join(kept, "plate")
        .join(evidence, "plate")
    )
    summary = F.concat(
        F.col("plate"),
        F.lit(" near "),
        F.col("k").cast("string"),
        F.lit(" separate crimes ("),
        F.array_join("crime_types", ", "),
        F.lit(") on "),
        F.col("n_days").cast("string"),
        F.lit(" day(s), within "),
        F.lit(f"{params.radius_m:g} m and {params.window_min:g} min, between "),
        F.date_format("window_start", "yyyy-MM-dd HH:mm"),
        F.lit(" and "),
        F.date_format("window_end", "yyyy-MM-dd HH:mm"),
        F.lit(" UTC; about "),
        F.format_string("%.2g", F.col("mu")),
        F.lit(" expected by chance for a vehicle with its "),
        F.col("n_reads").cast("string"),
        F.lit(" reads at those places and hours"),
        F.when(
            F.col("close_share") < 1,
            F.concat(
                F.lit("; "),
                F.col("k_close").cast("string"),
                F.lit(" of them within "),
                F.col("close_within"),
                F.lit(", where about "),
                F.format_string("%.2g", F.col("mu_close")),
                F.lit(" are expected"),
            ),
        ).otherwise(F.lit("")),
        F.lit(" (p = "),
        F.format_string("%.1e", F.col("p")),
        F.lit(", q = "),
        F.format_string("%.1e", F.col("q")),
        F.lit(")."),
    )
    return flags_from(
        per_plate,
        FLAG_TYPE,
        params,
        now,
        salt=inputs.flag_id_salt,
        subject="plate",
        score="score",
        summary=summary,
        longitude="first.longitude",
        latitude="first.latitude",
    )
