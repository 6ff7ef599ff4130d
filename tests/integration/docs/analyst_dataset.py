"""A small, realistic week of London data for the examples in docs/analyst-queries.md, published with production code.

The scene is Barnet and Barking and Dagenham (the boroughs the bundled LSOA sample covers) in the weeks up to
Sunday 29 November 2026:

- cameras: every real TfL JamCam in the two boroughs (from the bundled sample, as ingest conforms them), plus ANPR
  cameras with a view cone on five of their junctions and one in the City; ANPR-BN-A41-WATFORD has an older version;
- crimes: real police.uk street-level crimes of the two boroughs (locations, categories, LSOAs and outcomes from the
  bundled sample), re-timed over the five weeks from Monday 26 October 2026 as an incident feed, plus a series of
  burglaries around Hendon Way in the week of 23 November;
- reads: a day profile per ANPR camera for 23-29 November, commuters through Hendon Way on weekday mornings, the
  plates the investigator examples search for, and ANPR-BD-A13-RIPPLE falling silent at 18:00 on 28 November;
- flags (hotlist hits, the Hendon Way hotspot, the silent camera), the hotlist, ingest runs and quarantine counts.

The literal values in the guide's examples (places, cameras, plates, weeks) are the constants below.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from pyproj import Transformer

from das import postgis
from das.config import SAMPLES_DIR, Settings
from jobs.detectors.common import evidence_row, flag_id_value
from jobs.ingest.conform.crimes import POLICE_UK_CATEGORIES
from jobs.ingest.geo import lonlat_to_h3
from schemas.tables import INGEST_RUNS, SILVER_ANPR_READS, SILVER_CAMERAS, SILVER_CRIMES, SILVER_HOTLIST

TO_BNG = Transformer.from_crs(4326, 27700, always_xy=True)
TO_WGS84 = Transformer.from_crs(27700, 4326, always_xy=True)

FIRST_WEEK = datetime(2026, 10, 26, tzinfo=UTC)  # a Monday: crimes cover five weeks from here
THIS_WEEK = datetime(2026, 11, 23, tzinfo=UTC)  # the Monday of the week the examples ask about
READ_DAYS = [date(2026, 11, 23) + timedelta(days=n) for n in range(7)]
SILENT_CAMERA = "ANPR-BD-A13-RIPPLE"
SILENT_FROM = datetime(2026, 11, 28, 18, tzinfo=UTC)
HENDON_CAMERA = "ANPR-BN-A41-HENDON"
# The spot the "which cameras could have seen it" and "vehicles near" examples ask about: 30 m in front of the
# Hendon Way ANPR camera, inside its cone and inside the JamCam's 50 m circle on the same junction.
HENDON_SPOT = (-0.20901, 51.57039)
SEARCHED_PLATES = ("AB12CDE", "AB12XYZ")  # what das.search_plate('AB12*', ...) finds
HOTLIST = (  # plate, list, reason, priority
    ("LK19ZPT", "stolen", "Stolen vehicle, keys taken in a burglary", "high"),
    ("YR68KDV", "wanted", "Driver wanted for failing to stop", "medium"),
)
SEED = 20261129

BOROUGHS_IN_SCENE = ("Barnet", "Barking and Dagenham")
CAMERAS_LANDED, CRIMES_LANDED = date(2026, 11, 20), date(2026, 11, 30)


@dataclass(frozen=True)
class AnprCamera:
    camera_id: str
    name: str
    longitude: float
    latitude: float
    bearing_deg: float
    direction: str


ANPR_CAMERAS = (
    AnprCamera(HENDON_CAMERA, "A41 Hendon Way, north-west bound", -0.20871, 51.5702, 315.0, "NW"),
    AnprCamera("ANPR-BN-A41-WATFORD", "A41 Watford Way, southbound", -0.23509, 51.6019, 180.0, "S"),
    AnprCamera("ANPR-BN-A1-APEX", "A1 towards Apex Corner, northbound", -0.24215, 51.6154, 330.0, "N"),
    AnprCamera("ANPR-BD-A13-ALFRED", "A13 Alfred Way, eastbound", 0.09318, 51.5303, 90.0, "E"),
    AnprCamera(SILENT_CAMERA, "A13 Ripple Road, eastbound", 0.13762, 51.5312, 90.0, "E"),
    AnprCamera("ANPR-CL-MINORIES", "Minories, westbound", -0.07301, 51.5112, 270.0, "W"),
)
ANPR_FOV_DEG, ANPR_RANGE_M = 40.0, 60.0
# Reads per hour of the day (UTC) at a busy junction: night lull, morning and evening peaks.
HOURLY_READS = (2, 1, 1, 1, 2, 4, 7, 10, 11, 8, 6, 6, 6, 6, 7, 9, 11, 11, 8, 6, 4, 3, 3, 2)
COMMUTERS = 25  # plates through Hendon Way every weekday morning


@dataclass(frozen=True)
class Scene:
    """What the tests need to know of the published scene."""

    flags: dict[str, str]  # flag type -> the id of its strongest flag


def bng(lon: float, lat: float) -> tuple[float, float]:
    easting, northing = TO_BNG.transform(lon, lat)
    return float(easting), float(northing)


def h3_cells(lon: pd.Series, lat: pd.Series, settings: Settings) -> pd.Series:
    return lonlat_to_h3(lon, lat, settings.h3_resolution)


def run_id(source: str, landed_on: date) -> str:
    return f"ingest-{landed_on:%Y-%m-%d}-{source}"


def anpr_file(day: date) -> str:
    return f"anpr/mps_anpr_{day:%Y-%m-%d}.csv"


CAMERAS_FILE = f"cameras/tfl_jamcams_and_mps_anpr_{CAMERAS_LANDED:%Y-%m-%d}.geojson"
CRIMES_FILE = f"crimes/mps_incidents_{CRIMES_LANDED:%Y-%m-%d}.csv"


# ------------------------------------------------------------------------------------------------
# Cameras


def jamcams_in_scene() -> list[dict[str, Any]]:
    """The TfL JamCams of the bundled sample inside the scene's boroughs, as ingest conforms them."""
    import shapely
    from shapely.geometry import shape

    boroughs = json.loads((SAMPLES_DIR / "london_boroughs_simplified.geojson").read_text(encoding="utf-8"))
    outlines = [shape(f["geometry"]) for f in boroughs["features"] if f["properties"]["name"] in BOROUGHS_IN_SCENE]
    area = shapely.union_all(outlines)
    cameras = json.loads((SAMPLES_DIR / "tfl_jamcams_2024-04.geojson").read_text(encoding="utf-8"))
    found = []
    for feature in cameras["features"]:
        lon, lat = feature["geometry"]["coordinates"]
        if not area.contains(shapely.Point(lon, lat)):
            continue
        props = feature["properties"]
        found.append(
            {
                "camera_id": Path(props["imageUrl"]).stem,  # the TfL id is the image file name
                "name": props["view"].replace("\\/", "/"),
                "camera_type": "traffic",
                "longitude": lon,
                "latitude": lat,
                "owner": "TfL",
                "status": "active" if props["available"] == "true" else "inactive",
                "image_url": props["imageUrl"],
                "video_url": props["videoUrl"],
            }
        )
    return found


