"""cloned_plate: the same plate read at two places further apart than any vehicle could travel.

Each read is compared with the plate's previous read in time (a window ordered by read_at within the
plate), never with all pairs. Distance is BNG easting/northing (metres) x ``detour_factor``.

Clock skew is tolerated *conservatively*: camera clocks may be off by up to ``clock_skew_s``, so the
true gap may be that much longer than the observed one; the implied speed is computed over
``observed gap + clock_skew_s``. (Subtracting the skew, as the issue's wording says, would make skew
*create* impossible speeds; adding it is what makes two reads at neighbouring cameras seconds apart
not fire.) Pairs closer than ``min_separation_m`` never fire (two cameras at one junction, or at the
same point). Reads below ``min_confidence`` are ignored; reads with unknown confidence are kept.

One flag per (plate, UTC day of the later read of the pair); window = that day. Score from how
impossible the speed is: 1 - max_speed / implied_speed (0 at the limit, -> 1 as it grows).
"""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from das.config import ClonedPlateParams
from jobs.detectors.common import DetectorInputs, day_window, epoch_seconds, flag_type_of, flags_from, read_evidence

FLAG_TYPE = flag_type_of(__name__)


def detect(inputs: DetectorInputs, params: ClonedPlateParams, now: datetime) -> DataFrame:
    reads = (
        inputs.reads.where(F.col("confidence").isNull() | (F.col("confidence") >= params.min_confidence))
        .where(F.col("easting").isNotNull() & F.col("northing").isNotNull())
        .select("read_id", "plate", "camera_id", "read_at", "easting", "northing", "longitude", "latitude")
    )
    in_time_order = Window.partitionBy("plate").orderBy("read_at", "read_id")
    previous = {c: F.lag(c).over(in_time_order) for c in reads.columns if c != "plate"}
    pairs = reads.select("*", *[value.alias(f"prev_{name}") for name, value in previous.items()]).where(
        F.col("prev_read_id").isNotNull()
    )
    distance_m = (
        F.sqrt(
            F.pow(F.col("easting") - F.col("prev_easting"), 2) + F.pow(F.col("northing") - F.col("prev_northing"), 2)
        )
        * params.detour_factor
    )
    gap_s = epoch_seconds(F.col("read_at")) - epoch_seconds(F.col("prev_read_at"))
    tolerant_gap_s = gap_s + params.clock_skew_s
    # A zero tolerant gap (no skew allowed, same instant) means "infinitely fast": guarded, never divided.
    speed_kmh = F.when(tolerant_gap_s > 0, (F.col("distance_m") / 1000.0) / (tolerant_gap_s / 3600.0))
    impossible = (
        pairs.withColumn("distance_m", distance_m)
        .withColumn("gap_s", gap_s)
        .withColumn("speed_kmh", speed_kmh)
        .where(F.col("distance_m") >= params.min_separation_m)
        .where((F.col("speed_kmh").isNull() & (F.col("distance_m") > 0)) | (F.col("speed_kmh") > params.max_speed_kmh))
        .withColumn(
            "pair_score",
            F.when(F.col("speed_kmh").isNull(), 1.0).otherwise(1.0 - params.max_speed_kmh / F.col("speed_kmh")),
        )
        .withColumn("day", F.to_date("read_at"))
    )
    speed_text = F.coalesce(F.format_number("speed_kmh", 0), F.lit("unbounded"))
    pair_text = F.concat(
        F.format_number(F.col("distance_m") / 1000.0, 1),
        F.lit(" km in "),
        F.format_number("gap_s", 0),
        F.lit(" s (implied "),
        speed_text,
        F.lit(f" km/h > {params.max_speed_kmh:g} km/h, "),
        F.lit(f"allowing {params.clock_skew_s:g} s clock skew)"),
    )
    impossible = impossible.withColumn(
        "pair_evidence",
        F.array(
            read_evidence(F.concat(F.lit("earlier read of an impossible pair: "), pair_text), prefix="prev_"),
            read_evidence(F.concat(F.lit("later read of an impossible pair: "), pair_text)),
        ),
    )
    worst = F.max_by(
        F.struct("distance_m", "gap_s", "speed_kmh", "camera_id", "prev_camera_id", "prev_longitude", "prev_latitude"),
        F.col("pair_score"),
    )
    daily = impossible.groupBy("plate", "day").agg(
        F.max("pair_score").alias("score"),
        F.count("*").alias("n_pairs"),
        worst.alias("worst"),
    )
    # A read can end one impossible pair and start the next: one evidence entry per read, details joined.
    per_read = (
        impossible.select("plate", "day", F.explode("pair_evidence").alias("item"))
        .groupBy("plate", "day", F.col("item.ref_id").alias("ref_id"))
        .agg(F.first("item").alias("item"), F.array_sort(F.collect_set("item.detail")).alias("details"))
        .select(
            "plate", "day", "ref_id", F.col("item").withField("detail", F.array_join("details", "; ")).alias("item")
        )
        .groupBy("plate", "day")
        .agg(F.array_sort(F.collect_list("ref_id")).alias("related"), F.collect_list("item").alias("evidence"))
    )
    daily = daily.join(per_read, ["plate", "day"])
    summary = F.concat(
        F.col("plate"),
        F.lit(" read at "),
        F.col("worst.prev_camera_id"),
        F.lit(" and "),
        F.col("worst.camera_id"),
        F.lit(" "),
        F.format_number(F.col("worst.distance_m") / 1000.0, 1),
        F.lit(" km apart within "),
        F.format_number("worst.gap_s", 0),
        F.lit(" s (implied "),
        F.coalesce(F.format_number("worst.speed_kmh", 0), F.lit("unbounded")),
        F.lit(f" km/h, limit {params.max_speed_kmh:g}) on "),
        F.date_format("day", "yyyy-MM-dd"),
        F.lit(": possible cloned plate ("),
        F.col("n_pairs").cast("string"),
        F.lit(" impossible pair(s))."),
    )
    return flags_from(
        daily,
        FLAG_TYPE,
        params,
        now,
        salt=inputs.flag_id_salt,
        subject="plate",
        summary=summary,
        longitude="worst.prev_longitude",
        latitude="worst.prev_latitude",
        **day_window("day"),
    )
