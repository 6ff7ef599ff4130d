"""Every table of the platform, declared once.

Layers: bronze (raw rows as landed, append-only), silver (validated and conformed), gold (derived),
quarantine (rejected rows with a reason) and ops (run bookkeeping).
"""

from __future__ import annotations

from functools import cache

from schemas.landing import SOURCE_NAMES
from schemas.model import LINEAGE_COLUMNS, Column, PointGeometry, Registry, Table

REGISTRY = Registry()
C = Column

SOURCES = SOURCE_NAMES
CAMERA_TYPES = ("anpr", "cctv", "lfr", "traffic")
PRIORITIES = ("high", "medium", "low")
FLAG_TYPES = (
    "hotlist_hit",
    "cloned_plate",
    "convoy",
    "vehicle_near_crimes",
    "near_repeat",
    "emerging_hotspot",
    "camera_silent",
)
FLAG_STATUSES = ("new", "acknowledged", "dismissed", "escalated")
QUARANTINE_REASONS = (
    "unreadable_file",
    "limit_exceeded",
    "invalid_mapping",
    "conflicting_key",
    "missing_required_columns",
    "empty_file",
    "malformed_row",
    "missing_required_field",
    "invalid_timestamp",
    "future_timestamp",
    "beyond_retention",
    "invalid_coordinates",
    "null_island",
    "outside_region",
    "swapped_coordinates",
    "invalid_plate",
    "unknown_camera",
    "invalid_confidence",
    "invalid_value",
    "unknown_deployment",
    "invalid_attributes",
)
OBJECT_CLASSES = ("vehicle", "person", "bag", "weapon", "other")
LFR_VERDICTS = ("true_match", "false_alert", "not_engaged")
LFR_OUTCOMES = ("arrest", "other_action", "no_action")

_POINT_4326 = PointGeometry("geom", 4326, "longitude", "latitude")
_POINT_27700 = PointGeometry("geom_bng", 27700, "easting", "northing")
_LOCATED = (
    C("longitude", "double", True, "WGS84 longitude (EPSG:4326)", min_value=-180, max_value=180),
    C("latitude", "double", True, "WGS84 latitude (EPSG:4326)", min_value=-90, max_value=90),
    C("easting", "double", True, "British National Grid easting, metres (EPSG:27700)"),
    C("northing", "double", True, "British National Grid northing, metres (EPSG:27700)"),
    C("h3_cell", "string", True, "H3 cell of the point at the configured resolution"),
)


@cache
def bronze_table(source: str) -> Table:
    """The bronze table of a source: its records exactly as landed, with lineage. Declared once, for every source."""
    return REGISTRY.add(
        Table(
            name=source,
            layer="bronze",
            description=f"{source} records exactly as landed",
            columns=(
                C("record", "string", False, "The raw record as landed, as a JSON object of strings"),
                C("source_format", "string", False, "Parser that read the file"),
                *LINEAGE_COLUMNS,
                C("ingest_date", "date", False, "Partition: the date of ingest (UTC)"),
            ),
            partition_by=("ingest_date",),
            key=("source_checksum", "row_number"),
        )
    )


BRONZE_CAMERAS, BRONZE_CRIMES, BRONZE_ANPR, BRONZE_HOTLIST = (
    bronze_table(s) for s in ("cameras", "crimes", "anpr", "hotlist")
)
BRONZE_VIDEO_EVENTS, BRONZE_LFR_DEPLOYMENTS, BRONZE_LFR_ALERTS = (
    bronze_table(s) for s in ("video_events", "lfr_deployments", "lfr_alerts")
)

