"""The low-latency hotlist path: a Structured Streaming query from the ANPR landing folder to PostGIS flags.

Hotlist hits must not wait for the 5-minute ANPR micro-batch. This query watches ``<landing>/anpr`` and, for
each micro-batch of newly landed files, conforms the reads against the silver cameras (the same
``conform_anpr`` as the ingest), keeps the reads without a quarantine reason, runs the batch detector
``detect_hotlist_hits`` against the silver hotlist, and upserts the hits into PostGIS ``das.flags`` /
``das.flag_evidence``. The flag id is the batch detector's (type + plate + UTC day), so the same hit raised
here and later by ``build_flags`` is one flag: the batch run upserts it with complete evidence, and the
upsert keeps the investigator's triage ``status``.

What the stream is not: the system of record. The ``ingest_anpr`` micro-batch still lands every read in
bronze/silver with reconciliation and Great Expectations; the stream writes nothing to the lake (not even
gold) and only raises hits fast. Consequences:

- A hit that extends a flag already in PostGIS (same plate, same day) is recomputed from the batch's reads
  plus the reads already in that flag's evidence, so a stream hit never shrinks a flag's evidence.
- Only CSV files in the contract's column order (``read_id, camera_id, plate, read_at`` then the optional
  fields, trailing ones may be absent) are streamed; each file's header is checked, and files in another
  layout, gzip or JSONL are left to the micro-batch (logged). Hidden and ``*.tmp`` files are still being
  written and are ignored.
- Cameras and the hotlist come from silver, re-read at most every ``SILVER_TTL_S`` seconds: a camera or
  hotlist entry is seen by the stream once its own ingest has published it to silver.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psycopg2
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.streaming import StreamingQuery

from das.config import Settings
from das.credentials import flag_id_salt, pseudonym_key
from das.errors import ServiceError
from das.lake import Lake
from das.postgis import publish_flags
from jobs.detectors.common import DetectorInputs
from jobs.detectors.hotlist_hit import detect as detect_hotlist_hits
from jobs.ingest.conform.anpr import conform_anpr
from jobs.ingest.conform.common import REJECT_REASON, prefix_raw
from schemas.landing import ANPR_CSV
from schemas.tables import FLAG_EVIDENCE, SILVER_ANPR_READS, SILVER_CAMERAS, SILVER_CRIMES, SILVER_HOTLIST

log = logging.getLogger("das.streaming.hotlist")

QUERY_NAME = "hotlist_stream"
SILVER_TTL_S = 30.0
LANDING_FILE = "_landing_file"  # leading underscore: prefix_raw keeps it as is
# The landing fields in contract order; each file's header must follow it (see the module docstring).
LANDING_SCHEMA = T.StructType([T.StructField(name, T.StringType(), True) for name in ANPR_CSV.fields])
REQUIRED_FIELDS = ANPR_CSV.required
# What detect_hotlist_hits reads of a silver read, typed as silver declares them.
READ_FIELDS = ("read_id", "camera_id", "plate", "plate_raw", "read_at", "confidence", "longitude", "latitude")
READS_SCHEMA = T.StructType([SILVER_ANPR_READS.spark_schema()[name] for name in READ_FIELDS])


class SilverSnapshot:
    """Silver cameras and hotlist, cached in Spark and re-read from the lake when older than ``ttl_s``."""

    def __init__(self, lake: Lake, ttl_s: float = SILVER_TTL_S, clock: Callable[[], float] = time.monotonic):
        self._lake, self._ttl_s, self._clock = lake, ttl_s, clock
        self._frames: tuple[DataFrame, DataFrame] | None = None
        self._read_at = 0.0

    def frames(self) -> tuple[DataFrame, DataFrame]:
        """(cameras, hotlist)."""
        if self._frames is None or self._clock() - self._read_at > self._ttl_s:
            fresh = (self._lake.read(SILVER_CAMERAS).cache(), self._lake.read(SILVER_HOTLIST).cache())
            if self._frames is not None:
                for stale in self._frames:
                    stale.unpersist()
            self._frames, self._read_at = fresh, self._clock()
        return self._frames


def _field_name(value: Column) -> Column:
    """A header cell the way the ingest normalises names: 'Read ID' / BOM + 'read_id' -> 'read_id'."""
    snake = F.regexp_replace(F.lower(value), r"[^0-9a-z]+", "_")
    return F.regexp_replace(snake, r"^_+|_+$", "")


def is_header_row() -> Column:
    """True for a row that is the contract header: required fields in order, optional ones in order or absent."""
    condition = F.lit(True)
    for name in ANPR_CSV.fields:
        matches = _field_name(F.col(name)) == name
        condition = condition & (matches if name in REQUIRED_FIELDS else (matches | F.col(name).isNull()))
    return condition


def file_layouts(batch: DataFrame) -> DataFrame:
    """One row per landed file of the batch: ``canonical`` = it has the contract header."""
    return batch.groupBy(LANDING_FILE).agg(F.max(is_header_row().cast("int")).alias("canonical"))


def valid_reads(
    batch: DataFrame, canonical_files: list[str], cameras: DataFrame, settings: Settings, now: datetime
) -> DataFrame:
    """The batch's data rows of canonical files, conformed like the ingest; only reads with no reject reason."""
    data_rows = batch.where(F.col(LANDING_FILE).isin(canonical_files) & ~is_header_row())
    conformed = conform_anpr(
        prefix_raw(data_rows),
        cameras,
        now=now,
        clock_skew_s=settings.clock_skew_tolerance_s,
        retention_days=settings.retention_days,
    )
    return conformed.where(F.col(REJECT_REASON).isNull()).select(*READ_FIELDS).dropDuplicates(["read_id"])