def camera_rows(settings: Settings) -> pd.DataFrame:
    installed = datetime(2025, 6, 1, tzinfo=UTC)
    rows: list[dict[str, Any]] = []
    for jamcam in jamcams_in_scene():
        rows.append({**jamcam, "bearing_deg": None, "fov_deg": None, "range_m": None, "valid_from": installed})
    for cam in ANPR_CAMERAS:
        rows.append(
            {
                "camera_id": cam.camera_id,
                "name": cam.name,
                "camera_type": "anpr",
                "longitude": cam.longitude,
                "latitude": cam.latitude,
                "owner": "Metropolitan Police Service",
                "status": "active",
                "image_url": None,
                "video_url": None,
                "bearing_deg": cam.bearing_deg,
                "fov_deg": ANPR_FOV_DEG,
                "range_m": ANPR_RANGE_M,
                "valid_from": installed,
            }
        )
    frame = pd.DataFrame(rows)
    frame["installed_at"] = frame["valid_from"]
    frame["removed_at"] = None
    frame["available"] = frame["status"] == "active"
    frame["valid_to"] = None
    frame["is_current"] = True
    # Turned on 1 November to face south down the A41: the older version faced south-west.
    turned = frame.index[frame["camera_id"] == "ANPR-BN-A41-WATFORD"][0]
    older = frame.loc[turned].copy()
    turned_at = datetime(2026, 11, 1, tzinfo=UTC)
    frame.loc[turned, "valid_from"] = turned_at
    older["bearing_deg"], older["valid_to"], older["is_current"] = 225.0, turned_at, False
    frame = pd.concat([frame, older.to_frame().T], ignore_index=True)
    easting, northing = TO_BNG.transform(frame["longitude"].to_numpy(float), frame["latitude"].to_numpy(float))
    frame["easting"], frame["northing"] = easting, northing
    frame["h3_cell"] = h3_cells(frame["longitude"], frame["latitude"], settings)
    frame["attributes_hash"] = [
        hashlib.sha256(json.dumps([r.camera_id, r.name, r.bearing_deg, r.status], default=str).encode()).hexdigest()
        for r in frame.itertuples()
    ]
    return frame.assign(source_file=CAMERAS_FILE, ingest_run_id=run_id("cameras", CAMERAS_LANDED))


