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
from jobs.ingest.conform import anpr, cameras, crimes, hotlist, lfr, video_events
from jobs.ingest.conform.common import RAW_PREFIX, parse_timestamp
from jobs.ingest.spec import Scd2, SourceSpec
from schemas import landing
from schemas.tables import (
    SILVER_ANPR_READS,
    SILVER_CAMERAS,
    SILVER_CRIMES,
    SILVER_HOTLIST,
    SILVER_LFR_ALERTS,
    SILVER_LFR_DEPLOYMENTS,
    SILVER_VIDEO_EVENTS,
)


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


def _detected_date(raw: DataFrame) -> Column:
    return F.to_date(parse_timestamp(F.col(RAW_PREFIX + "detected_at")))


VIDEO_EVENTS = SourceSpec(
    "video_events",
    landing.VIDEO_EVENT_FORMATS,
    SILVER_VIDEO_EVENTS,
    video_events.conform,
    schedule="*/5 * * * *",
    description=(
        "AI video-analytics events (CSV or JSONL): detected objects with class, confidence, the camera's track id "
        "and attributes, located at the camera's position at detection time, deduplicated by event_id; the touched "
        "day partitions of `das.video_events` are replaced in PostGIS. No footage."
    ),
    publish="day_partitions",
    references=(SILVER_CAMERAS,),
    partition_probe=_detected_date,
    feeds_detectors=False,
)
LFR_DEPLOYMENTS = SourceSpec(
    "lfr_deployments",
    landing.LFR_DEPLOYMENT_FORMATS,
    SILVER_LFR_DEPLOYMENTS,
    lfr.conform_deployments_source,
    schedule="@hourly",
    description=(
        "Live facial recognition deployments (CSV or JSONL under `<landing>/lfr/`, beside the alerts): where, "
        "when, the watchlist size and the faces scanned. A record sent again with new figures (faces counted at "
        "the end) is a new version; `das.lfr_deployments` serves the current ones. No images, no templates."
    ),
    merge="scd2",
    history=Scd2(("deployment_id",), publish_current_only=True),
    landing_folder="lfr",
    leaves=landing.LFR_ALERT_FORMATS,
    cross_check=lfr.totals_after_deployments,
    cross_check_reads=(SILVER_LFR_ALERTS,),
    feeds_detectors=False,
)
LFR_ALERTS = SourceSpec(
    "lfr_alerts",
    landing.LFR_ALERT_FORMATS,
    SILVER_LFR_ALERTS,
    lfr.conform_alerts_source,
    schedule="@hourly",
    description=(
        "Live facial recognition alerts (files with an alert_id under `<landing>/lfr/`): the operator's verdict, "
        "the outcome and, where recorded, the subject's demographic group. An alert of an unknown deployment is "
        "quarantined; a deployment with more alerts than faces scanned fails the quality gate."
    ),
    merge="scd2",
    history=Scd2(("alert_id",), publish_current_only=True),
    references=(SILVER_LFR_DEPLOYMENTS,),
    landing_folder="lfr",
    takes_unrecognised=False,
    cross_check=lfr.totals_after_alerts,
    cross_check_reads=(SILVER_LFR_DEPLOYMENTS,),
    feeds_detectors=False,
)

# In ingest order: a source comes after the sources whose silver tables it references.
_REGISTRY: dict[str, SourceSpec] = {
    s.name: s for s in (CAMERAS, HOTLIST, CRIMES, ANPR, VIDEO_EVENTS, LFR_DEPLOYMENTS, LFR_ALERTS)
}


def source_specs() -> list[SourceSpec]:
    """Every registered source, in ingest order."""
    return list(_REGISTRY.values())


def source_names() -> list[str]:
    return list(_REGISTRY)


def sources_landing_in(name: str) -> list[SourceSpec]:
    """The sources a name stands for, in ingest order: one source, or every source sharing a landing folder of that
    name (``lfr``: deployments, then alerts)."""
    if name in _REGISTRY:
        return [_REGISTRY[name]]
    shared = [s for s in _REGISTRY.values() if s.landing_folder == name]
    if not shared:
        raise ContractError(f"unknown source {name!r}; expected one of {', '.join(ingest_names())}")
    return shared


def sources_landing_before(spec: SourceSpec) -> list[SourceSpec]:
    """The sources that share ``spec``'s landing folder and are ingested before it (LFR alerts: deployments)."""
    if spec.landing_folder is None:
        return []
    shared = sources_landing_in(spec.landing_folder)
    return shared[: [s.name for s in shared].index(spec.name)]


def ingest_names() -> list[str]:
    """What `das ingest` accepts: every source, and every shared landing folder."""
    folders = [s.landing_folder for s in _REGISTRY.values() if s.landing_folder]
    return [*_REGISTRY, *dict.fromkeys(f for f in folders if f)]


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
