"""convoy: plates read together (same camera, within ``delta_t_s``) at several cameras on several occasions.

A co-read is two reads of different plates at one camera within ``delta_t_s``. Reads in a very busy window
(more than ``max_plates_per_camera_window`` reads at the camera within ``delta_t_s``; reads approximate plates)
take no part: there a co-read means nothing. Only plates seen at >= ``min_cameras`` cameras take part.

A convoy moves together: on >= ``min_occasions`` of its occasions the pair passes two successive cameras
together, that is two co-reads at different cameras that are consecutive reads of both plates, at most
``segment_max_s`` apart for each (``_moved_together``; ``segment_max_s`` < ``occasion_gap_s``, so both
co-reads fall in one occasion). Vehicles that only ever meet at one camera at a time, hours apart,
are not travelling together however many cameras they meet at.

Candidates without the pairwise self-join (``_co_reads_by_segments``). Every read at one camera pairs with
every other read there within ``delta_t_s``, so the exact co-reads (``_co_reads_exact``) grow with the square
of the traffic through a camera. Instead each plate emits *segments*: each of its reads with its next read,
when that is at another camera at most ``segment_max_s`` later, as an integer row (A, B, bucket at A, time
at A, time at B) with A < B by camera key and buckets ``delta_t_s`` wide. Two plates are candidates when
they share a segment: an equi-join on (A, B, bucket at A), one side shifted a bucket either way, both
ends then within ``delta_t_s``. Only the candidates' reads are paired exactly, and everything after that
(cameras, occasions, moved together, lift, together) is judged on exact co-reads.

Recall, exactly: let plates p and q meet the rule. They passed two successive cameras A and B together:
p's reads at A and B are consecutive and at most ``segment_max_s`` apart, so p emits the segment (A, B),
and so does q (whichever of its two reads comes first). At A their reads are within ``delta_t_s``, so
their buckets differ by at most one, and at B too: the join pairs them. That happens on two occasions
at least. Both co-reads of one such pass are in one occasion (their event times are at most
``segment_max_s`` < ``occasion_gap_s`` apart), co-reads on separate occasions are more than
``occasion_gap_s`` apart, and each read lies within ``delta_t_s`` after its event time, so p's reads at A on
the two passes are more than ``occasion_gap_s - delta_t_s`` apart: the pair is a candidate. A
candidate is then judged on all its co-reads, the same rows the exact pairing gives it (both pair the
same pool of reads, with the same sequence numbers). The flagged pairs are therefore identical:
``tests/integration/jobs/detectors/test_convoy_scale.py`` checks it on the 1M scenario, and
``das bench convoy`` at any size.

Cost: one segment per read at most, so segments grow linearly with reads; a match needs two vehicles
within ``delta_t_s`` of each other at two successive cameras of both, not at one camera, so chance company
at one busy camera drops out before any read is paired. Chance pairs on one road still meet that, and
their number grows with the square of a road's traffic, but with a far smaller constant (BENCHMARKS.md).
Rows are narrow and integer-encoded (plate and camera keys, buckets, microseconds).

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
needs lift >= ``min_lift``.

Together: the independence model underrates chance meetings of vehicles that share roads (once two
vehicles meet they follow the same road for a few cameras), so at London volumes fleet vehicles
roaming the same area all day and commuters on the same road meet the camera and occasion rule by the
thousand. A convoy travels together: ``together`` = sqrt(t_p / n_p * t_q / n_q) (Ochiai), with t_p the
reads of p that co-read with q and n_p all of p's reads in the window. A pair needs together >=
``min_together``.

Formation: a convoy keeps station. A pair's *steps* are its successive co-reads within one occasion at
different cameras; a step holds formation when the signed gap between the two changes by at most
``formation_tolerance_s`` (so the order holds too, unless they were nearly level). Company met by chance on
one road overtakes and drifts: on the simulated 10M-read scenario the gap of the 208 chance pairs that meet
every threshold changed by a median 19 s a step and only half their steps held formation, where the planted
convoys' changed by 2.5 s and all held it (the rule was chosen on that simulation; real convoys split by
lights hold fewer steps).
``formation`` = steps in formation / steps. It ranks and does not filter: a real convoy split by traffic
lights still fires, lower down.

score = lift / (lift + min_lift) * together * formation (at most 0.5 at the lift threshold).

Groups: flagged pairs are joined into connected components (min-label propagation); the subject is the
component's smallest plate, related the other plates. Window = first to last co-read of the group.
"""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from das.config import ConvoyParams
from jobs.detectors.common import DetectorInputs, checkpointed, evidence_entry, flag_type_of, flags_from

