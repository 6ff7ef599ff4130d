"""What the web API reads and writes, a page at a time, on a cursor already in the caller's role.

Every function takes an open cursor (``das_api`` opens it as the request's user: SET LOCAL ROLE das_<role>),
so the database's grants, row-level security and audited functions decide what each role may see. Pages are
keyset pages: ``after`` is the sort key of the last row of the previous page (``None`` for the first page), and
each function returns one row more than ``limit`` asks for, so the caller knows whether another page exists.
SQL is parameterised throughout; nothing of a request is ever formatted into it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from das import oversight
from schemas.model import EVIDENCE_FIELDS
from schemas.tables import FLAG_FIELDS

FLAG_COLUMNS = [f for f in FLAG_FIELDS if f != "evidence"]
EVIDENCE_COLUMNS = [n for n, _ in EVIDENCE_FIELDS]
READ_COLUMNS = ["read_id", "plate", "plate_raw", "read_at", "camera_id", "camera_name", "camera_type", "longitude",
                "latitude", "confidence"]  # fmt: skip


def _rows(cur: Any) -> list[dict[str, Any]]:
    names = [d.name for d in cur.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


@dataclass(frozen=True)
class FlagQuery:
    flag_type: str | None = None
    status: str | None = None
    min_score: float = 0.0
    since: datetime | None = None  # the flag's window ends at or after
    until: datetime | None = None  # the flag's window starts before
    bbox: tuple[float, float, float, float] | None = None  # min lon, min lat, max lon, max lat
    limit: int = 100
    after: tuple[float, str, str] | None = None  # (score, flag_type, flag_id) of the previous page's last flag


def flags_page(cur: Any, q: FlagQuery) -> list[dict[str, Any]]:
    """Flags strongest first (score, then type and id), with status and triage version; no evidence."""
    columns = ", ".join(f"f.{c}" for c in FLAG_COLUMNS)
    bbox = q.bbox or (None, None, None, None)
    after = q.after or (None, None, None)
    cur.execute(
        f"SELECT {columns}, f.status, "
        "coalesce((SELECT max(t.version) FROM das.flag_triage AS t WHERE t.flag_id = f.flag_id), 0) AS version "
        "FROM das.flags AS f "
        "WHERE (%(type)s::text IS NULL OR f.flag_type = %(type)s) "
        "AND (%(status)s::text IS NULL OR f.status = %(status)s) "
        "AND f.score >= %(min_score)s "
        "AND (%(since)s::timestamptz IS NULL OR f.window_end >= %(since)s) "
        "AND (%(until)s::timestamptz IS NULL OR f.window_start < %(until)s) "
        "AND (%(x0)s::float8 IS NULL OR f.geom && ST_MakeEnvelope(%(x0)s, %(y0)s, %(x1)s, %(y1)s, 4326)) "
        "AND (%(a_score)s::float8 IS NULL OR f.score < %(a_score)s "
        "     OR (f.score = %(a_score)s AND (f.flag_type, f.flag_id) > (%(a_type)s::text, %(a_id)s::text))) "
        "ORDER BY f.score DESC, f.flag_type, f.flag_id LIMIT %(limit)s",
        {
            "type": q.flag_type,
            "status": q.status,
            "min_score": q.min_score,
            "since": q.since,
            "until": q.until,
            "x0": bbox[0],
            "y0": bbox[1],
            "x1": bbox[2],
            "y1": bbox[3],
            "a_score": after[0],
            "a_type": after[1],
            "a_id": after[2],
            "limit": q.limit + 1,
        },
    )
    return _rows(cur)


def flag_with_evidence(cur: Any, flag_id: str, purpose: str, case_ref: str | None) -> dict[str, Any] | None:
    """One flag, its evidence (read through the audited view: one audit row) and its triage history."""
    columns = ", ".join(f"f.{c}" for c in FLAG_COLUMNS)
    cur.execute(
        f"SELECT {columns}, f.status, f.detected_at, f.detector_version FROM das.flags AS f WHERE f.flag_id = %s",
        (flag_id,),
    )
    found = _rows(cur)
    if not found:
        return None
    flag = found[0]
    cur.execute(
        f"SELECT {', '.join(EVIDENCE_COLUMNS)} FROM das.view_flag_evidence(%s, %s, %s)", (flag_id, purpose, case_ref)
    )
    flag["evidence"] = _rows(cur)
    flag["history"] = triage_history(cur, flag_id)
    flag["version"] = max((h["version"] for h in flag["history"]), default=0)
    return flag


def triage_history(cur: Any, flag_id: str) -> list[dict[str, Any]]:
    cur.execute(
        "SELECT version, status, previous_status, note, reason, user_name, at FROM das.flag_triage "
        "WHERE flag_id = %s ORDER BY version",
        (flag_id,),
    )
    return _rows(cur)


def triage(cur: Any, flag_id: str, status: str, note: str | None, reason: str | None, version: int) -> int:
    """Set a flag's status if it is still at ``version``; returns the new version (the database refuses a stale
    one with SQLSTATE DA409, an unknown flag with DA404)."""
    cur.execute("SELECT das.triage_flag(%s, %s, %s, %s, %s)", (flag_id, status, note, reason, version))
    return int(cur.fetchone()[0])


def plate_reads_page(
    cur: Any,
    plate: str,
    t_from: datetime,
    t_to: datetime,
    purpose: str,
    case_ref: str | None,
    limit: int,
    after: tuple[datetime, str] | None,
) -> list[dict[str, Any]]:
    """Reads of a plate pattern (``*`` ``?`` wildcards), oldest first, through the audited search."""
    a_at, a_id = after or (None, None)
    cur.execute(
        f"SELECT {', '.join(READ_COLUMNS)} FROM das.search_plate(%s, %s, %s, %s, %s) "
        "WHERE (%s::timestamptz IS NULL OR (read_at, read_id) > (%s::timestamptz, %s::text)) "
        "ORDER BY read_at, read_id LIMIT %s",
        (plate, t_from, t_to, purpose, case_ref, a_at, a_at, a_id, limit + 1),
    )
    return _rows(cur)


def vehicles_near_page(
    cur: Any,
    lon: float,
    lat: float,
    radius_m: float,
    t_from: datetime,
    t_to: datetime,
    purpose: str,
    case_ref: str | None,
    limit: int,
    after: tuple[float, datetime, str] | None,
) -> list[dict[str, Any]]:
    """Reads within ``radius_m`` of a point, nearest first, through the audited search; with the camera's point."""
    a_dist, a_at, a_id = after or (None, None, None)
    cur.execute(
        "SELECT v.plate, v.read_id, v.camera_id, v.read_at, v.distance_m, c.name AS camera_name, "
        "c.longitude, c.latitude "
        "FROM das.search_vehicles_near(%s, %s, %s, %s, %s, %s, %s) AS v "
        "LEFT JOIN das.cameras AS c ON c.camera_id = v.camera_id AND c.is_current "
        "WHERE (%s::float8 IS NULL OR (v.distance_m, v.read_at, v.read_id) > (%s::float8, %s::timestamptz, %s::text)) "
        "ORDER BY v.distance_m, v.read_at, v.read_id LIMIT %s",
        (lon, lat, radius_m, t_from, t_to, purpose, case_ref, a_dist, a_dist, a_at, a_id, limit + 1),
    )
    return _rows(cur)


