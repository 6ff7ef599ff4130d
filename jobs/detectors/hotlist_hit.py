"""hotlist_hit: a read of a plate that is on a hotlist entry valid at read time.

One flag per (hotlist plate, UTC day): every matching read of that day is evidence, the window is the
day [00:00, next 00:00), so re-runs and later reads on the same day keep the same flag_id while the
evidence grows. Validity: ``valid_from`` null = always, ``valid_to`` null = open-ended, ``valid_to``
exclusive. Duplicate or overlapping entries for a plate collapse to the highest-priority entry valid
at each read.

Fuzzy hits: ANPR OCR confuses O/0/D, I/1, B/8, S/5, Z/2 and G/6. Both sides are mapped to a
confusion-class skeleton (O, D -> 0; I -> 1; B -> 8; S -> 5; Z -> 2; G -> 6) and joined on it; a read
whose plate differs from the entry but has the same skeleton is a fuzzy hit, scored at
``fuzzy_score_factor`` x the priority score and marked "fuzzy" in summary and evidence. A read that
hits any entry exactly is never also reported as fuzzy.

Retro-hits: reads are not limited to recent ones (only to ``retro_days`` before ``now``), so a new
entry is checked against every past read the caller passes.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from das.config import HotlistHitParams
from jobs.detectors.common import DetectorInputs, day_window, flag_type_of, flags_from, read_evidence, utc

FLAG_TYPE = flag_type_of(__name__)
_CONFUSABLE_FROM = "ODIBSZG"
_CONFUSABLE_TO = "0018526"


def plate_skeleton(plate: F.Column) -> F.Column:
    """The plate with OCR-confusable characters mapped to one representative per class."""
    return F.translate(F.upper(plate), _CONFUSABLE_FROM, _CONFUSABLE_TO)


def _priority_score(params: HotlistHitParams, priority: F.Column) -> F.Column:
    score = F.lit(min(params.priority_scores.values(), default=0.5))  # unknown priority: the lowest
    for name, value in sorted(params.priority_scores.items()):
        score = F.when(priority == name, F.lit(float(value))).otherwise(score)
    return score


def detect(inputs: DetectorInputs, params: HotlistHitParams, now: datetime) -> DataFrame:
    now = utc(now)
    reads = inputs.reads.where(F.col("read_at") >= F.lit(now - timedelta(days=params.retro_days)))
    if params.min_confidence > 0:
        reads = reads.where(F.col("confidence").isNull() | (F.col("confidence") >= params.min_confidence))
    reads = reads.select(
        "read_id",
        "camera_id",
        "plate",
        "plate_raw",
        "read_at",
        "confidence",
        "longitude",
        "latitude",
        (plate_skeleton(F.col("plate")) if params.fuzzy_enabled else F.col("plate")).alias("match_key"),
    )
    entries = inputs.hotlist.select(
        F.col("plate").alias("entry_plate"),
        F.col("list_name"),
        F.col("reason"),
        F.col("priority"),
        F.col("valid_from"),
        F.col("valid_to"),
        _priority_score(params, F.col("priority")).alias("priority_score"),
        (plate_skeleton(F.col("plate")) if params.fuzzy_enabled else F.col("plate")).alias("match_key"),
    )
    # The hotlist is small: broadcast it, so the per-read side is one map-side hash join.
    candidates = (
        reads.join(F.broadcast(entries), "match_key")
        .where(F.col("valid_from").isNull() | (F.col("read_at") >= F.col("valid_from")))
        .where(F.col("valid_to").isNull() | (F.col("read_at") < F.col("valid_to")))
        .withColumn("is_exact", F.col("plate") == F.col("entry_plate"))
    )
    per_read = Window.partitionBy("read_id")
    best_entry = Window.partitionBy("read_id", "entry_plate").orderBy(
        F.col("priority_score").desc(), F.col("list_name"), F.col("valid_from").asc_nulls_first()
    )
    hits = (
        candidates.withColumn("read_has_exact", F.max(F.col("is_exact").cast("int")).over(per_read) == 1)
        .where(F.col("is_exact") | ~F.col("read_has_exact"))  # exact hits take precedence
        .withColumn("entry_rank", F.row_number().over(best_entry))
        .where(F.col("entry_rank") == 1)  # duplicate / overlapping entries: the strongest one
        .withColumn(
            "hit_score",
            F.col("priority_score") * F.when(F.col("is_exact"), 1.0).otherwise(params.fuzzy_score_factor),
        )
        .withColumn("day", F.to_date("read_at"))
    )
    match_word = F.when(F.col("is_exact"), F.lit("exact")).otherwise(F.lit("fuzzy"))
    detail = F.concat(
        F.lit("hotlist "),
        match_word,
        F.lit(" hit on "),
        F.col("entry_plate"),
        F.lit(" (list "),
        F.col("list_name"),
        F.lit(", "),
        F.col("priority"),
        F.lit(" priority"),
        F.coalesce(F.concat(F.lit(": "), F.col("reason")), F.lit("")),
        F.lit("); read as "),
        F.col("plate_raw"),
        F.coalesce(F.concat(F.lit(", confidence "), F.format_number("confidence", 2)), F.lit("")),
    )
    hits = hits.withColumn(
        "evidence_item",
        read_evidence(detail),
    )
    first_read = F.min_by(F.struct("camera_id", "longitude", "latitude", "read_at"), F.col("read_at"))
    daily = hits.groupBy("entry_plate", "day").agg(
        F.max("hit_score").alias("score"),
        F.max(F.col("is_exact").cast("int")).alias("any_exact"),
        F.count("*").alias("n_reads"),
        F.sum(F.col("is_exact").cast("int")).alias("n_exact"),
        F.countDistinct("camera_id").alias("n_cameras"),
        F.array_sort(F.collect_set("plate")).alias("plates_read"),
        F.max_by(F.struct("priority", "list_name", "reason"), F.col("hit_score")).alias("entry"),
        first_read.alias("first"),
        F.array_sort(F.collect_list("read_id")).alias("related"),
        F.collect_list("evidence_item").alias("evidence"),
    )
    kind = F.when(F.col("any_exact") == 1, F.lit("Hotlist hit")).otherwise(F.lit("Possible (fuzzy) hotlist hit"))
    fuzzy_note = F.when(
        (F.col("n_reads") > F.col("n_exact")),
        F.concat(F.lit(" (fuzzy OCR match on "), F.array_join("plates_read", "/"), F.lit(")")),
    ).otherwise(F.lit(""))
    summary = F.concat(
        kind,
        F.lit(": "),
        F.col("entry_plate"),
        F.lit(" ("),
        F.col("entry.priority"),
        F.lit(" priority, list "),
        F.col("entry.list_name"),
        F.coalesce(F.concat(F.lit(", "), F.col("entry.reason")), F.lit("")),
        F.lit(") read "),
        F.col("n_reads").cast("string"),
        F.lit(" time(s) at "),
        F.col("n_cameras").cast("string"),
        F.lit(" camera(s) on "),
        F.date_format("day", "yyyy-MM-dd"),
        F.lit(", first at "),
        F.date_format("first.read_at", "HH:mm"),
        F.lit(" UTC at "),
        F.col("first.camera_id"),
        fuzzy_note,
        F.lit("."),
    )
    return flags_from(
        daily,
        FLAG_TYPE,
        params,
        now,
        salt=inputs.flag_id_salt,
        subject="entry_plate",
        summary=summary,
        longitude="first.longitude",
        latitude="first.latitude",
        **day_window("day"),
    )