FLAG_TYPE = flag_type_of(__name__)


_SIDE = ["read_id", "plate", "micros", "seq", "read_at", "longitude", "latitude"]


def _eligible(reads: DataFrame, params: ConvoyParams) -> DataFrame:
    return reads.where(F.col("window_volume") + 1 <= params.max_plates_per_camera_window)


def _in_plate_order(pairs: DataFrame) -> DataFrame:
    """``*_a``/``*_b`` read pairs -> ``*_1``/``*_2`` with plate_1 < plate_2."""
    a_first = F.col("plate_a") < F.col("plate_b")
    return pairs.select(
        "camera_id",
        *[F.when(a_first, F.col(f"{c}_a")).otherwise(F.col(f"{c}_b")).alias(f"{c}_1") for c in _SIDE],
        *[F.when(a_first, F.col(f"{c}_b")).otherwise(F.col(f"{c}_a")).alias(f"{c}_2") for c in _SIDE],
    )


def _pool(reads: DataFrame, travelled: DataFrame, params: ConvoyParams) -> DataFrame:
    """The reads that take part in pairing (eligible, of travelled plates), each with its place ``seq`` in
    its plate's day and the plate's next read (``next_camera``, ``next_micros``)."""
    in_plate_order = Window.partitionBy("plate").orderBy("micros", "read_id")
    return (
        _eligible(reads, params)
        .join(travelled.select("plate"), "plate", "left_semi")
        .withColumn("seq", F.row_number().over(in_plate_order))
        .withColumn("next_camera", F.lead("camera_id").over(in_plate_order))
        .withColumn("next_micros", F.lead("micros").over(in_plate_order))
    )


def _co_reads_by_segments(pool: DataFrame, params: ConvoyParams) -> DataFrame:
    """The co-reads of the candidate pairs only (see the module docstring): the exact co-reads of every pair
    that can meet the rule, without pairing every read with every other at its camera."""
    plate_keys = pool.select("plate").distinct().withColumn("plate_key", F.monotonically_increasing_id())
    camera_keys = (
        pool.select("camera_id")
        .distinct()
        .withColumn("camera_key", F.dense_rank().over(Window.orderBy("camera_id")).cast("int"))
    )
    # Read by the segments and by the exact pairing below: decode and key once.
    keyed = (
        pool.join(plate_keys, "plate")
        .join(F.broadcast(camera_keys), "camera_id")
        .join(F.broadcast(camera_keys.toDF("next_camera", "next_key")), "next_camera", "left")
        .transform(checkpointed)
    )
    delta_micros = int(params.delta_t_s * 1_000_000)
    # Segments: a read and the plate's next read, at another camera, at most segment_max_s later; as
    # (A, B) with A < B by camera key and micros_a the read at A.
    forward = F.col("camera_key") < F.col("next_key")
    segments = (
        keyed.where(
            (F.col("next_key") != F.col("camera_key"))
            & (F.col("next_micros") - F.col("micros") <= int(params.segment_max_s * 1_000_000))
        )
        .select(
            "plate_key",
            F.least("camera_key", "next_key").alias("cam_a"),
            F.greatest("camera_key", "next_key").alias("cam_b"),
            F.when(forward, F.col("micros")).otherwise(F.col("next_micros")).alias("micros_a"),
            F.when(forward, F.col("next_micros")).otherwise(F.col("micros")).alias("micros_b"),
        )
        .withColumn("bucket_a", F.floor(F.col("micros_a") / delta_micros))
    )
    # Two plates share a segment when both ends co-read: an equi-join on (A, B, bucket at A), the other
    # side shifted a bucket either way, then both ends checked to delta_t_s.
    probes = segments.select(
        F.col("plate_key").alias("other_key"),
        "cam_a",
        "cam_b",
        F.explode(F.array(F.col("bucket_a") - 1, F.col("bucket_a"), F.col("bucket_a") + 1)).alias("bucket_a"),
        F.col("micros_a").alias("other_a"),
        F.col("micros_b").alias("other_b"),
    )
    candidates = (
        segments.join(probes, ["cam_a", "cam_b", "bucket_a"])
        .where(
            (F.col("plate_key") < F.col("other_key"))
            & (F.abs(F.col("micros_a") - F.col("other_a")) <= delta_micros)
            & (F.abs(F.col("micros_b") - F.col("other_b")) <= delta_micros)
        )
        .groupBy("plate_key", "other_key")
        # Segments passed together on separate occasions are more than occasion_gap_s apart (less the
        # delta_t_s between a plate's read and the co-read's event time).
        .agg((F.max("micros_a") - F.min("micros_a")).alias("span"))
        .where(
            F.lit(params.min_occasions < 2)
            | (F.col("span") > int((params.occasion_gap_s - params.delta_t_s) * 1_000_000))
        )
        .select("plate_key", "other_key")
        # Few rows from the costliest join here, and the co-reads below are read twice: compute it once.
        .transform(checkpointed)
    )
    first = keyed.select("plate_key", "camera_key", "camera_id", *[F.col(c).alias(f"{c}_a") for c in _SIDE])
    second = keyed.select(
        "camera_key", F.col("plate_key").alias("other_key"), *[F.col(c).alias(f"{c}_b") for c in _SIDE]
    )
    pairs = (
        candidates.join(first, "plate_key")
        .join(second, ["other_key", "camera_key"])
        .where(F.abs(F.col("micros_b") - F.col("micros_a")) <= delta_micros)
    )
    return _in_plate_order(pairs)