SILVER_CAMERAS = REGISTRY.add(
    Table(
        name="cameras",
        layer="silver",
        description="Cameras with history (SCD type 2): one row per camera per version of its attributes",
        columns=(
            C("camera_id", "string", False, "Stable camera identifier"),
            C("name", "string", True, "Human-readable name or view description"),
            C("camera_type", "string", False, "anpr | cctv | lfr | traffic", allowed_values=CAMERA_TYPES),
            *_LOCATED,
            C(
                "bearing_deg",
                "double",
                True,
                "Direction the camera faces, degrees from north",
                min_value=0,
                max_value=360,
            ),
            C("fov_deg", "double", True, "Horizontal field of view, degrees", min_value=0, max_value=360),
            C("range_m", "double", True, "Useful range, metres", min_value=0, max_value=5000),
            C("owner", "string", True, "Operator of the camera"),
            C("status", "string", False, "active | inactive", allowed_values=("active", "inactive")),
            C("available", "boolean", False, "Feed available now (JamCam 'available'; otherwise status = active)"),
            C("image_url", "string", True, "Still image URL (JamCam)"),
            C("video_url", "string", True, "Video URL (JamCam)"),
            C("installed_at", "timestamp", True, "When the camera was installed"),
            C("removed_at", "timestamp", True, "When the camera was removed"),
            C("valid_from", "timestamp", False, "This version is in force from (inclusive)"),
            C("valid_to", "timestamp", True, "This version is in force until (exclusive); null = current"),
            C("is_current", "boolean", False, "True for the version in force now"),
            C("attributes_hash", "string", False, "Hash of the attributes; a change opens a new version"),
            *LINEAGE_COLUMNS,
        ),
        key=("camera_id", "valid_from"),
        geometries=(_POINT_4326, _POINT_27700),
        postgis_name="cameras",
        postgis_exclude=("source_checksum", "row_number", "ingested_at"),
        postgis_indexes=(("camera_id",),),
    )
)

SILVER_CRIMES = REGISTRY.add(
    Table(
        name="crimes",
        layer="silver",
        description="Crimes with an occurrence window and location precision",
        columns=(
            C("crime_id", "string", False, "Source crime id, or a content hash where the source has none"),
            C("crime_type", "string", False, "police.uk category slug, e.g. burglary"),
            C("crime_type_original", "string", True, "Crime type exactly as the source gave it"),
            C("occurred_from", "timestamp", True, "Start of the occurrence window (UTC)"),
            C("occurred_to", "timestamp", True, "End of the occurrence window (UTC)"),
            C(
                "time_precision",
                "string",
                False,
                "exact | day | month | unknown",
                allowed_values=("exact", "day", "month", "unknown"),
            ),
            *_LOCATED,
            C(
                "location_precision",
                "string",
                False,
                "exact | snapped | none: snapped = anonymised map point",
                allowed_values=("exact", "snapped", "none"),
            ),
            C("location", "string", True, "Street or place description"),
            C("lsoa_code", "string", True, "LSOA code"),
            C("lsoa_name", "string", True, "LSOA name"),
            C("outcome", "string", True, "Last outcome"),
            C("reported_by", "string", True, "Force that reported the crime"),
            C("source_format", "string", False, "police_uk_csv | police_uk_api | incident_csv | mapped_csv"),
            C("crime_month", "string", False, "Partition: YYYY-MM of the occurrence window start"),
            C("valid_from", "timestamp", False, "This version of the record is in force from (its ingest)"),
            C("valid_to", "timestamp", True, "Until (exclusive); null = the current version"),
            C("is_current", "boolean", False, "True for the latest version of the record"),
            *LINEAGE_COLUMNS,
        ),
        partition_by=("crime_month",),
        key=("crime_id", "valid_from"),
        geometries=(_POINT_4326, _POINT_27700),
        postgis_name="crimes",
        postgis_key=("crime_id",),  # PostGIS serves the current version of each crime
        postgis_exclude=("source_checksum", "row_number", "ingested_at", "valid_from", "valid_to", "is_current"),
        postgis_indexes=(("crime_type", "occurred_from"),),
    )
)

SILVER_ANPR_READS = REGISTRY.add(
    Table(
        name="anpr_reads",
        layer="silver",
        description="ANPR plate reads, normalised, in UTC, located at the camera's position at read time",
        columns=(
            C("read_id", "string", False, "Source read id, unique"),
            C("camera_id", "string", False, "Camera that made the read", references="silver/cameras.camera_id"),
            C("plate", "string", False, "Normalised VRM: upper case, no spaces or punctuation"),
            C("plate_raw", "string", False, "VRM exactly as read"),
            C("read_at", "timestamp", False, "Time of the read (UTC)"),
            C("confidence", "double", True, "OCR confidence 0..1", min_value=0, max_value=1),
            C("country", "string", False, "ISO 3166 alpha-2 of the plate, default GB"),
            C("direction", "string", True, "Direction of travel"),
            C("lane", "string", True, "Lane"),
            C("image_uri", "string", True, "Plate-patch or overview image"),
            *_LOCATED,
            C("read_date", "date", False, "Partition: UTC date of read_at"),
            *LINEAGE_COLUMNS,
        ),
        partition_by=("read_date",),
        key=("read_id",),
        geometries=(_POINT_4326, _POINT_27700),
        postgis_name="anpr_reads",
        postgis_partition_by_day="read_at",
        postgis_exclude=("source_checksum", "row_number", "ingested_at", "read_date"),
        postgis_indexes=(("plate", "read_at"), ("camera_id", "read_at"), ("plate_hash", "read_at")),
        postgis_brin=("read_at",),
        postgis_pseudonyms=(("plate_hash", "plate"),),
        event_time="read_at",
    )
)