def hotlist_flags(
    reads: DataFrame, cameras: DataFrame, hotlist: DataFrame, settings: Settings, now: datetime
) -> DataFrame:
    """The batch detector on these reads alone (crimes are not needed for hotlist hits)."""
    spark = reads.sparkSession
    inputs = DetectorInputs(
        reads=reads,
        cameras=cameras,
        crimes=spark.createDataFrame([], SILVER_CRIMES.spark_schema()),
        hotlist=hotlist,
        flag_id_salt=flag_id_salt(pseudonym_key(settings)),  # the batch detector's ids, to the character
    )
    return detect_hotlist_hits(inputs, settings.hotlist_hit, now)


def prior_evidence_reads(settings: Settings, flag_ids: list[str]) -> list[tuple[Any, ...]]:
    """The reads already behind these flags in PostGIS (full rows from das.anpr_reads where published)."""
    evidence = f"das.{FLAG_EVIDENCE.postgis_name}"
    reads = f"das.{SILVER_ANPR_READS.postgis_name}"
    query = f"""
        SELECT e.ref_id, coalesce(r.camera_id, e.camera_id), e.plate, coalesce(r.plate_raw, e.plate), e.at,
               r.confidence, coalesce(r.longitude, e.longitude), coalesce(r.latitude, e.latitude)
        FROM {evidence} e LEFT JOIN {reads} r ON r.read_id = e.ref_id AND r.read_at = e.at
        WHERE e.flag_id = ANY(%s) AND e.kind = 'read' AND e.ref_id IS NOT NULL AND e.plate IS NOT NULL
              AND e.at IS NOT NULL
    """
    try:
        conn = psycopg2.connect(settings.libpq_dsn)
    except psycopg2.OperationalError as exc:
        raise ServiceError(
            f"PostGIS is unreachable for the hotlist stream ({str(exc).strip().splitlines()[0]}); "
            "start it with `das up` or point DAS_DATABASE_URL at a running PostGIS"
        ) from exc
    try:
        with conn, conn.cursor() as cur:
            cur.execute(query, (flag_ids,))
            return [tuple(row) for row in cur.fetchall()]
    finally:
        conn.close()