def stakeout_page(
    cur: Any,
    places: list[dict[str, Any]],
    min_places: int,
    purpose: str,
    case_ref: str | None,
    limit: int,
    after: tuple[int, str] | None,
) -> list[dict[str, Any]]:
    """Vehicles seen at ``min_places`` of the places at least, most places first, through the audited search."""
    a_seen, a_plate = after or (None, None)
    cur.execute(
        "SELECT plate, places_seen, place_numbers, first_seen, last_seen, sightings "
        "FROM das.search_stakeout(%s::jsonb, %s, %s, %s) "
        "WHERE (%s::int IS NULL OR places_seen < %s OR (places_seen = %s AND plate > %s::text)) "
        "ORDER BY places_seen DESC, plate LIMIT %s",
        (json.dumps(places, default=str), min_places, purpose, case_ref, a_seen, a_seen, a_seen, a_plate, limit + 1),
    )
    return _rows(cur)


def cameras_page(cur: Any, limit: int, after: str | None, bbox: tuple[float, ...] | None) -> list[dict[str, Any]]:
    """Current cameras with their coverage polygon (GeoJSON text) and health, by camera id."""
    x0, y0, x1, y1 = bbox or (None, None, None, None)
    cur.execute(
        "SELECT cv.camera_id, cv.name, cv.camera_type, cv.status, cv.coverage_kind, cv.range_m, "
        "ST_X(ST_Transform(cv.camera_geom_bng, 4326)) AS longitude, ST_Y(ST_Transform(cv.camera_geom_bng, 4326)) "
        "AS latitude, ST_AsGeoJSON(cv.coverage, 6) AS coverage, h.last_read_at, h.reads_last_24h, "
        "h.silent_flag_id, h.silent_since, h.silent_summary "
        "FROM das.camera_coverage AS cv LEFT JOIN das.camera_health AS h ON h.camera_id = cv.camera_id "
        "WHERE (%s::text IS NULL OR cv.camera_id > %s) "
        "AND (%s::float8 IS NULL OR cv.coverage && ST_MakeEnvelope(%s, %s, %s, %s, 4326)) "
        "ORDER BY cv.camera_id LIMIT %s",
        (after, after, x0, x0, y0, x1, y1, limit + 1),
    )
    return _rows(cur)