SILVER_HOTLIST = REGISTRY.add(
    Table(
        name="hotlist",
        layer="silver",
        description="Vehicles of interest: one row per plate per list entry, with validity",
        columns=(
            C("hotlist_entry_id", "string", False, "Deterministic id: hash of list, plate and valid_from"),
            C("plate", "string", False, "Normalised VRM"),
            C("plate_raw", "string", False, "VRM as listed"),
            C("list_name", "string", False, "Name of the list, default 'default'"),
            C("reason", "string", True, "Why the vehicle is of interest"),
            C("priority", "string", False, "high | medium | low", allowed_values=PRIORITIES),
            C("valid_from", "timestamp", True, "Entry valid from (UTC); null = always"),
            C("valid_to", "timestamp", True, "Entry valid until (UTC); null = open-ended; set when withdrawn"),
            *LINEAGE_COLUMNS,
        ),
        key=("hotlist_entry_id",),
        postgis_name="hotlist",
        postgis_exclude=("source_checksum", "row_number", "ingested_at"),
        postgis_indexes=(("plate",),),
    )
)

SILVER_VIDEO_EVENTS = REGISTRY.add(
    Table(
        name="video_events",
        layer="silver",
        description=(
            "Objects detected by AI video analytics, as the analytics system emits them: class, confidence, the "
            "camera's track id and attributes, located at the camera's position at detection time. No footage."
        ),
        columns=(
            C("event_id", "string", False, "Source event id, unique"),
            C("camera_id", "string", False, "Camera whose footage was analysed", references="silver/cameras.camera_id"),
            C("detected_at", "timestamp", False, "When the object was detected (UTC)"),
            C(
                "object_class",
                "string",
                False,
                "vehicle | person | bag | weapon | other",
                allowed_values=OBJECT_CLASSES,
            ),
            C("confidence", "double", False, "The analytics' confidence 0..1", min_value=0, max_value=1),
            C("track_id", "string", True, "The analytics' track of the object within this camera"),
            C("attributes", "json", True, "A JSON object: colour, vehicle_type, make, upper_colour, lower_colour, ..."),
            C("image_uri", "string", True, "Where the analytics system keeps the frame (das keeps no image)"),
            *_LOCATED,
            C("detected_date", "date", False, "Partition: UTC date of detected_at"),
            *LINEAGE_COLUMNS,
        ),
        partition_by=("detected_date",),
        key=("event_id",),
        geometries=(_POINT_4326, _POINT_27700),
        postgis_name="video_events",
        postgis_partition_by_day="detected_at",
        postgis_exclude=("source_checksum", "row_number", "ingested_at", "detected_date"),
        postgis_indexes=(("camera_id", "detected_at"), ("object_class", "detected_at")),
        postgis_brin=("detected_at",),
        event_time="detected_at",
    )
)

