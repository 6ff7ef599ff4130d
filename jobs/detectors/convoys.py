"""convoy: plates read together (same camera, within ``delta_t_s``) at several cameras on several occasions.

Scaling: read times are bucketed into ``delta_t_s`` buckets; each read is joined with the reads of the
same camera in its own and the adjacent buckets (an equi-join on (camera_id, bucket), the other side
exploded to bucket-1, bucket, bucket+1), keeping pairs within ``delta_t_s``, plate1 < plate2. Reads in
a very busy window (more than ``max_plates_per_camera_window`` reads at the camera within
``delta_t_s``; reads approximate plates) take no part in pairing: there a co-read means nothing.

Plates seen at fewer than ``min_cameras`` cameras are dropped before pairing (window volumes are
counted over all reads first). Co-reads of a pair are split into occasions (a gap over
``occasion_gap_s`` starts a new one); a pair needs >= ``min_cameras`` distinct cameras and
>= ``min_occasions`` occasions.

Chance: for each plate p and hour h, S_p(h) = sum over p's reads in h of the number of other reads at
the same camera within ``delta_t_s`` (the read's window volume), divided by N_h, the network's reads
in h; that is the expected number of times one random read of hour h falls in one of p's windows.
Expected co-reads of (p, q) = 1/2 * sum_h [S_p(h) * n_q(h) + S_q(h) * n_p(h)], where n_q(h) is q's
reads in h. Busy cameras (large window volumes) and busy plates (large n) raise the expectation, so
two vehicles in the same rush-hour queue do not fire. lift = observed co-reads / expected; a pair
needs lift >= ``min_lift``. score = lift / (lift + min_lift) (0.5 at the threshold).

Groups: flagged pairs are grouped under their lexicographically smallest plate (subject; related =
the other plates); a pair (q, r) already covered by a group (p, q), (p, r) is not flagged again.
Window = first to last co-read of the group (derived from the data).
"""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from das.config import ConvoyParams
from jobs.detectors.common import DetectorInputs, evidence_entry, to_flags_frame

FLAG_TYPE = "convoy"


def _co_reads(reads: DataFrame, params: ConvoyParams) -> DataFrame:
    """Pairs of reads of different plates at one camera within delta_t (each pair once, plate1 < plate2)."""
    eligible = reads.where(F.col("window_volume") + 1 <= params.max_plates_per_camera_window)
    side = ["read_id", "plate", "micros", "read_at", "longitude", "latitude"]
    left = eligible.select("camera_id", "bucket", *[F.col(c).alias(f"{c}_1") for c in side])
    right = eligible.select(
        "camera_id",
        F.explode(F.array(F.col("bucket") - 1, F.col("bucket"), F.col("bucket") + 1)).alias("bucket"),
        *[F.col(c).alias(f"{c}_2") for c in side],
    )
    max_gap_micros = int(params.delta_t_s * 1_000_000)
    return left.join(right, ["camera_id", "bucket"]).where(
        (F.col("plate_1") < F.col("plate_2")) & (F.abs(F.col("micros_1") - F.col("micros_2")) <= max_gap_micros)
    )