def process_batch(
    batch: DataFrame,
    settings: Settings,
    cameras: DataFrame,
    hotlist: DataFrame,
    *,
    now: datetime | None = None,
) -> int:
    """One micro-batch of landed rows (LANDING_SCHEMA plus LANDING_FILE, header rows included) -> PostGIS.

    Returns the number of flags upserted. Works on a static DataFrame as well as inside ``foreachBatch``.
    """
    now = now or datetime.now(timezone.utc)
    layouts = file_layouts(batch).collect()
    if not layouts:
        return 0
    canonical = [row[LANDING_FILE] for row in layouts if row["canonical"]]
    for row in layouts:
        if not row["canonical"]:
            log.warning(
                "hotlist stream: %s does not start with the header %s; left to the ANPR micro-batch ingest",
                row[LANDING_FILE],
                ",".join(ANPR_CSV.fields),
            )
    if not canonical:
        return 0
    reads = valid_reads(batch, canonical, cameras, settings, now)
    flags = hotlist_flags(reads, cameras, hotlist, settings, now).toArrow()
    if flags.num_rows == 0:
        return 0
    flag_ids = flags.column("flag_id").to_pylist()
    prior = prior_evidence_reads(settings, flag_ids)
    if prior:
        # The flag already exists (an earlier hit today): recompute it with its earlier reads too, so the
        # upsert, which replaces the evidence, never shrinks it. Reads of this batch win on a repeated id.
        earlier = batch.sparkSession.createDataFrame(prior, READS_SCHEMA)
        combined = reads.unionByName(earlier.join(reads.select("read_id"), "read_id", "left_anti"))
        flags = (
            hotlist_flags(combined, cameras, hotlist, settings, now).where(F.col("flag_id").isin(flag_ids)).toArrow()
        )
    published = publish_flags(settings, flags)
    log.info("hotlist stream: %d flag(s) upserted (%s)", published["flags"], ", ".join(flag_ids))
    return int(published["flags"])


def landing_stream(spark: SparkSession, folder: Path) -> DataFrame:
    """Newly landed ANPR CSV files under ``folder`` as a stream of string rows, header rows included."""
    return (
        spark.readStream.schema(LANDING_SCHEMA)
        # No header option: Spark would map columns by position without checking names; we check each
        # file's header row ourselves (is_header_row) and skip files in another layout.
        .option("header", "false")
        .option("pathGlobFilter", "*.csv")  # hidden .name.tmp files are still being written
        .csv(str(folder))
        .select("*", F.col("_metadata.file_path").alias(LANDING_FILE))
    )


def start_hotlist_stream(
    spark: SparkSession,
    lake: Lake,
    settings: Settings,
    *,
    landing: Path | None = None,
    trigger_seconds: float = 1.0,
    checkpoint: Path | None = None,
) -> StreamingQuery:
    """Start the query on ``<landing>/anpr`` (default ``settings.landing``); stop it with ``query.stop()``."""
    folder = (landing or settings.landing) / "anpr"
    folder.mkdir(parents=True, exist_ok=True)
    checkpoint = checkpoint or settings.checkpoints_dir / QUERY_NAME
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    silver = SilverSnapshot(lake)
    cameras, _ = silver.frames()
    if cameras.isEmpty():
        log.warning("hotlist stream: silver has no cameras yet; reads stay unknown-camera until cameras are ingested")

    def on_batch(batch: DataFrame, epoch_id: int) -> None:
        cams, hotlist = silver.frames()
        process_batch(batch, settings, cams, hotlist)

    return (
        landing_stream(spark, folder)
        .writeStream.queryName(QUERY_NAME)
        .foreachBatch(on_batch)
        .option("checkpointLocation", str(checkpoint))
        .trigger(processingTime=f"{trigger_seconds} seconds")
        .start()
    )


__all__ = [
    "LANDING_SCHEMA",
    "SilverSnapshot",
    "file_layouts",
    "hotlist_flags",
    "is_header_row",
    "prior_evidence_reads",
    "process_batch",
    "start_hotlist_stream",
    "valid_reads",
]