SILVER_LFR_DEPLOYMENTS = REGISTRY.add(
    Table(
        name="lfr_deployments",
        layer="silver",
        description=(
            "Live facial recognition deployments as the LFR system reports them: where, when, the watchlist size "
            "and the faces scanned. No images and no biometric templates. The lake keeps every version; PostGIS "
            "serves the current one."
        ),
        columns=(
            C("deployment_id", "string", False, "The force's deployment id"),
            C("location_name", "string", True, "Where the deployment stood, as the force names it"),
            *_LOCATED,
            C("starts_at", "timestamp", False, "Deployment start (UTC)"),
            C("ends_at", "timestamp", True, "Deployment end (UTC); null = still deployed or not reported"),
            C("watchlist_size", "long", True, "Images on the watchlist the deployment compared against", min_value=0),
            C("faces_scanned", "long", True, "Faces the system compared against the watchlist", min_value=0),
            C("camera_ids", "array<string>", False, "The cameras of the deployment (may be none)"),
            C("valid_from", "timestamp", False, "This version of the record is in force from (its ingest)"),
            C("valid_to", "timestamp", True, "Until (exclusive); null = the current version"),
            C("is_current", "boolean", False, "True for the latest version of the record"),
            *LINEAGE_COLUMNS,
        ),
        key=("deployment_id", "valid_from"),
        geometries=(_POINT_4326, _POINT_27700),
        postgis_name="lfr_deployments",
        postgis_key=("deployment_id",),  # PostGIS serves the current version
        postgis_exclude=("source_checksum", "row_number", "ingested_at", "valid_from", "valid_to", "is_current"),
        postgis_indexes=(("starts_at",),),
    )
)

SILVER_LFR_ALERTS = REGISTRY.add(
    Table(
        name="lfr_alerts",
        layer="silver",
        description=(
            "Live facial recognition alerts with the operator's verdict and what followed. The subject's demographic "
            "group only where the force records it. A verdict or outcome recorded later is a new version; PostGIS "
            "serves the current one."
        ),
        columns=(
            C("alert_id", "string", False, "The force's alert id"),
            C(
                "deployment_id",
                "string",
                False,
                "The deployment that raised the alert",
                references="silver/lfr_deployments.deployment_id",
            ),
            C("alerted_at", "timestamp", False, "When the system alerted (UTC)"),
            C("watchlist_category", "string", True, "The watchlist category of the matched image, as recorded"),
            C(
                "operator_verdict",
                "string",
                False,
                "true_match | false_alert | not_engaged: the trained operator's verdict",
                allowed_values=LFR_VERDICTS,
            ),
            C(
                "outcome",
                "string",
                True,
                "arrest | other_action | no_action; null = not recorded",
                allowed_values=LFR_OUTCOMES,
            ),
            C("demographic_group", "string", True, "The subject's demographic group as recorded; null = not recorded"),
            C("valid_from", "timestamp", False, "This version of the record is in force from (its ingest)"),
            C("valid_to", "timestamp", True, "Until (exclusive); null = the current version"),
            C("is_current", "boolean", False, "True for the latest version of the record"),
            *LINEAGE_COLUMNS,
        ),
        key=("alert_id", "valid_from"),
        postgis_name="lfr_alerts",
        postgis_key=("alert_id",),
        postgis_exclude=("source_checksum", "row_number", "ingested_at", "valid_from", "valid_to", "is_current"),
        postgis_indexes=(("deployment_id",), ("alerted_at",)),
    )
)

# Not stored: the per-deployment totals the LFR quality gate validates after each deployments or alerts batch
# (a deployment cannot have more alerts than faces it scanned).
LFR_DEPLOYMENT_TOTALS = Table(
    name="lfr_deployment_totals",
    layer="gold",
    description="Per LFR deployment: faces scanned against the alerts held for it",
    columns=(
        C("deployment_id", "string", False, "The deployment"),
        C("faces_scanned", "long", True, "Faces scanned, as the current deployment record reports"),
        C("alerts", "long", False, "Current alert records of the deployment", min_value=0),
    ),
    key=("deployment_id",),
)

QUARANTINE = REGISTRY.add(
    Table(
        name="rejected_rows",
        layer="quarantine",
        description="Rows (or whole files) that failed parsing or a critical check, with the reason",
        columns=(
            C("source", "string", False, "The source the row was landed for, e.g. anpr"),
            C("reason_code", "string", False, "Machine-readable reason", allowed_values=QUARANTINE_REASONS),
            C("reason_detail", "string", True, "What exactly was wrong and how to fix it"),
            C("raw_record", "string", True, "The raw row (JSON object) or raw line; null for a whole file"),
            C("whole_file", "boolean", False, "True when the whole file was quarantined"),
            *LINEAGE_COLUMNS,
            C("ingest_date", "date", False, "Partition: the date of ingest (UTC)"),
        ),
        partition_by=("ingest_date",),
        key=("source_checksum", "row_number"),
    )
)