def _co_reads_exact(pool: DataFrame, params: ConvoyParams) -> DataFrame:
    """Pairs of reads of different plates at one camera within delta_t (each pair once, plate1 < plate2).

    Each read is joined with the reads of its own and the next bucket that come after it in time (ties
    broken by read id), then the pair is put in plate order: a third of the rows a symmetric
    (bucket-1, bucket, bucket+1) join would produce.
    """
    early = pool.select("camera_id", "bucket", *[F.col(c).alias(f"{c}_a") for c in _SIDE])
    late = pool.select(
        "camera_id",
        F.explode(F.array(F.col("bucket"), F.col("bucket") - 1)).alias("bucket"),
        *[F.col(c).alias(f"{c}_b") for c in _SIDE],
    )
    max_gap_micros = int(params.delta_t_s * 1_000_000)
    later = (F.col("micros_b") > F.col("micros_a")) | (
        (F.col("micros_b") == F.col("micros_a")) & (F.col("read_id_b") > F.col("read_id_a"))
    )
    pairs = early.join(late, ["camera_id", "bucket"]).where(
        later & (F.col("micros_b") - F.col("micros_a") <= max_gap_micros) & (F.col("plate_a") != F.col("plate_b"))
    )
    return _in_plate_order(pairs)


def _prepared_reads(inputs: DetectorInputs, params: ConvoyParams) -> DataFrame:
    window_micros = int(params.delta_t_s * 1_000_000)
    around = Window.partitionBy("camera_id").orderBy("micros").rangeBetween(-window_micros, window_micros)
    return (
        inputs.reads.select("read_id", "plate", "camera_id", "read_at", "longitude", "latitude")
        .withColumn("micros", F.unix_micros("read_at"))
        .withColumn("bucket", F.floor(F.col("micros") / window_micros))
        .withColumn("hour", F.date_trunc("hour", "read_at"))
        .withColumn("window_volume", F.count("*").over(around) - 1)
    )


def _occasions(co: DataFrame, params: ConvoyParams) -> DataFrame:
    """Number the occasions of each pair: a gap over occasion_gap_s between co-reads starts a new one."""
    in_pair_order = Window.partitionBy("plate_1", "plate_2").orderBy("event_micros", "read_id_1", "read_id_2")
    previous = F.lag("event_micros").over(in_pair_order)
    starts = F.when(previous.isNull() | (F.col("event_micros") - previous > int(params.occasion_gap_s * 1e6)), 1)
    return co.withColumn(
        "occasion",
        F.sum(starts.otherwise(0)).over(in_pair_order.rowsBetween(Window.unboundedPreceding, Window.currentRow)),
    )