def crimes_page(
    cur: Any,
    since: datetime | None,
    until: datetime | None,
    bbox: tuple[float, ...] | None,
    crime_type: str | None,
    limit: int,
    after: str | None,
) -> list[dict[str, Any]]:
    """Current crime records located in the box and window, by crime id."""
    x0, y0, x1, y1 = bbox or (None, None, None, None)
    cur.execute(
        "SELECT crime_id, crime_type, occurred_from, occurred_to, location, lsoa_name, outcome, longitude, latitude "
        "FROM das.crimes WHERE longitude IS NOT NULL "
        "AND (%s::timestamptz IS NULL OR occurred_to >= %s OR occurred_from >= %s) "
        "AND (%s::timestamptz IS NULL OR occurred_from < %s) "
        "AND (%s::text IS NULL OR crime_type = %s) "
        "AND (%s::float8 IS NULL OR geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)) "
        "AND (%s::text IS NULL OR crime_id > %s) ORDER BY crime_id LIMIT %s",
        (since, since, since, until, until, crime_type, crime_type, x0, x0, y0, x1, y1, after, after, limit + 1),
    )
    return _rows(cur)


def hotspots(cur: Any, since: datetime | None, until: datetime | None) -> list[dict[str, Any]]:
    """Emerging hotspot cells (GeoJSON outline) whose window touches [since, until)."""
    cur.execute(
        "SELECT flag_id, h3_cell, score, status, window_start, window_end, summary, ST_AsGeoJSON(geom, 6) AS outline "
        "FROM das.hotspot_cells WHERE (%s::timestamptz IS NULL OR window_end >= %s) "
        "AND (%s::timestamptz IS NULL OR window_start < %s) ORDER BY score DESC, flag_id LIMIT 2000",
        (since, since, until, until),
    )
    return _rows(cur)


# layer: (table, code column, name column, simplification tolerance in degrees)
BOUNDARY_LAYERS = {
    "boroughs": ("das.boroughs", "gss_code", "name", 0.0002),
    "lsoas": ("das.lsoas", "lsoa_code", "lsoa_name", 0.00005),
}


def boundaries(cur: Any, layer: str) -> list[dict[str, Any]]:
    """A boundary layer's polygons (simplified for the map, GeoJSON text) with code and name."""
    table, code, name, tolerance = BOUNDARY_LAYERS[layer]  # a key of this dict, never free text
    cur.execute(
        f"SELECT {code} AS code, {name} AS name, ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, %s), 6) AS outline "
        f"FROM {table} ORDER BY {code}",
        (tolerance,),
    )
    return _rows(cur)


def ingest_runs_page(cur: Any, source: str | None, limit: int, after: tuple[datetime, str, str] | None) -> list[dict]:
    """Ingest runs newest first, each file with its reconciliation counts."""
    a_at, a_run, a_sum = after or (None, None, None)
    cur.execute(
        "SELECT ingest_run_id, source, source_file, source_checksum, source_format, started_at, finished_at, "
        "rows_landed, rows_published, rows_quarantined, rows_duplicate, rows_updated, rows_conflicting, status, "
        "message, rows_landed = rows_published + rows_quarantined + rows_duplicate AS reconciled "
        "FROM das.ingest_runs WHERE (%s::text IS NULL OR source = %s) "
        "AND (%s::timestamptz IS NULL OR (finished_at, ingest_run_id, source_checksum) "
        "     < (%s::timestamptz, %s::text, %s::text)) "
        "ORDER BY finished_at DESC, ingest_run_id DESC, source_checksum DESC LIMIT %s",
        (source, source, a_at, a_at, a_run, a_sum, limit + 1),
    )
    return _rows(cur)