INGEST_RUNS = REGISTRY.add(
    Table(
        name="ingest_runs",
        layer="ops",
        description="One row per landing file per ingest: rows landed = published + quarantined + duplicates",
        columns=(
            C("ingest_run_id", "string", False, "Run id"),
            C("source", "string", False, "cameras | crimes | anpr | hotlist"),
            C("source_file", "string", False, "Landing file"),
            C("source_checksum", "string", False, "SHA-256 of the file"),
            C("source_format", "string", True, "Parser used"),
            C("started_at", "timestamp", False, "Run start (UTC)"),
            C("finished_at", "timestamp", False, "Run end (UTC)"),
            C("rows_landed", "long", False, "Records found in the file"),
            C("rows_published", "long", False, "Records published to silver"),
            C("rows_quarantined", "long", False, "Records quarantined"),
            C("rows_duplicate", "long", False, "Records recognised as duplicates"),
            C("rows_updated", "long", True, "Of the published: new versions of records already held"),
            C("rows_conflicting", "long", True, "Of the quarantined: the same key with other content"),
            C(
                "status",
                "string",
                False,
                "succeeded | failed | skipped_duplicate_file",
                allowed_values=("succeeded", "failed", "skipped_duplicate_file"),
            ),
            C("message", "string", True, "Warnings and errors"),
        ),
        key=("ingest_run_id", "source_checksum"),
        postgis_name="ingest_runs",
    )
)

GOLD_FLAGS = REGISTRY.add(
    Table(
        name="flags",
        layer="gold",
        description="Investigator flags: explainable leads, each with its evidence",
        columns=(
            C("flag_id", "string", False, "Deterministic: hash of type, subject and window"),
            C("flag_type", "string", False, "Detector name", allowed_values=FLAG_TYPES),
            C("score", "double", False, "0..1, higher = stronger lead", min_value=0, max_value=1),
            C("subject", "string", False, "Plate, crime id, cell id or camera id, by flag type"),
            C("related", "array<string>", False, "Other plates, crime ids or read ids"),
            C("summary", "string", False, "One human-readable sentence"),
            C("window_start", "timestamp", False, "Start of the time window the flag covers"),
            C("window_end", "timestamp", False, "End of the time window the flag covers"),
            C("longitude", "double", True, "Where the flag points, WGS84"),
            C("latitude", "double", True, "Where the flag points, WGS84"),
            C("evidence", "evidence", False, "Reads, crimes and cameras that back the flag"),
            C(
                "status",
                "string",
                False,
                "Triage: new | acknowledged | dismissed | escalated",
                allowed_values=FLAG_STATUSES,
            ),
            C("detected_at", "timestamp", False, "When the detector produced the flag"),
            C("detector_version", "string", False, "Detector and parameter fingerprint"),
        ),
        key=("flag_id",),
        geometries=(_POINT_4326,),
        postgis_name="flags",
        postgis_exclude=("evidence",),
        postgis_indexes=(("flag_type", "window_start"), ("subject",)),
    )
)

FLAG_EVIDENCE = REGISTRY.add(
    Table(
        name="flag_evidence",
        layer="gold",
        description="One row per piece of evidence behind a flag (flattened from flags.evidence)",
        columns=(
            C("flag_id", "string", False, "The flag this evidence backs"),
            C("evidence_no", "int", False, "Position within the flag's evidence"),
            C(
                "kind",
                "string",
                False,
                "read | crime | camera | cell",
                allowed_values=("read", "crime", "camera", "cell"),
            ),
            C("ref_id", "string", True, "Read id, crime id, camera id or cell id"),
            C("camera_id", "string", True, "Camera involved"),
            C("plate", "string", True, "Plate as read"),
            C("at", "timestamp", True, "When"),
            C("longitude", "double", True, "WGS84"),
            C("latitude", "double", True, "WGS84"),
            C("detail", "string", True, "What this piece shows"),
        ),
        key=("flag_id", "evidence_no"),
        geometries=(_POINT_4326,),
        postgis_name="flag_evidence",
        postgis_indexes=(("flag_id",),),
    )
)


# The investigator-facing fields of a flag (``das flags --json``): every column but the bookkeeping ones.
FLAG_BOOKKEEPING = ("status", "detected_at", "detector_version")
FLAG_FIELDS = tuple(c for c in GOLD_FLAGS.column_names if c not in FLAG_BOOKKEEPING)


def table(qualified_name: str) -> Table:
    return REGISTRY.get(qualified_name)
