"""The landing contract: the formats a source's files may take, field by field.

Files land under ``<landing>/<source>/`` with free names. Field names are compared after normalisation
(``'Crime ID'`` -> ``crime_id``, see ``normalise_field_name``). A file follows the first of its source's formats
whose ``recognised_by`` fields it has (a format with none is recognised by default) and must then have every
``required`` field (or one of its ``aliases``). ``fields`` lists the format's fields in contract order: the order
writers use, and the order the streaming hotlist path expects of ANPR CSV.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field


def normalise_field_name(name: str) -> str:
    """'Crime ID' -> 'crime_id', 'LSOA code' -> 'lsoa_code', 'location.street.name' -> 'location_street_name'."""
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lstrip("\ufeff").lower()).strip("_")


@dataclass(frozen=True)
class LandingFormat:
    name: str
    fields: tuple[str, ...]
    required: tuple[str, ...]
    recognised_by: tuple[str, ...] = ()
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # required field -> stand-ins

    def __post_init__(self) -> None:
        for wanted in (*self.required, *self.recognised_by, *self.aliases):
            if wanted not in self.fields:
                raise ValueError(f"landing format {self.name}: {wanted!r} is not one of its fields")

    @property
    def optional(self) -> tuple[str, ...]:
        return tuple(f for f in self.fields if f not in self.required)

    def recognises(self, present: set[str]) -> bool:
        return set(self.recognised_by) <= present

    def missing(self, present: set[str]) -> list[str]:
        """Required fields the file lacks (a field counts as present when one of its aliases is)."""
        return [f for f in self.required if f not in present and not any(a in present for a in self.aliases.get(f, ()))]


ANPR_CSV = LandingFormat(
    "anpr",
    fields=("read_id", "camera_id", "plate", "read_at", "confidence", "country", "direction", "lane", "image_uri"),
    required=("read_id", "camera_id", "plate", "read_at"),
)

JAMCAM_GEOJSON = LandingFormat(
    "jamcam_geojson",
    fields=("id", "commonname", "imageurl", "videourl", "view", "available", "longitude", "latitude"),
    required=("imageurl", "longitude", "latitude"),
    recognised_by=("imageurl", "available"),
)
CAMERA_CSV = LandingFormat(
    "camera_csv",
    fields=(
        "camera_id",
        "longitude",
        "latitude",
        "name",
        "camera_type",
        "bearing_deg",
        "fov_deg",
        "range_m",
        "owner",
        "status",
        "installed_at",
        "removed_at",
        "image_url",
        "video_url",
    ),
    required=("camera_id", "longitude", "latitude"),
    recognised_by=("camera_id",),
)

POLICE_UK_CSV = LandingFormat(
    "police_uk_csv",
    fields=(
        "crime_id",
        "month",
        "reported_by",
        "falls_within",
        "longitude",
        "latitude",
        "location",
        "lsoa_code",
        "lsoa_name",
        "crime_type",
        "last_outcome_category",
        "context",
    ),
    required=("month", "crime_type"),
    recognised_by=("month", "crime_type", "falls_within"),
)
POLICE_UK_API = LandingFormat(
    "police_uk_api",
    fields=(
        "category",
        "persistent_id",
        "id",
        "month",
        "location_type",
        "location_latitude",
        "location_longitude",
        "location_street_name",
        "outcome_status_category",
    ),
    required=("category", "month"),
    recognised_by=("category", "month", "location_type"),
)
INCIDENT_CSV = LandingFormat(
    "incident_csv",
    fields=(
        "crime_id",
        "crime_type",
        "occurred_from",
        "occurred_to",
        "longitude",
        "latitude",
        "location",
        "outcome",
        "lsoa_code",
        "occurred_at",
    ),
    required=("crime_id", "crime_type", "occurred_from", "longitude", "latitude"),
    recognised_by=("crime_id",),
    aliases={"occurred_from": ("occurred_at",)},
)

HOTLIST_CSV = LandingFormat(
    "hotlist_csv",
    fields=("plate", "list_name", "reason", "priority", "valid_from", "valid_to"),
    required=("plate",),
)

# What AI video analytics emit about a camera's footage: one detected object per record, never the footage itself.
VIDEO_EVENTS = LandingFormat(
    "video_events",
    fields=(
        "event_id",
        "camera_id",
        "detected_at",
        "object_class",
        "confidence",
        "track_id",
        "attributes",
        "image_uri",
    ),
    required=("event_id", "camera_id", "detected_at", "object_class", "confidence"),
)

# Live facial recognition: two record kinds land together under ``<landing>/lfr/``; a file is a deployments file
# unless its fields hold ``alert_id``. No face images and no biometric templates: only what the LFR system reports.
LFR_DEPLOYMENTS_CSV = LandingFormat(
    "lfr_deployments",
    fields=(
        "deployment_id",
        "location_name",
        "longitude",
        "latitude",
        "starts_at",
        "ends_at",
        "watchlist_size",
        "faces_scanned",
        "camera_ids",
    ),
    required=("deployment_id", "longitude", "latitude", "starts_at"),
    recognised_by=("deployment_id", "starts_at"),
)
LFR_ALERTS_CSV = LandingFormat(
    "lfr_alerts",
    fields=(
        "alert_id",
        "deployment_id",
        "alerted_at",
        "watchlist_category",
        "operator_verdict",
        "outcome",
        "demographic_group",
    ),
    required=("alert_id", "deployment_id", "alerted_at", "operator_verdict"),
    recognised_by=("alert_id",),
)

# Each built-in source's formats, in the order they are tried.
ANPR_FORMATS = (ANPR_CSV,)
CAMERA_FORMATS = (JAMCAM_GEOJSON, CAMERA_CSV)
CRIME_FORMATS = (POLICE_UK_CSV, POLICE_UK_API, INCIDENT_CSV)
HOTLIST_FORMATS = (HOTLIST_CSV,)
VIDEO_EVENT_FORMATS = (VIDEO_EVENTS,)
LFR_DEPLOYMENT_FORMATS = (LFR_DEPLOYMENTS_CSV,)
LFR_ALERT_FORMATS = (LFR_ALERTS_CSV,)
BUILT_IN_SOURCES: dict[str, tuple[LandingFormat, ...]] = {
    "cameras": CAMERA_FORMATS,
    "crimes": CRIME_FORMATS,
    "anpr": ANPR_FORMATS,
    "hotlist": HOTLIST_FORMATS,
    "video_events": VIDEO_EVENT_FORMATS,
    "lfr_deployments": LFR_DEPLOYMENT_FORMATS,
    "lfr_alerts": LFR_ALERT_FORMATS,
}
SOURCE_NAMES = tuple(BUILT_IN_SOURCES)

MAPPING_SUFFIXES = (".mapping.yaml", ".mapping.yml")