def quality_page(
    cur: Any, source: str | None, failed_only: bool, limit: int, after: tuple[datetime, str, str, str] | None
) -> list[dict[str, Any]]:
    """Quality checks newest first; with ``failed_only`` just the failed ones."""
    a_at, a_run, a_table, a_check = after or (None, None, None, None)
    cur.execute(
        "SELECT ingest_run_id, source, table_name, check_name, severity, success, unexpected_count, detail, "
        "row_count, validated_at FROM das.quality_results "
        "WHERE (%s::text IS NULL OR source = %s) AND (NOT %s OR NOT success) "
        "AND (%s::timestamptz IS NULL OR (validated_at, ingest_run_id, table_name, check_name) "
        "     < (%s::timestamptz, %s::text, %s::text, %s::text)) "
        "ORDER BY validated_at DESC, ingest_run_id DESC, table_name DESC, check_name DESC LIMIT %s",
        (source, source, failed_only, a_at, a_at, a_run, a_table, a_check, limit + 1),
    )
    return _rows(cur)


def quarantine_by_reason(cur: Any) -> list[dict[str, Any]]:
    """Quarantined rows per source and reason, with the files and the last time."""
    cur.execute(
        "SELECT source, reason_code, sum(rows)::bigint AS rows, count(DISTINCT source_file) AS files, "
        "max(last_ingested_at) AS last_ingested_at FROM das.quarantine_summary "
        "GROUP BY source, reason_code ORDER BY sum(rows) DESC, source, reason_code"
    )
    return _rows(cur)


def notifications(cur: Any, limit: int = 200) -> list[dict[str, Any]]:
    """The notifier's outbox, failures first."""
    cur.execute(
        "SELECT flag_id, channel, state, attempts, last_error, claimed_at, sent_at, next_attempt_at "
        "FROM das.flag_notifications ORDER BY (state = 'failed') DESC, claimed_at DESC LIMIT %s",
        (limit,),
    )
    return _rows(cur)


def lfr_report(cur: Any, start: datetime, end: datetime) -> dict[str, Any]:
    """The LFR oversight report of the deployments starting in [start, end) (see ``das.oversight``)."""
    cur.execute("SELECT * FROM das.lfr_report_deployments(%s, %s)", (start, end))
    deployments = _rows(cur)
    cur.execute("SELECT * FROM das.lfr_report_groups(%s, %s)", (start, end))
    return oversight.lfr_report(deployments, _rows(cur), start, end)


@dataclass(frozen=True)
class VideoSearch:
    """What an attribute search asks for (``das.search_video_events``)."""

    t_from: datetime
    t_to: datetime
    purpose: str
    case_ref: str | None = None
    object_class: str | None = None
    attributes: dict[str, str] | None = None
    cameras: list[str] | None = None
    lon: float | None = None
    lat: float | None = None
    radius_m: float | None = None
    link_seconds: int = 5
    max_events: int = 1000


EVENT_FIELDS = ("event_id", "camera_id", "detected_at", "object_class", "confidence", "track_id", "attributes",
                "longitude", "latitude")  # fmt: skip


def search_video_events(cur: Any, q: VideoSearch) -> list[dict[str, Any]]:
    """Matching detections, each with its likely plates (ANPR reads at the same camera within seconds). Audited."""
    cur.execute(
        "SELECT * FROM das.search_video_events(%s, %s, %s, %s, %s, %s::jsonb, %s::text[], %s, %s, %s, %s, %s)",
        (
            q.t_from,
            q.t_to,
            q.purpose,
            q.case_ref,
            q.object_class,
            json.dumps(q.attributes) if q.attributes is not None else None,
            q.cameras,
            q.lon,
            q.lat,
            q.radius_m,
            q.link_seconds,
            q.max_events,
        ),
    )
    events: dict[str, dict[str, Any]] = {}
    for row in _rows(cur):
        event = events.setdefault(row["event_id"], {k: row[k] for k in EVENT_FIELDS} | {"likely_plates": []})
        if row["plate"] is not None:
            event["likely_plates"].append({k: row[k] for k in ("plate", "read_id", "read_at", "link_confidence")})
    return list(events.values())
