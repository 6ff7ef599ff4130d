"""The registered sources, one spec each (``jobs.ingest.spec``): what ingest, publish, the DAGs and the CLI
need to know about a source.

A spec names its landing formats (``schemas.landing``), its conform function (``jobs.ingest.conform.<source>``),
its silver table and dedupe key, how a batch merges into silver (append, or SCD2 history) and how silver is
published to PostGIS (replace, upsert, day partitions, or not at all), its schedule and its Asset. Adding a
source means adding one spec here (or ``register``-ing one) and one conform module: nothing else branches on the
source's name.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from das.errors import ContractError
from jobs.ingest.conform import anpr, cameras, crimes, hotlist
from jobs.ingest.conform.common import RAW_PREFIX, parse_timestamp
from jobs.ingest.spec import Scd2, SourceSpec
from schemas import landing
from schemas.tables import SILVER_ANPR_READS, SILVER_CAMERAS, SILVER_CRIMES, SILVER_HOTLIST


def _read_date(raw: DataFrame) -> Column:
    return F.to_date(parse_timestamp(F.col(RAW_PREFIX + "read_at")))


CAMERAS = SourceSpec(
    "cameras",
    landing.CAMERA_FORMATS,
    SILVER_CAMERAS,
    cameras.conform,
    schedule="@hourly",
    description=(
        "Camera metadata (TfL JamCam GeoJSON, camera CSV, or any CSV/GeoJSON with a *.mapping.yaml), kept with "
        "its history (SCD type 2); `das.cameras` is replaced in PostGIS."
    ),
    merge="scd2",
    history=Scd2(("camera_id",), opened_by="installed_at", closed_by="removed_at"),
)
HOTLIST = SourceSpec(
    "hotlist",
    landing.HOTLIST_FORMATS,
    SILVER_HOTLIST,
    hotlist.conform,
    schedule="*/15 * * * *",
    description=(
        "Vehicle-of-interest hotlists. A file is the full list for each list_name it holds: entries it no longer "
        "lists are withdrawn (they stop hitting from then). New entries trigger retro-hit checks."
    ),
    merge="snapshot",
    snapshot_scope="list_name",
)
CRIMES = SourceSpec(
    "crimes",
    landing.CRIME_FORMATS,
    SILVER_CRIMES,
    crimes.conform,
    schedule="@daily",
    description=(
        "Crime records (data.police.uk street CSV, police.uk API JSON, incident CSV, or a mapped CSV) with "
        "occurrence windows and location precision. A record republished with new content (a new outcome) is a "
        "new version; `das.crimes` serves the current versions."
    ),
    merge="scd2",
    history=Scd2(("crime_id",), publish_current_only=True),
)
ANPR = SourceSpec(
    "anpr",
    landing.ANPR_FORMATS,
    SILVER_ANPR_READS,
    anpr.conform,
    schedule="*/5 * * * *",
    description=(
        "Micro-batches of ANPR plate reads (CSV or JSONL): plates normalised, times in UTC, each read located at "
        "its camera's position at read time, deduplicated by read_id; the touched day partitions of "
        "`das.anpr_reads` are replaced in PostGIS."
    ),
    publish="day_partitions",
    references=(SILVER_CAMERAS,),
    partition_probe=_read_date,
    volume_baseline=True,
)

# In ingest order: a source comes after the sources whose silver tables it references.
_REGISTRY: dict[str, SourceSpec] = {s.name: s for s in (CAMERAS, HOTLIST, CRIMES, ANPR)}


def source_specs() -> list[SourceSpec]:
    """Every registered source, in ingest order."""
    return list(_REGISTRY.values())


def source_names() -> list[str]:
    return list(_REGISTRY)


def source_spec(name: str) -> SourceSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ContractError(f"unknown source {name!r}; expected one of {', '.join(_REGISTRY)}") from None


def register(spec: SourceSpec) -> SourceSpec:
    """Add a source (after the ones it references). A second spec with the same name is a programming error."""
    if spec.name in _REGISTRY:
        raise ValueError(f"source {spec.name!r} is already registered")
    produced = {s.silver.qualified_name for s in _REGISTRY.values()}
    unknown = [t.qualified_name for t in spec.references if t.qualified_name not in produced]
    if unknown:
        raise ValueError(f"source {spec.name!r} references {unknown}, which no registered source produces")
    _REGISTRY[spec.name] = spec
    return spec


@contextmanager
def registered(spec: SourceSpec) -> Iterator[SourceSpec]:
    """``spec`` registered for the duration of the block (tests and plug-ins)."""
    register(spec)
    try:
        yield spec
    finally:
        _REGISTRY.pop(spec.name, None)