def _moved_together(co: DataFrame, params: ConvoyParams) -> DataFrame:
    """Pairs that passed two successive cameras together on >= min_occasions occasions: co-reads at
    different cameras that are consecutive reads of both plates, at most segment_max_s apart for each."""
    here = co.select("plate_1", "plate_2", "camera_id", "seq_1", "seq_2", "micros_1", "micros_2", "occasion")
    step = int(params.segment_max_s * 1_000_000)
    there = here.select(
        "plate_1",
        "plate_2",
        F.col("camera_id").alias("camera_next"),
        (F.col("seq_1") - 1).alias("seq_1"),
        F.explode(F.array(F.col("seq_2") - 1, F.col("seq_2") + 1)).alias("seq_2"),
        F.col("micros_1").alias("next_1"),
        F.col("micros_2").alias("next_2"),
    )
    return (
        here.join(there, ["plate_1", "plate_2", "seq_1", "seq_2"])
        .where(
            (F.col("camera_id") != F.col("camera_next"))
            & (F.col("next_1") - F.col("micros_1") <= step)
            & (F.abs(F.col("next_2") - F.col("micros_2")) <= step)
        )
        .groupBy("plate_1", "plate_2")
        .agg(F.countDistinct("occasion").alias("occasions_moved"))
        .where(F.col("occasions_moved") >= params.min_occasions)
        .select("plate_1", "plate_2")
    )


def _formation(co: DataFrame, params: ConvoyParams) -> DataFrame:
    """Per pair: its steps (successive co-reads of one occasion, at different cameras) and the steps it held
    formation on: the signed gap between the two changed by at most ``formation_tolerance_s`` (an overtake
    changes it by twice its size, so only vehicles nearly level can swap places and hold formation)."""
    in_order = Window.partitionBy("plate_1", "plate_2", "occasion").orderBy("event_micros", "read_id_1", "read_id_2")
    gap = F.col("micros_2") - F.col("micros_1")
    steps = co.select(
        "plate_1",
        "plate_2",
        "camera_id",
        gap.alias("gap"),
        F.lag(gap).over(in_order).alias("previous_gap"),
        F.lag("camera_id").over(in_order).alias("previous_camera"),
    ).where(F.col("previous_camera").isNotNull() & (F.col("previous_camera") != F.col("camera_id")))
    held = F.abs(F.col("gap") - F.col("previous_gap")) <= int(params.formation_tolerance_s * 1_000_000)
    return steps.groupBy("plate_1", "plate_2").agg(
        F.count("*").alias("steps"), F.sum(F.when(held, 1).otherwise(0)).alias("steps_in_formation")
    )


