"""What every detector shares: the inputs, flag construction, deterministic ids and schema conformance.

A detector builds a frame with the *content* columns of a flag (subject, score, related, summary,
window_start, window_end, longitude, latitude, evidence); ``to_flags_frame`` adds the bookkeeping
columns (flag_id, flag_type, status, detected_at, detector_version) and conforms the result to
``GOLD_FLAGS.spark_schema()`` exactly (order, types and nullability), from the declaration.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel
from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from das.config import detector_version
from schemas.model import EVIDENCE_FIELDS
from schemas.tables import FLAG_FIELDS, FLAG_TYPES, GOLD_FLAGS

FLAGS_SCHEMA: T.StructType = GOLD_FLAGS.spark_schema()
EVIDENCE_TYPE: T.ArrayType = GOLD_FLAGS.column("evidence").spark_type()  # type: ignore[assignment]
EVIDENCE_STRUCT: T.StructType = EVIDENCE_TYPE.elementType  # type: ignore[assignment]
RELATED_TYPE: T.ArrayType = GOLD_FLAGS.column("related").spark_type()  # type: ignore[assignment]

# Columns a detector must provide: the flag's fields but its identity; to_flags_frame fills in the rest.
CONTENT_COLUMNS = tuple(c for c in FLAG_FIELDS if c not in ("flag_id", "flag_type"))
_TIMESTAMP_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSSSS"
SECONDS_PER_DAY = 86_400.0


def flag_type_of(module_name: str) -> str:
    """A detector module is named after the flag type it raises (``jobs.detectors.convoy`` -> ``convoy``)."""
    flag_type = module_name.rsplit(".", 1)[-1]
    if flag_type not in FLAG_TYPES:
        raise ValueError(f"detector module {module_name} is not named after a flag type; FLAG_TYPES: {FLAG_TYPES}")
    return flag_type


# The read columns detectors may use. The detectors share one narrow projection of the reads (``shared_reads``)
# rather than each scanning and decoding the silver table.
READ_COLUMNS = (
    "read_id",
    "camera_id",
    "plate",
    "plate_raw",
    "read_at",
    "read_date",
    "confidence",
    "easting",
    "northing",
    "longitude",
    "latitude",
)


@dataclass(frozen=True)
class DetectorInputs:
    """Silver frames a detector reads. ``reads`` needs ``READ_COLUMNS`` only; ``cameras`` holds SCD2 history
    (see ``is_current``)."""

    reads: DataFrame
    cameras: DataFrame
    crimes: DataFrame
    hotlist: DataFrame
    flag_id_salt: str = ""  # derived from the pseudonym key (das.credentials.flag_id_salt)

    @property
    def spark(self) -> SparkSession:
        return self.reads.sparkSession


@contextmanager
def shared_reads(inputs: DetectorInputs) -> Iterator[DetectorInputs]:
    """The inputs with the reads projection cached (memory, spilling to disk) for as long as the block runs: the
    first detector scans and decodes the silver reads once, the others read the cache."""
    reads = inputs.reads.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        yield replace(inputs, reads=reads)
    finally:
        reads.unpersist()


def checkpointed(frame: DataFrame) -> DataFrame:
    """``frame`` computed once and its plan cut. In one JVM (local[*]) its blocks live as long as the driver, so a
    local checkpoint is enough. On a cluster a local checkpoint's blocks live on the executor that computed them,
    and one lost executor fails the job (CHECKPOINT_RDD_BLOCK_ID_NOT_FOUND): there, the frame is written to
    spark.checkpoint.dir (DAS_SPARK_CHECKPOINT_DIR) and read back from it."""
    if (frame.sparkSession.sparkContext.master or "").startswith("local"):
        return frame.localCheckpoint()
    return frame.checkpoint()


def flag_id_column(flag_type: str, subject: Column, window_start: Column, window_end: Column, salt: str = "") -> Column:
    """sha256([salt |] type | subject | window_start | window_end), first 32 hex characters.

    The salt (derived from the pseudonym key) keeps an id from being a plain hash of a plate."""
    key = F.concat_ws(
        "|",
        *([F.lit(salt)] if salt else []),
        F.lit(flag_type),
        subject,
        F.date_format(window_start, _TIMESTAMP_FORMAT),
        F.date_format(window_end, _TIMESTAMP_FORMAT),
    )
    return F.substring(F.sha2(key, 256), 1, 32)


def flag_id_value(flag_type: str, subject: str, window_start: datetime, window_end: datetime, salt: str = "") -> str:
    """The same id computed in Python (UTC), for flags assembled on the driver."""

    def fmt(ts: datetime) -> str:
        ts = ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts.astimezone(timezone.utc)
        return ts.strftime("%Y-%m-%dT%H:%M:%S.%f")

    key = "|".join((*([salt] if salt else []), flag_type, subject, fmt(window_start), fmt(window_end)))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def evidence_entry(
    kind: str,
    *,
    ref_id: Column | None = None,
    camera_id: Column | None = None,
    plate: Column | None = None,
    at: Column | None = None,
    longitude: Column | None = None,
    latitude: Column | None = None,
    detail: Column | None = None,
) -> Column:
    """One evidence struct with the declared field order and types (missing fields are null)."""
    given: dict[str, Column | None] = {
        "kind": F.lit(kind),
        "ref_id": ref_id,
        "camera_id": camera_id,
        "plate": plate,
        "at": at,
        "longitude": longitude,
        "latitude": latitude,
        "detail": detail,
    }
    return F.struct(
        *[
            (given[field.name] if given[field.name] is not None else F.lit(None))  # type: ignore[union-attr]
            .cast(field.dataType)
            .alias(field.name)
            for field in EVIDENCE_STRUCT.fields
        ]
    )


def read_evidence(detail: Column, prefix: str = "") -> Column:
    """Evidence for one read whose columns carry ``prefix`` (``"prev_"``, ``"r."``); ``plate`` is the plate read."""

    def col(name: str) -> Column:
        return F.col(f"{prefix}{name}")

    return evidence_entry(
        "read",
        ref_id=col("read_id"),
        camera_id=col("camera_id"),
        plate=F.col("plate"),
        at=col("read_at"),
        longitude=col("longitude"),
        latitude=col("latitude"),
        detail=detail,
    )


def evidence_row(kind: str, **fields: Any) -> dict[str, Any]:
    """One evidence entry as a Python dict (for flags assembled on the driver)."""
    unknown = set(fields) - {name for name, _ in EVIDENCE_FIELDS}
    if unknown:
        raise ValueError(f"unknown evidence fields {sorted(unknown)}; declared: {[n for n, _ in EVIDENCE_FIELDS]}")
    return {"kind": kind, **{name: fields.get(name) for name, _ in EVIDENCE_FIELDS if name != "kind"}}


def sorted_evidence(evidence: Column) -> Column:
    """Evidence in time order (then kind and ref_id), so the array is the same on every run."""
    return F.array_sort(
        evidence,
        lambda a, b: (
            F.when(a["at"].isNull() & b["at"].isNotNull(), 1)
            .when(a["at"].isNotNull() & b["at"].isNull(), -1)
            .when(a["at"] < b["at"], -1)
            .when(a["at"] > b["at"], 1)
            .when(a["kind"] < b["kind"], -1)
            .when(a["kind"] > b["kind"], 1)
            .when(F.coalesce(a["ref_id"], F.lit("")) < F.coalesce(b["ref_id"], F.lit("")), -1)
            .when(F.coalesce(a["ref_id"], F.lit("")) > F.coalesce(b["ref_id"], F.lit("")), 1)
            .otherwise(0)
        ),
    )


def clamp01(value: Column) -> Column:
    return F.greatest(F.lit(0.0), F.least(F.lit(1.0), value.cast("double")))


def epoch_seconds(ts: Column) -> Column:
    """Timestamp as fractional epoch seconds (microsecond precision)."""
    return F.unix_micros(ts).cast("double") / 1_000_000.0


def _conform(name: str, data_type: T.DataType, nullable: bool, value: Column, now: datetime) -> Column:
    """Cast to the declared type and, for required columns, make non-nullability provable to Spark."""
    if isinstance(data_type, T.ArrayType) and isinstance(data_type.elementType, T.StructType):
        struct_type = data_type.elementType
        value = F.transform(
            value,
            lambda e: F.struct(*[e[f.name].cast(f.dataType).alias(f.name) for f in struct_type.fields]),
        )
    elif isinstance(data_type, T.ArrayType):
        value = F.transform(value.cast(T.ArrayType(data_type.elementType)), lambda e: F.coalesce(e, F.lit("")))
    else:
        value = value.cast(data_type)
    if nullable:
        return value.alias(name)
    defaults: dict[str, Column] = {
        "string": F.lit(""),
        "double": F.lit(0.0),
        "timestamp": F.lit(now),
    }
    default = F.array().cast(data_type) if isinstance(data_type, T.ArrayType) else defaults[data_type.typeName()]
    return F.coalesce(value, default).alias(name)


def to_flags_frame(content: DataFrame, flag_type: str, params: BaseModel, now: datetime, salt: str = "") -> DataFrame:
    """Add id and bookkeeping columns and select/cast exactly ``GOLD_FLAGS.spark_schema()``.

    ``content`` must hold CONTENT_COLUMNS. Scores are clamped to [0, 1]; the flag id hashes the
    type, subject and window (never ``now``), so re-running on the same data gives the same ids.
    """
    missing = [c for c in CONTENT_COLUMNS if c not in content.columns]
    if missing:
        raise ValueError(f"{flag_type}: detector frame lacks flag columns {missing}; it has {content.columns}")
    now = now.replace(tzinfo=timezone.utc) if now.tzinfo is None else now
    values: dict[str, Column] = {
        "flag_id": flag_id_column(flag_type, F.col("subject"), F.col("window_start"), F.col("window_end"), salt),
        "flag_type": F.lit(flag_type),
        "score": clamp01(F.coalesce(F.col("score"), F.lit(0.0))),
        "evidence": sorted_evidence(F.col("evidence")),
        "status": F.lit("new"),
        "detected_at": F.lit(now),
        "detector_version": F.lit(detector_version(flag_type, params)),
    }
    return content.select(
        *[
            _conform(field.name, field.dataType, field.nullable, values.get(field.name, F.col(field.name)), now)
            for field in FLAGS_SCHEMA.fields
        ]
    )


def flags_from(
    frame: DataFrame, flag_type: str, params: BaseModel, now: datetime, salt: str = "", **columns: Column | str
) -> DataFrame:
    """Flags from ``frame``: each content column is given as a column or a name (default: its own name)."""
    unknown = set(columns) - set(CONTENT_COLUMNS)
    if unknown:
        raise ValueError(f"{flag_type}: {sorted(unknown)} are not flag content columns {CONTENT_COLUMNS}")
    chosen = {name: columns.get(name, name) for name in CONTENT_COLUMNS}
    content = frame.select(*[(F.col(v) if isinstance(v, str) else v).alias(k) for k, v in chosen.items()])
    return to_flags_frame(content, flag_type, params, now, salt)


def day_window(day: str) -> dict[str, Column]:
    """window_start/window_end of the UTC day in column ``day`` (a date)."""
    return {
        "window_start": F.col(day).cast("timestamp"),
        "window_end": F.date_add(day, 1).cast("timestamp"),
    }


def empty_content(spark: SparkSession) -> DataFrame:
    """A content frame with no rows (for detectors that have nothing to judge)."""
    fields = [f for f in FLAGS_SCHEMA.fields if f.name in CONTENT_COLUMNS]
    return spark.createDataFrame([], T.StructType(fields))


def content_from_rows(spark: SparkSession, rows: list[dict[str, Any]]) -> DataFrame:
    """A content frame from flags assembled on the driver (small: one dict per flag)."""
    fields = [f for f in FLAGS_SCHEMA.fields if f.name in CONTENT_COLUMNS]
    schema = T.StructType(fields)
    return spark.createDataFrame([tuple(row[f.name] for f in fields) for row in rows], schema)


def utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts.astimezone(timezone.utc)


def usable_crimes(crimes: DataFrame, *, max_window_hours: float | None = None) -> DataFrame:
    """Crimes with a point and a time good to the day or better; ``occurred_to`` filled from ``occurred_from``.

    Out: no BNG point or location_precision 'none'; no start time; time_precision 'month' or 'unknown';
    an inverted window; and (when given) a window wider than ``max_window_hours``. Snapped locations stay:
    callers decide whether their distance scale tolerates them.
    """
    usable = (
        crimes.where(F.col("easting").isNotNull() & F.col("northing").isNotNull())
        .where(F.col("location_precision") != "none")
        .where(F.col("occurred_from").isNotNull())
        .where(F.col("time_precision").isin("exact", "day"))
        .withColumn("occurred_to", F.coalesce(F.col("occurred_to"), F.col("occurred_from")))
        .withColumn(
            "window_hours", (epoch_seconds(F.col("occurred_to")) - epoch_seconds(F.col("occurred_from"))) / 3600.0
        )
        .where(F.col("window_hours") >= 0)
    )
    if max_window_hours is not None:
        usable = usable.where(F.col("window_hours") <= max_window_hours)
    return usable


def utc_from_micros(micros: int | None) -> datetime | None:
    """Epoch microseconds -> aware UTC datetime (collect timestamps as micros: no local-time surprises)."""
    return None if micros is None else datetime.fromtimestamp(micros / 1_000_000, tz=timezone.utc)
