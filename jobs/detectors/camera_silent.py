"""camera_silent: a camera whose reads drop to zero, or far below what it should see, for hours on end.

Period judged: the last ``baseline_days`` days of the reads given, whole UTC hours from the first to
the last hour with reads (derived from the data). Every camera with a read in the period is judged in
every hour of it, except hours before its ``installed_at`` or from its ``removed_at``, and cameras
whose current version is 'inactive'.

Expected reads of camera c in hour h are scaled to what the whole network saw in h, N(h), so a
network-wide feed gap (or a partial last hour) is never blamed on one camera:
* one day of data or less: expected(c, h) = share_c x N(h), share_c = c's reads / all reads (the
  network's diurnal profile carries the time of day);
* two days or more: expected(c, h) = share_c(hour of day) x N(h), share_c(hod) = c's reads at that
  hour of day / the network's reads at that hour of day over the period (the camera's own
  hour-of-day baseline).
An hour is silent when expected >= ``min_baseline_per_hour`` and reads < ``drop_ratio`` x expected
(zero reads included); hours with a smaller expectation cannot be judged and break a run.
One flag per run of >= ``hours`` consecutive silent hours; window = [first hour, last hour + 1 h).
score = (1 - observed/expected over the run) x (1 - 0.5^(run hours / hours)).
"""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from das.config import CameraSilentParams
from jobs.detectors.common import (
    DetectorInputs,
    empty_content,
    evidence_entry,
    flag_type_of,
    to_flags_frame,
)

FLAG_TYPE = flag_type_of(__name__)
_HOUR_MICROS = 3_600_000_000