# ------------------------------------------------------------------------------------------------
# Crimes


def offset_point(lon: float, lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    easting, northing = bng(lon, lat)
    x, y = TO_WGS84.transform(easting + east_m, northing + north_m)
    return float(x), float(y)


def crime_rows(settings: Settings, rng: np.random.Generator) -> pd.DataFrame:
    """Real street-level crimes of the two boroughs (every third), re-timed over the five weeks, plus the series."""
    sample = pd.read_csv(SAMPLES_DIR / "met_street_2023-01_sample.csv", encoding="utf-8-sig", dtype=str)
    in_scene = sample["LSOA name"].str.rsplit(" ", n=1).str[0].isin(BOROUGHS_IN_SCENE) & sample["Longitude"].notna()
    picked = sample[in_scene].iloc[::3].reset_index(drop=True)
    minutes = rng.integers(0, 35 * 24 * 60, len(picked))
    occurred = [FIRST_WEEK + timedelta(minutes=int(m)) for m in minutes]
    crimes = pd.DataFrame(
        {
            "crime_id": [f"MPS-INC-2026-{n:06d}" for n in range(1, len(picked) + 1)],
            "crime_type_original": picked["Crime type"],
            "occurred_from": occurred,
            "longitude": picked["Longitude"].astype(float),
            "latitude": picked["Latitude"].astype(float),
            "location": picked["Location"],
            "lsoa_code": picked["LSOA code"],
            "lsoa_name": picked["LSOA name"],
            "outcome": picked["Last outcome category"],
        }
    )
    hendon = next(c for c in ANPR_CAMERAS if c.camera_id == HENDON_CAMERA)
    series = []
    for n in range(12):  # a burglary series around Hendon Way, the week the examples ask about
        lon, lat = offset_point(hendon.longitude, hendon.latitude, rng.uniform(-120, 120), rng.uniform(-120, 120))
        series.append(
            {
                "crime_id": f"MPS-INC-2026-9{n:05d}",
                "crime_type_original": "Burglary",
                "occurred_from": THIS_WEEK + timedelta(days=int(n % 7), hours=int(rng.integers(0, 24))),
                "longitude": lon,
                "latitude": lat,
                "location": "On or near Hendon Way",
                "lsoa_code": None,
                "lsoa_name": None,
                "outcome": "Under investigation",
            }
        )
    crimes = pd.concat([crimes, pd.DataFrame(series)], ignore_index=True)
    crimes["crime_type"] = crimes["crime_type_original"].str.lower().map(POLICE_UK_CATEGORIES).fillna("other-crime")
    crimes["occurred_to"] = crimes["occurred_from"] + timedelta(hours=1)
    crimes["time_precision"] = "exact"
    crimes["location_precision"] = "snapped"  # police.uk's anonymised map points
    crimes["reported_by"] = "Metropolitan Police Service"
    crimes["source_format"] = "incident_csv"
    crimes["crime_month"] = [t.strftime("%Y-%m") for t in crimes["occurred_from"]]
    easting, northing = TO_BNG.transform(crimes["longitude"].to_numpy(float), crimes["latitude"].to_numpy(float))
    crimes["easting"], crimes["northing"] = easting, northing
    crimes["h3_cell"] = h3_cells(crimes["longitude"], crimes["latitude"], settings)
    return crimes.assign(source_file=CRIMES_FILE, ingest_run_id=run_id("crimes", CRIMES_LANDED))


# ------------------------------------------------------------------------------------------------
# Reads


def random_plates(rng: np.random.Generator, count: int) -> list[str]:
    """Current-style GB plates: two letters, two digits, three letters (no I, Q or Z in the random part)."""
    letters = np.array(list("ABCDEFGHJKLMNOPRSTUVWXY"))
    plates: set[str] = set()
    while len(plates) < count:
        area = "".join(rng.choice(letters, 2))
        age = f"{rng.integers(10, 75):02d}"
        plates.add(area + age + "".join(rng.choice(letters, 3)))
    return sorted(plates - set(SEARCHED_PLATES) - {p for p, *_ in HOTLIST})


def read_events(rng: np.random.Generator) -> list[tuple[str, datetime, str]]:
    """(camera_id, read_at, plate) for every read of the week."""
    passing = random_plates(rng, 1500)
    commuters, passing = passing[:COMMUTERS], passing[COMMUTERS:]
    events: list[tuple[str, datetime, str]] = []
    for day in READ_DAYS:
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        for cam in ANPR_CAMERAS:
            for hour, reads in enumerate(HOURLY_READS):
                hour_start = midnight + timedelta(hours=hour)
                if cam.camera_id == SILENT_CAMERA and hour_start >= SILENT_FROM:
                    continue
                for second in sorted(rng.integers(0, 3600, reads)):
                    events.append((cam.camera_id, hour_start + timedelta(seconds=int(second)), rng.choice(passing)))
        if day.weekday() < 5:
            for plate in commuters:
                events.append((HENDON_CAMERA, midnight + timedelta(hours=7, seconds=int(rng.integers(0, 7200))), plate))
    fixed = [  # the plates the investigator examples look for, at fixed times
        (HENDON_CAMERA, (2026, 11, 24, 17, 42, 10), "AB12CDE"),
        ("ANPR-BN-A41-WATFORD", (2026, 11, 24, 18, 3, 55), "AB12CDE"),
        (HENDON_CAMERA, (2026, 11, 27, 8, 15, 2), "AB12CDE"),
        ("ANPR-BD-A13-ALFRED", (2026, 11, 26, 13, 20, 41), "AB12XYZ"),
        ("ANPR-BN-A41-WATFORD", (2026, 11, 25, 22, 14, 7), "LK19ZPT"),
        (HENDON_CAMERA, (2026, 11, 25, 22, 31, 40), "LK19ZPT"),
        ("ANPR-BD-A13-ALFRED", (2026, 11, 27, 9, 5, 12), "YR68KDV"),
    ]
    events += [(camera_id, datetime(*when, tzinfo=UTC), plate) for camera_id, when, plate in fixed]
    return events


def read_rows(events: list[tuple[str, datetime, str]], rng: np.random.Generator, settings: Settings) -> pd.DataFrame:
    """Reads as ingest publishes them: located at the camera's position (and in its H3 cell) at read time."""
    cameras = {c.camera_id: c for c in ANPR_CAMERAS}
    lon, lat = pd.Series([c.longitude for c in ANPR_CAMERAS]), pd.Series([c.latitude for c in ANPR_CAMERAS])
    cell_of = dict(zip(cameras, h3_cells(lon, lat, settings), strict=True))
    rows = []
    for n, (camera_id, read_at, plate) in enumerate(sorted(events)):
        cam = cameras[camera_id]
        easting, northing = bng(cam.longitude, cam.latitude)
        rows.append(
            {
                "read_id": f"{camera_id}-{read_at:%Y%m%d%H%M%S}-{n:05d}",
                "camera_id": camera_id,
                "plate": plate,
                "plate_raw": f"{plate[:4]} {plate[4:]}",
                "read_at": read_at,
                "confidence": round(float(rng.uniform(0.82, 0.995)), 3),
                "country": "GB",
                "direction": cam.direction,
                "lane": str(rng.integers(1, 3)),
                "image_uri": None,
                "longitude": cam.longitude,
                "latitude": cam.latitude,
                "easting": easting,
                "northing": northing,
                "h3_cell": cell_of[camera_id],
                "source_file": anpr_file(read_at.date()),
                "ingest_run_id": run_id("anpr", read_at.date()),
            }
        )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------------
# Hotlist, flags, ingest runs, quarantine


def hotlist_rows() -> pd.DataFrame:
    valid_from = datetime(2026, 11, 20, 9, tzinfo=UTC)
    return pd.DataFrame(
        [
            {
                "hotlist_entry_id": hashlib.sha256(f"{name}|{plate}|{valid_from.isoformat()}".encode()).hexdigest(),
                "plate": plate,
                "plate_raw": f"{plate[:4]} {plate[4:]}",
                "list_name": name,
                "reason": reason,
                "priority": priority,
                "valid_from": valid_from,
                "valid_to": None,
                "source_file": "hotlist/pnc_extract_2026-11-20.csv",
                "ingest_run_id": run_id("hotlist", valid_from.date()),
            }
            for plate, name, reason, priority in HOTLIST
        ]
    )


def flag(flag_type: str, subject: str, window: tuple[datetime, datetime], **content: Any) -> dict[str, Any]:
    return {
        "flag_id": flag_id_value(flag_type, subject, *window),
        "flag_type": flag_type,
        "subject": subject,
        "window_start": window[0],
        "window_end": window[1],
        "status": "new",
        "detected_at": window[1] + timedelta(minutes=20),
        "detector_version": f"{flag_type}@5c1d2e9a0b",
        **content,
    }


def hotlist_hit(reads: pd.DataFrame, plate: str, score: float) -> dict[str, Any]:
    hits = reads[reads["plate"] == plate].sort_values("read_at")
    first = hits.iloc[0]
    day = first["read_at"].replace(hour=0, minute=0, second=0, microsecond=0)
    name, reason, priority = next((n, r, p) for q, n, r, p in HOTLIST if q == plate)
    evidence = [
        evidence_row(
            "read",
            ref_id=r.read_id,
            camera_id=r.camera_id,
            plate=r.plate,
            at=r.read_at,
            longitude=r.longitude,
            latitude=r.latitude,
            detail=f"hotlist exact hit on {plate} (list {name}, {priority} priority: {reason}); read as {r.plate_raw}, "
            f"confidence {r.confidence:.2f}",
        )
        for r in hits.itertuples()
    ]
    return flag(
        "hotlist_hit",
        plate,
        (day, day + timedelta(days=1)),
        score=score,
        related=sorted(hits["read_id"]),
        summary=f"Hotlist hit: {plate} ({priority} priority, list {name}, {reason}) read {len(hits)} time(s) at "
        f"{hits['camera_id'].nunique()} camera(s) on {day:%Y-%m-%d}, first at {first['read_at']:%H:%M} UTC at "
        f"{first['camera_id']}.",
        longitude=first["longitude"],
        latitude=first["latitude"],
        evidence=evidence,
    )


def hotspot(crimes: pd.DataFrame, settings: Settings) -> dict[str, Any]:
    import h3

    week = (THIS_WEEK, THIS_WEEK + timedelta(days=7))
    series = crimes[crimes["crime_id"].str.startswith("MPS-INC-2026-9")]
    cell = series["h3_cell"].mode().iloc[0]
    of_cell = crimes[crimes["h3_cell"] == cell]
    in_cell = of_cell[(of_cell["occurred_from"] >= week[0]) & (of_cell["occurred_from"] < week[1])]
    in_cell = in_cell.sort_values(["occurred_from", "crime_id"])
    before = (of_cell["occurred_from"] >= FIRST_WEEK) & (of_cell["occurred_from"] < week[0])
    lat, lon = h3.cell_to_latlng(cell)
    stats = f"{len(in_cell)} crimes in the week of {week[0]:%Y-%m-%d} vs {before.sum() / 4:.2f}/week in the 4 before"
    evidence = [
        evidence_row(
            "cell",
            ref_id=cell,
            at=week[0],
            longitude=lon,
            latitude=lat,
            detail=f"H3 res {settings.h3_resolution}: {stats}",
        )
    ] + [
        evidence_row(
            "crime",
            ref_id=c.crime_id,
            at=c.occurred_from,
            longitude=c.longitude,
            latitude=c.latitude,
            detail=f"{c.crime_type} at {c.location}",
        )
        for c in in_cell.itertuples()
    ]
    return flag(
        "emerging_hotspot",
        cell,
        week,
        score=0.86,
        related=list(in_cell["crime_id"]),
        summary=f"Emerging crime hotspot in H3 cell {cell}: {stats}.",
        longitude=lon,
        latitude=lat,
        evidence=evidence,
    )


def silent_camera() -> dict[str, Any]:
    cam = next(c for c in ANPR_CAMERAS if c.camera_id == SILENT_CAMERA)
    window = (SILENT_FROM, SILENT_FROM + timedelta(hours=18))
    hours = [SILENT_FROM + timedelta(hours=n) for n in range(18)]
    point = {"camera_id": cam.camera_id, "longitude": cam.longitude, "latitude": cam.latitude}
    evidence = [evidence_row("camera", ref_id=cam.camera_id, detail=f"camera {cam.name} (silent camera)", **point)] + [
        evidence_row(
            "camera",
            ref_id=cam.camera_id,
            at=hour,
            detail=f"{hour:%Y-%m-%d %H:%M} UTC + 1 h: 0 reads, expected {HOURLY_READS[hour.hour]:.1f}",
            **point,
        )
        for hour in hours
    ]
    return flag(
        "camera_silent",
        cam.camera_id,
        window,
        score=0.97,
        related=[],
        summary=f"Camera {cam.camera_id} ({cam.name}) went silent for 18 h from {window[0]:%Y-%m-%d %H:%M} to "
        f"{window[1]:%Y-%m-%d %H:%M} UTC: 0 reads vs {sum(HOURLY_READS[h.hour] for h in hours):.1f} expected.",
        longitude=cam.longitude,
        latitude=cam.latitude,
        evidence=evidence,
    )


# The ANPR files that had rows quarantined: the day a file covers -> reason -> rows.
QUARANTINED = {
    date(2026, 11, 26): {"invalid_plate": 14, "unknown_camera": 3},
    date(2026, 11, 28): {"invalid_plate": 6},
}


def ingested_at(landed_on: date) -> datetime:
    """A file is ingested five minutes after the midnight that ends the day it covers."""
    return datetime(landed_on.year, landed_on.month, landed_on.day, tzinfo=UTC) + timedelta(days=1, minutes=5)


def ingest_runs(reads: pd.DataFrame, crimes: pd.DataFrame, cameras: pd.DataFrame) -> pd.DataFrame:
    """One succeeded run per landing file; rows landed = published + quarantined."""
    read_days = pd.Series([t.date() for t in reads["read_at"]])
    files = [
        ("anpr", day, anpr_file(day), int((read_days == day).sum()), sum(QUARANTINED.get(day, {}).values()))
        for day in READ_DAYS
    ]
    files += [
        ("crimes", CRIMES_LANDED, CRIMES_FILE, len(crimes), 0),
        ("cameras", CAMERAS_LANDED, CAMERAS_FILE, len(cameras), 0),
    ]
    formats = {"anpr": "anpr_csv", "crimes": "incident_csv", "cameras": "jamcam_geojson"}
    return pd.DataFrame(
        [
            {
                "ingest_run_id": run_id(source, landed_on),
                "source": source,
                "source_file": source_file,
                "source_checksum": hashlib.sha256(source_file.encode()).hexdigest(),
                "source_format": formats[source],
                "started_at": ingested_at(landed_on),
                "finished_at": ingested_at(landed_on) + timedelta(minutes=2),
                "rows_landed": published + quarantined,
                "rows_published": published,
                "rows_quarantined": quarantined,
                "rows_duplicate": 0,
                "rows_updated": 0,
                "rows_conflicting": 0,
                "status": "succeeded",
                "message": None,
            }
            for source, landed_on, source_file, published, quarantined in files
        ]
    )


def rejected_rows() -> pa.Table:
    """The quarantined rows' columns the quarantine summary counts (the raw records stay in the lake)."""
    rows = [
        ("anpr", reason, anpr_file(day), ingested_at(day).date(), False, ingested_at(day))
        for day, reasons in QUARANTINED.items()
        for reason, count in reasons.items()
        for _ in range(count)
    ]
    names = ("source", "reason_code", "source_file", "ingest_date", "whole_file", "ingested_at")
    return pa.table({name: [row[i] for row in rows] for i, name in enumerate(names)})


# ------------------------------------------------------------------------------------------------


def publish_scene(settings: Settings) -> Scene:
    """Publish the whole scene into ``settings``' (migrated) database, as the pipeline's publish step would."""
    rng = np.random.default_rng(SEED)
    cameras = camera_rows(settings)
    crimes = crime_rows(settings, rng)
    reads = read_rows(read_events(rng), rng, settings)
    postgis.publish_replace(settings, SILVER_CAMERAS, cameras)
    postgis.publish_replace(settings, SILVER_CRIMES, crimes, key_filter="crime_month")
    for day in READ_DAYS:
        of_day = reads[[t.date() == day for t in reads["read_at"]]]
        postgis.publish_day_partition(settings, SILVER_ANPR_READS, of_day, day)
    postgis.publish_replace(settings, SILVER_HOTLIST, hotlist_rows())
    flags = [
        hotlist_hit(reads, "LK19ZPT", 0.95),
        hotlist_hit(reads, "YR68KDV", 0.62),
        hotspot(crimes, settings),
        silent_camera(),
    ]
    postgis.publish_flags(settings, pd.DataFrame(flags))
    postgis.publish_upsert(settings, INGEST_RUNS, ingest_runs(reads, crimes, cameras))
    postgis.publish_quarantine_counts(settings, "anpr", [anpr_file(day) for day in QUARANTINED], rejected_rows())
    strongest_first = sorted(flags, key=lambda f: f["score"], reverse=True)
    return Scene(flags={f["flag_type"]: f["flag_id"] for f in reversed(strongest_first)})