def convoy_pairs(reads: DataFrame, params: ConvoyParams, *, exact: bool = False) -> tuple[DataFrame, DataFrame]:
    """(co-reads, candidate pairs): pairs meeting the camera and occasion rule, with their chance statistics.

    Candidate columns: plate_1, plate_2, observed (co-reads), n_cameras, n_occasions, together, steps,
    steps_in_formation, formation, expected, lift.
    ``reads`` comes from ``_prepared_reads``. No lift or together threshold is applied here. ``exact`` pairs
    every read with every other at its camera (the reference the segment candidates are checked against);
    without it the co-reads returned are the candidates' only. ``min_cameras`` < 2 always pairs exactly.
    """
    # Only plates seen at >= min_cameras cameras can be in a convoy: most plates drop out before pairing.
    per_plate = reads.groupBy("plate").agg(
        F.count("*").alias("n_reads"), F.countDistinct("camera_id").alias("n_cameras")
    )
    travelled = per_plate.where(F.col("n_cameras") >= params.min_cameras).select("plate", "n_reads")
    pairing = _co_reads_exact if exact or params.min_cameras < 2 else _co_reads_by_segments
    co_reads = pairing(_pool(reads, travelled, params), params)
    # Most pairs co-read once. Keep the pairs with at least min_cameras co-reads first (a plain count,
    # necessary for min_cameras distinct cameras; the exact test is below), so that the occasion
    # numbering sorts only their co-reads.
    at_enough_cameras = (
        co_reads.groupBy("plate_1", "plate_2")
        .count()
        .where(F.col("count") >= params.min_cameras)
        .select("plate_1", "plate_2")
        .transform(checkpointed)
    )
    co = _occasions(
        co_reads.join(at_enough_cameras, ["plate_1", "plate_2"], "left_semi").withColumn(
            "event_micros", F.least("micros_1", "micros_2")
        ),
        params,
    ).transform(checkpointed)
    totals_1 = travelled.select(F.col("plate").alias("plate_1"), F.col("n_reads").alias("n_reads_1"))
    totals_2 = travelled.select(F.col("plate").alias("plate_2"), F.col("n_reads").alias("n_reads_2"))
    pairs = (
        co.groupBy("plate_1", "plate_2")
        .agg(
            F.count("*").alias("observed"),
            F.countDistinct("camera_id").alias("n_cameras"),
            F.max("occasion").alias("n_occasions"),
            F.countDistinct("read_id_1").alias("together_1"),
            F.countDistinct("read_id_2").alias("together_2"),
        )
        .where((F.col("n_cameras") >= params.min_cameras) & (F.col("n_occasions") >= params.min_occasions))
        .join(_moved_together(co, params), ["plate_1", "plate_2"], "left_semi")
        .transform(checkpointed)
    )
    # Formation only for the pairs the rule keeps (in exact mode co holds far more pairs than that).
    formation = _formation(co.join(pairs.select("plate_1", "plate_2"), ["plate_1", "plate_2"], "left_semi"), params)
    pairs = (
        pairs.join(totals_1, "plate_1")
        .join(totals_2, "plate_2")
        .join(formation, ["plate_1", "plate_2"], "left")
        .fillna(0, ["steps", "steps_in_formation"])
        .withColumn(
            "formation",
            F.when(F.col("steps") > 0, F.col("steps_in_formation") / F.col("steps")).otherwise(F.lit(0.0)),
        )
        # Share of their reads the two plates made together (Ochiai): 1.0 for vehicles only ever seen together.
        .withColumn(
            "together",
            F.sqrt(F.col("together_1") / F.col("n_reads_1") * (F.col("together_2") / F.col("n_reads_2"))),
        )
        # Candidates are few next to reads, and are used several times below: materialise them once
        # (checkpointed: see common.checkpointed) rather than recomputing the co-read self-join for every use.
        .transform(checkpointed)
    )

    network_hour = reads.groupBy("hour").agg(F.count("*").alias("network_reads"))
    # Only the candidates' plates need their hours: a small broadcast semi-join instead of every plate's.
    candidate_plates = pairs.select(F.col("plate_1").alias("plate")).union(pairs.select(F.col("plate_2"))).distinct()
    plate_hour = (
        reads.join(F.broadcast(candidate_plates), "plate", "left_semi")
        .groupBy("plate", "hour")
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
    candidates = (
        pairs.join(expected, ["plate_1", "plate_2"])
        .where(F.col("expected") > 0)
        .withColumn("lift", F.col("observed") / F.col("expected"))
    )
    return co, candidates


def _connected_groups(flagged: DataFrame, max_rounds: int = 32) -> DataFrame:
    """plate -> group (the smallest plate of its connected component), by min-label propagation.

    Flagged pairs are few and groups small, so this converges in a handful of rounds of small joins.
    """
    edges = flagged.select(F.col("plate_1").alias("a"), F.col("plate_2").alias("b"))
    edges = edges.unionByName(edges.select(F.col("b").alias("a"), F.col("a").alias("b"))).transform(checkpointed)
    labels = edges.groupBy("a").agg(F.least(F.min("b"), F.first("a")).alias("group")).transform(checkpointed)
    for _ in range(max_rounds):
        spread = (
            edges.join(labels, "a")
            .groupBy(F.col("b").alias("a"))
            .agg(F.min("group").alias("offered"))
            .join(labels, "a")
            .select("a", F.least("group", "offered").alias("group"))
            .transform(checkpointed)
        )
        changed = spread.join(labels.withColumnRenamed("group", "before"), "a").where(F.col("group") != F.col("before"))
        labels = spread
        if changed.isEmpty():
            break
    return labels.withColumnRenamed("a", "plate")


def flagged_pairs(inputs: DetectorInputs, params: ConvoyParams, *, exact: bool = False) -> tuple[DataFrame, DataFrame]:
    """(co-reads, flagged pairs with their pair_score): the verdict on each pair, before grouping."""
    # The window volumes feed five aggregates and joins below: compute them once.
    co, candidates = convoy_pairs(_prepared_reads(inputs, params).transform(checkpointed), params, exact=exact)
    flagged = (
        candidates.where((F.col("lift") >= params.min_lift) & (F.col("together") >= params.min_together))
        .withColumn(
            "pair_score",
            F.col("lift") / (F.col("lift") + params.min_lift) * F.col("together") * F.col("formation"),
        )
        .transform(checkpointed)
    )
    return co, flagged


def detect(inputs: DetectorInputs, params: ConvoyParams, now: datetime) -> DataFrame:
    co, flagged = flagged_pairs(inputs, params)
    groups = _connected_groups(flagged)
    flagged = flagged.join(groups.select(F.col("plate").alias("plate_1"), "group"), "plate_1")

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
    events = co.join(flagged.select("plate_1", "plate_2", "group"), ["plate_1", "plate_2"]).select(
        "group",
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
        events.groupBy("group", F.col("item.ref_id").alias("ref_id"))
        .agg(F.first("item").alias("item"), F.array_sort(F.collect_set("item.detail")).alias("details"))
        .select("group", F.col("item").withField("detail", F.array_join("details", "; ")).alias("item"))
    )
    first_event = F.min_by(F.struct("item.at", "item.longitude", "item.latitude"), F.col("item.at"))
    group_evidence = per_read.groupBy("group").agg(
        F.collect_list("item").alias("evidence"),
        F.min("item.at").alias("window_start"),
        F.max("item.at").alias("window_end"),
        first_event.alias("first"),
    )
    # Equal scores are broken by the plates, so the summary names the same pair on every run.
    strongest = F.max_by(
        F.struct(
            "plate_1",
            "plate_2",
            "observed",
            "expected",
            "lift",
            "together",
            "n_cameras",
            "n_occasions",
            "steps",
            "steps_in_formation",
        ),
        F.struct("pair_score", "plate_1", "plate_2"),
    )
    members = F.array_distinct(F.flatten(F.collect_list(F.array("plate_1", "plate_2"))))
    by_group = flagged.groupBy("group").agg(
        F.array_sort(F.array_remove(members, F.col("group"))).alias("related"),
        F.max("pair_score").alias("score"),
        strongest.alias("top"),
    )
    summary = F.concat(
        F.col("group"),
        F.lit(" travelled with "),
        F.array_join("related", ", "),
        F.lit(f" (read within {params.delta_t_s:g} s at the same camera) between "),
        F.date_format("window_start", "yyyy-MM-dd HH:mm"),
        F.lit(" and "),
        F.date_format("window_end", "yyyy-MM-dd HH:mm"),
        F.lit(" UTC; strongest pair "),
        F.col("top.plate_1"),
        F.lit("/"),
        F.col("top.plate_2"),
        F.lit(": "),
        F.col("top.observed").cast("string"),
        F.lit(" co-reads at "),
        F.col("top.n_cameras").cast("string"),
        F.lit(" cameras on "),
        F.col("top.n_occasions").cast("string"),
        F.lit(" occasions vs "),
        F.format_number("top.expected", 2),
        F.lit(" expected by chance (lift "),
        F.format_number("top.lift", 1),
        F.lit("), "),
        F.format_number(F.col("top.together") * 100, 0),
        F.lit("% of their reads together, in formation (the gap between them steady within "),
        F.lit(f"{params.formation_tolerance_s:g} s from camera to camera) at "),
        F.col("top.steps_in_formation").cast("string"),
        F.lit(" of "),
        F.col("top.steps").cast("string"),
        F.lit(" successive cameras."),
    )
    return flags_from(
        by_group.join(group_evidence, "group"),
        FLAG_TYPE,
        params,
        now,
        salt=inputs.flag_id_salt,
        subject="group",
        summary=summary,
        longitude="first.longitude",
        latitude="first.latitude",
    )
