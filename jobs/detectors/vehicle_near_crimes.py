"""vehicle_near_crimes: a plate read near several distinct crimes around the time each happened.

A read counts for a crime when it is within ``radius_m`` (BNG metres, the read's own position at read
time) and within [occurred_from - window_min, occurred_to + window_min]. Crimes without a point, or
whose time is only known to the month (or whose window is wider than ``max_window_hours``) take no
part. Crimes are matched to nearby cameras first on a grid of ``radius_m`` squares (crimes x cameras
is small and broadcast), then reads are joined on camera_id and the time window.

One flag per plate over the reads given (window = first to last matching read) with >= ``min_crimes``
distinct crimes. Score = rarity x strength: strength = 1 - 0.5^(crimes - min_crimes + 1) (0.5 at the
threshold); rarity is an IDF weight on how widely the plate travelled that day,
log((C + 1) / d) / log(C + 1) with d the plate's distinct cameras that day and C the network's active
cameras that day (1 for a plate seen at one camera, near 0 for a bus seen everywhere); the flag takes
the lowest rarity over the days of its matches.
"""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from das.config import VehicleNearCrimesParams
from jobs.detectors.common import DetectorInputs, evidence_entry, flag_type_of, flags_from, read_evidence, usable_crimes

FLAG_TYPE = flag_type_of(__name__)


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
        )
        .distinct()
    )


def detect(inputs: DetectorInputs, params: VehicleNearCrimesParams, now: datetime) -> DataFrame:
    crimes = usable_crimes(inputs.crimes, max_window_hours=params.max_window_hours)
    crime_cameras = _crime_cameras(crimes, inputs.cameras, params.radius_m).select(
        "crime_id",
        "crime_type",
        "occurred_from",
        "occurred_to",
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
    plate_crimes = (
        matches.groupBy("plate")
        .agg(F.countDistinct("crime_id").alias("n_crimes"))
        .where(F.col("n_crimes") >= params.min_crimes)
    )
    matches = matches.join(plate_crimes, "plate")  # small: only the candidate plates

    # Rarity: how widely each candidate plate travelled on the days of its matches.
    days = matches.select("plate", "read_date").distinct()
    plate_day_cameras = (
        reads.join(F.broadcast(days), ["plate", "read_date"])
        .groupBy("plate", "read_date")
        .agg(F.countDistinct("camera_id").alias("plate_cameras"))
    )
    network_day_cameras = (
        reads.join(F.broadcast(days.select("read_date").distinct()), "read_date")
        .groupBy("read_date")
        .agg(F.countDistinct("camera_id").alias("network_cameras"))
    )
    rarity = (
        plate_day_cameras.join(network_day_cameras, "read_date")
        .withColumn(
            "rarity",
            F.log((F.col("network_cameras") + 1) / F.col("plate_cameras")) / F.log(F.col("network_cameras") + 1),
        )
        .groupBy("plate")
        .agg(F.min("rarity").alias("rarity"), F.max("plate_cameras").alias("plate_cameras"))
    )

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
        matches.groupBy("plate", "n_crimes")
        .agg(
            F.array_sort(F.collect_set("crime_id")).alias("related"),
            F.array_sort(F.collect_set("crime_type")).alias("crime_types"),
            F.countDistinct("camera_id").alias("n_cameras"),
            F.min("read_at").alias("window_start"),
            F.max("read_at").alias("window_end"),
            first_crime.alias("first"),
        )
        .join(rarity, "plate")
        .join(evidence, "plate")
    )
    strength = 1.0 - F.pow(F.lit(0.5), F.col("n_crimes") - params.min_crimes + 1)
    summary = F.concat(
        F.col("plate"),
        F.lit(" read at "),
        F.col("n_cameras").cast("string"),
        F.lit(f" camera(s) within {params.radius_m:g} m and {params.window_min:g} min of "),
        F.col("n_crimes").cast("string"),
        F.lit(" crimes ("),
        F.array_join("crime_types", ", "),
        F.lit(") between "),
        F.date_format("window_start", "yyyy-MM-dd HH:mm"),
        F.lit(" and "),
        F.date_format("window_end", "yyyy-MM-dd HH:mm"),
        F.lit(" UTC; seen at "),
        F.col("plate_cameras").cast("string"),
        F.lit(" camera(s) that day (rarity "),
        F.format_number("rarity", 2),
        F.lit(")."),
    )
    return flags_from(
        per_plate,
        FLAG_TYPE,
        params,
        now,
        salt=inputs.flag_id_salt,
        subject="plate",
        score=F.col("rarity") * strength,
        summary=summary,
        longitude="first.longitude",
        latitude="first.latitude",
    )