def detect(inputs: DetectorInputs, params: CameraSilentParams, now: datetime) -> DataFrame:
    spark = inputs.spark
    hourly = inputs.reads.select("camera_id", F.unix_micros(F.date_trunc("hour", "read_at")).alias("hour_micros"))
    bounds = hourly.agg(F.min("hour_micros").alias("first"), F.max("hour_micros").alias("last")).first()
    if bounds is None or bounds["last"] is None:
        return to_flags_frame(empty_content(spark), FLAG_TYPE, params, now, salt=inputs.flag_id_salt)
    last_hour = int(bounds["last"])
    first_hour = max(int(bounds["first"]), last_hour - (params.baseline_days * 24 - 1) * _HOUR_MICROS)
    n_hours = (last_hour - first_hour) // _HOUR_MICROS + 1
    multi_day = n_hours >= 48

    counts = (
        hourly.where(F.col("hour_micros") >= first_hour)
        .groupBy("camera_id", "hour_micros")
        .agg(F.count("*").alias("observed"))
    )
    hours = spark.range(n_hours).select((F.lit(first_hour) + F.col("id") * _HOUR_MICROS).alias("hour_micros"))
    hours = hours.withColumn("hour", F.timestamp_micros("hour_micros")).withColumn("hod", F.hour("hour"))
    current = (
        inputs.cameras.where(F.col("is_current"))
        .select("camera_id", "name", "status", "installed_at", "removed_at", "longitude", "latitude")
        .dropDuplicates(["camera_id"])
    )
    cameras = (
        counts.select("camera_id")
        .distinct()
        .join(current, "camera_id", "left")
        .where(F.col("status").isNull() | (F.col("status") != "inactive"))
    )
    grid = (
        cameras.crossJoin(F.broadcast(hours))
        .join(counts, ["camera_id", "hour_micros"], "left")
        .withColumn("observed", F.coalesce(F.col("observed"), F.lit(0)))
        .where(F.col("installed_at").isNull() | (F.col("hour") >= F.col("installed_at")))
        .where(F.col("removed_at").isNull() | (F.col("hour") < F.col("removed_at")))
    )
    network = counts.groupBy("hour_micros").agg(F.sum("observed").alias("network"))
    grid = grid.join(F.broadcast(network), "hour_micros", "left").withColumn(
        "network", F.coalesce(F.col("network"), F.lit(0))
    )
    # The profile key: hour of day with two days or more, otherwise one share for the whole period.
    profile_key = F.col("hod") if multi_day else F.lit(0)
    with_key = counts.join(F.broadcast(hours), "hour_micros").withColumn("profile_key", profile_key)
    camera_profile = with_key.groupBy("camera_id", "profile_key").agg(F.sum("observed").alias("camera_reads"))
    network_profile = with_key.groupBy("profile_key").agg(F.sum("observed").alias("network_reads"))
    shares = camera_profile.join(F.broadcast(network_profile), "profile_key").select(
        "camera_id", "profile_key", (F.col("camera_reads") / F.col("network_reads")).alias("share")
    )
    grid = (
        grid.withColumn("profile_key", profile_key)
        .join(shares, ["camera_id", "profile_key"], "left")
        .withColumn("share", F.coalesce(F.col("share"), F.lit(0.0)))
    )
    judged = grid.withColumn("expected", F.col("share") * F.col("network")).withColumn(
        "silent",
        (F.col("expected") >= params.min_baseline_per_hour)
        & (F.col("observed") < params.drop_ratio * F.col("expected")),
    )
    silent = judged.where("silent").withColumn(
        "run",
        F.col("hour_micros") / _HOUR_MICROS
        - F.row_number().over(Window.partitionBy("camera_id").orderBy("hour_micros")),
    )
    hour_item = evidence_entry(
        "camera",
        ref_id=F.col("camera_id"),
        camera_id=F.col("camera_id"),
        at=F.col("hour"),
        longitude=F.col("longitude"),
        latitude=F.col("latitude"),
        detail=F.concat(
            F.date_format("hour", "yyyy-MM-dd HH:mm"),
            F.lit(" UTC + 1 h: "),
            F.col("observed").cast("string"),
            F.lit(" reads, expected "),
            F.format_number("expected", 1),
            F.lit(" (network "),
            F.col("network").cast("string"),
            F.lit(")"),
        ),
    )
    runs = (
        silent.groupBy("camera_id", "run")
        .agg(
            F.count("*").alias("n_hours"),
            F.min("hour").alias("window_start"),
            F.max("hour").alias("last_hour"),
            F.sum("observed").alias("observed"),
            F.sum("expected").alias("expected"),
            F.first("name").alias("name"),
            F.first("longitude").alias("longitude"),
            F.first("latitude").alias("latitude"),
            F.collect_list(hour_item).alias("hour_items"),
        )
        .where(F.col("n_hours") >= params.hours)
    )
    camera_item = evidence_entry(
        "camera",
        ref_id=F.col("camera_id"),
        camera_id=F.col("camera_id"),
        longitude=F.col("longitude"),
        latitude=F.col("latitude"),
        detail=F.concat(F.lit("camera "), F.coalesce(F.col("name"), F.col("camera_id")), F.lit(" (silent camera)")),
    )
    summary = F.concat(
        F.lit("Camera "),
        F.col("camera_id"),
        F.coalesce(F.concat(F.lit(" ("), F.col("name"), F.lit(")")), F.lit("")),
        F.lit(" went silent for "),
        F.col("n_hours").cast("string"),
        F.lit(" h from "),
        F.date_format("window_start", "yyyy-MM-dd HH:mm"),
        F.lit(" to "),
        F.date_format(F.col("last_hour") + F.expr("INTERVAL 1 HOUR"), "yyyy-MM-dd HH:mm"),
        F.lit(" UTC: "),
        F.col("observed").cast("string"),
        F.lit(" reads vs "),
        F.format_number("expected", 1),
        F.lit(f" expected (below {params.drop_ratio:.0%} of its usual volume)."),
    )
    ratio = F.when(F.col("expected") > 0, F.col("observed") / F.col("expected")).otherwise(1.0)
    content = runs.select(
        F.col("camera_id").alias("subject"),
        ((1.0 - ratio) * (1.0 - F.pow(F.lit(0.5), F.col("n_hours") / float(max(params.hours, 1))))).alias("score"),
        F.array().cast("array<string>").alias("related"),
        summary.alias("summary"),
        "window_start",
        (F.col("last_hour") + F.expr("INTERVAL 1 HOUR")).alias("window_end"),
        "longitude",
        "latitude",
        F.concat(F.array(camera_item), F.col("hour_items")).alias("evidence"),
    )
    return to_flags_frame(content, FLAG_TYPE, params, now, salt=inputs.flag_id_salt)