def detect_convoys(inputs: DetectorInputs, params: ConvoyParams, now: datetime) -> DataFrame:
    window_micros = int(params.delta_t_s * 1_000_000)
    around = Window.partitionBy("camera_id").orderBy("micros").rangeBetween(-window_micros, window_micros)
    reads = (
        inputs.reads.select("read_id", "plate", "camera_id", "read_at", "longitude", "latitude")
        .withColumn("micros", F.unix_micros("read_at"))
        .withColumn("bucket", F.floor(F.col("micros") / window_micros))
        .withColumn("hour", F.date_trunc("hour", "read_at"))
        .withColumn("window_volume", F.count("*").over(around) - 1)
    )

    # Only plates seen at >= min_cameras cameras can be in a convoy: most plates drop out before pairing.
    travelled = (
        reads.groupBy("plate")
        .agg(F.countDistinct("camera_id").alias("n_cameras"))
        .where(F.col("n_cameras") >= params.min_cameras)
        .select("plate")
    )
    co = _co_reads(reads.join(travelled, "plate", "left_semi"), params).withColumn(
        "event_micros", F.least("micros_1", "micros_2")
    )
    in_pair_order = Window.partitionBy("plate_1", "plate_2").orderBy("event_micros", "read_id_1", "read_id_2")
    gap_micros = int(params.occasion_gap_s * 1_000_000)
    previous = F.lag("event_micros").over(in_pair_order)
    co = co.withColumn(
        "occasion",
        F.sum(F.when(previous.isNull() | (F.col("event_micros") - previous > gap_micros), 1).otherwise(0)).over(
            in_pair_order.rowsBetween(Window.unboundedPreceding, Window.currentRow)
        ),
    )
    pairs = (
        co.groupBy("plate_1", "plate_2")
        .agg(
            F.count("*").alias("observed"),
            F.countDistinct("camera_id").alias("n_cameras"),
            F.max("occasion").alias("n_occasions"),
        )
        .where((F.col("n_cameras") >= params.min_cameras) & (F.col("n_occasions") >= params.min_occasions))
        # Candidates are few next to reads, and are used several times below: materialise them once
        # (in executor memory, no IO) rather than recomputing the co-read self-join for every use.
        .localCheckpoint()
    )

    network_hour = reads.groupBy("hour").agg(F.count("*").alias("network_reads"))
    plate_hour = (
        reads.groupBy("plate", "hour")
        .agg(F.count("*").alias("n"), F.sum("window_volume").alias("volume"))
        .join(F.broadcast(network_hour), "hour")
        .withColumn("share", F.col("volume") / F.col("network_reads"))
    )
    p = plate_hour.select(F.col("plate").alias("plate_1"), "hour", F.col("n").alias("n_1"), F.col("share").alias("s_1"))
    q = plate_hour.select(F.col("plate").alias("plate_2"), "hour", F.col("n").alias("n_2"), F.col("share").alias("s_2"))
    expected = (
        pairs.select("plate_1", "plate_2")
        .join(p, "plate_1")
        .join(q, ["plate_2", "hour"])
        .groupBy("plate_1", "plate_2")
        .agg(F.sum(0.5 * (F.col("s_1") * F.col("n_2") + F.col("s_2") * F.col("n_1"))).alias("expected"))
    )
    flagged = (
        pairs.join(expected, ["plate_1", "plate_2"])
        .where(F.col("expected") > 0)
        .withColumn("lift", F.col("observed") / F.col("expected"))
        .where(F.col("lift") >= params.min_lift)
        .localCheckpoint()
    )
    # A pair (q, r) whose plates both travel with a smaller plate p is part of p's group already.
    a, b = flagged.alias("a"), flagged.alias("b")
    covered = a.join(b, (F.col("a.plate_1") == F.col("b.plate_1")) & (F.col("a.plate_2") < F.col("b.plate_2"))).select(
        F.col("a.plate_2").alias("plate_1"), F.col("b.plate_2").alias("plate_2")
    )
    flagged = flagged.join(covered, ["plate_1", "plate_2"], "left_anti")

    pair_detail = F.concat(
        F.lit("co-read of "),
        F.col("plate_1"),
        F.lit(" and "),
        F.col("plate_2"),
        F.lit(" at "),
        F.col("camera_id"),
        F.lit(", "),
        F.format_number(F.abs(F.col("micros_1") - F.col("micros_2")) / 1_000_000.0, 0),
        F.lit(" s apart, occasion "),
        F.col("occasion").cast("string"),
    )
    events = co.join(flagged.select("plate_1", "plate_2"), ["plate_1", "plate_2"]).select(
        "plate_1",
        "event_micros",
        "camera_id",
        F.explode(
            F.array(
                *[
                    evidence_entry(
                        "read",
                        ref_id=F.col(f"read_id_{i}"),
                        camera_id=F.col("camera_id"),
                        plate=F.col(f"plate_{i}"),
                        at=F.col(f"read_at_{i}"),
                        longitude=F.col(f"longitude_{i}"),
                        latitude=F.col(f"latitude_{i}"),
                        detail=pair_detail,
                    )
                    for i in (1, 2)
                ]
            )
        ).alias("item"),
    )
    per_read = (
        events.groupBy("plate_1", F.col("item.ref_id").alias("ref_id"))
        .agg(F.first("item").alias("item"), F.array_sort(F.collect_set("item.detail")).alias("details"))
        .select("plate_1", F.col("item").withField("detail", F.array_join("details", "; ")).alias("item"))
    )
    first_event = F.min_by(F.struct("item.at", "item.longitude", "item.latitude"), F.col("item.at"))
    group_evidence = per_read.groupBy("plate_1").agg(
        F.collect_list("item").alias("evidence"),
        F.min("item.at").alias("window_start"),
        F.max("item.at").alias("window_end"),
        first_event.alias("first"),
    )
    strongest = F.max_by(F.struct("plate_2", "observed", "expected", "lift", "n_cameras", "n_occasions"), "lift")
    groups = flagged.groupBy("plate_1").agg(
        F.array_sort(F.collect_list("plate_2")).alias("related"),
        F.max("lift").alias("lift"),
        F.max("n_cameras").alias("n_cameras"),
        F.max("n_occasions").alias("n_occasions"),
        strongest.alias("top"),
    )
    summary = F.concat(
        F.col("plate_1"),
        F.lit(" travelled with "),
        F.array_join("related", ", "),
        F.lit(f" (read within {params.delta_t_s:g} s at the same camera) at "),
        F.col("top.n_cameras").cast("string"),
        F.lit(" cameras on "),
        F.col("top.n_occasions").cast("string"),
        F.lit(" occasions between "),
        F.date_format("window_start", "yyyy-MM-dd HH:mm"),
        F.lit(" and "),
        F.date_format("window_end", "yyyy-MM-dd HH:mm"),
        F.lit(" UTC: "),
        F.col("top.observed").cast("string"),
        F.lit(" co-reads with "),
        F.col("top.plate_2"),
        F.lit(" vs "),
        F.format_number("top.expected", 2),
        F.lit(" expected by chance (lift "),
        F.format_number("top.lift", 1),
        F.lit(")."),
    )
    content = groups.join(group_evidence, "plate_1").select(
        F.col("plate_1").alias("subject"),
        (F.col("lift") / (F.col("lift") + params.min_lift)).alias("score"),
        "related",
        summary.alias("summary"),
        "window_start",
        "window_end",
        F.col("first.longitude").alias("longitude"),
        F.col("first.latitude").alias("latitude"),
        "evidence",
    )
    return to_flags_frame(content, FLAG_TYPE, params, now)
