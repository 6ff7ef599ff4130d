"""What the daily briefing (``das report``) reads from PostGIS for one UTC day: flags, hotspots, reads and crimes.

Plain data out: small frozen dataclasses and lists, geometries as shapely shapes in British National Grid metres
(EPSG:27700) so the map has a true scale. ``jobs.briefing`` builds the figures and the page from it.

A flag belongs to the day when its window touches the day: it starts before the day ends and ends after the day
starts (a window is half-open, ``[window_start, window_end)``), or it is an instant on the day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from das.config import Settings
from das.postgis.connection import transaction

MAP_SRID = 27700  # British National Grid: metres, so a scale bar is exact
MAP_POINTS_LIMIT = 5000  # the strongest flags drawn; a day with more says so on the map
TOP_LEADS = 10
WEEK_PLACEABLE_PRECISIONS = ("exact", "day")  # the crimes' time_precision values good enough to place in a week

_TOUCHES_DAY = "f.window_start < %(day_end)s AND (f.window_end > %(day_start)s OR f.window_start >= %(day_start)s)"


@dataclass(frozen=True)
class Area:
    name: str
    geometry: Any  # shapely (Multi)Polygon, EPSG:27700


@dataclass(frozen=True)
class MapFlag:
    flag_id: str
    flag_type: str
    score: float
    x: float  # EPSG:27700 easting
    y: float  # EPSG:27700 northing


@dataclass(frozen=True)
class HotspotCell:
    flag_id: str
    h3_cell: str
    score: float
    geometry: Any  # shapely Polygon, EPSG:27700


@dataclass(frozen=True)
class Lead:
    flag_id: str
    flag_type: str
    score: float
    status: str
    summary: str
    window_start: datetime
    window_end: datetime
    x: float | None
    y: float | None


@dataclass(frozen=True)
class CrimeCount:
    """Crimes of one borough starting on one UTC day, split by whether their time is good to the day."""

    borough: str | None  # None: the point lies in no loaded borough, or the crime has no point
    day: date
    placeable_in_week: bool  # time_precision exact or day; month-stamped (Police UK) crimes are not
    crimes: int


@dataclass(frozen=True)
class BriefingData:
    day: date
    boroughs: list[Area]
    boundary_source: str | None  # what das.boundary_loads says the boroughs came from
    flag_counts: dict[str, int]  # every flag touching the day, by type
    flags_without_location: int
    map_flags: list[MapFlag]  # strongest first, at most MAP_POINTS_LIMIT
    hotspot_cells: list[HotspotCell]
    top_leads: list[Lead]  # strongest first, at most TOP_LEADS
    reads_per_hour: list[int]  # 24 UTC hours
    cameras_reporting: int
    crime_counts: list[CrimeCount]
    crimes_from: date  # crime_counts covers occurred_from in [crimes_from, crimes_to)
    crimes_to: date


def day_bounds_utc(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def load_briefing_data(settings: Settings, day: date, *, crimes_from: date, crimes_to: date) -> BriefingData:
    """The day's briefing data in one read-only transaction (one consistent snapshot of every table)."""
    import shapely

    day_start, day_end = day_bounds_utc(day)
    window = {"day_start": day_start, "day_end": day_end}
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cur.execute(
            "SELECT name, ST_AsBinary(ST_Transform(geom, %s)) FROM das.boroughs WHERE geom IS NOT NULL ORDER BY name",
            (MAP_SRID,),
        )
        boroughs = [Area(name, shapely.from_wkb(bytes(wkb))) for name, wkb in cur.fetchall()]
        cur.execute(
            "SELECT source, bundled, loaded_at FROM das.boundary_loads WHERE kind = 'borough'",
        )
        load = cur.fetchone()
        boundary_source = None
        if load is not None:
            source, bundled, loaded_at = load
            boundary_source = f"{source} ({'the bundled sample' if bundled else 'loaded'} {loaded_at:%Y-%m-%d})"

        cur.execute(f"SELECT f.flag_type, count(*) FROM das.flags AS f WHERE {_TOUCHES_DAY} GROUP BY 1", window)
        flag_counts = {flag_type: int(n) for flag_type, n in cur.fetchall()}
        cur.execute(f"SELECT count(*) FROM das.flags AS f WHERE {_TOUCHES_DAY} AND f.geom IS NULL", window)
        without_location = int(_one(cur))
        cur.execute(
            "SELECT f.flag_id, f.flag_type, f.score, ST_X(p), ST_Y(p) "
            "FROM das.flags AS f, ST_Transform(f.geom, %(srid)s) AS p "
            f"WHERE {_TOUCHES_DAY} AND f.geom IS NOT NULL "
            "ORDER BY f.score DESC, f.flag_type, f.flag_id LIMIT %(limit)s",
            {**window, "srid": MAP_SRID, "limit": MAP_POINTS_LIMIT},
        )
        map_flags = [MapFlag(i, t, float(s), float(x), float(y)) for i, t, s, x, y in cur.fetchall()]
        cur.execute(
            "SELECT f.flag_id, f.h3_cell, f.score, ST_AsBinary(ST_Transform(f.geom, %(srid)s)) "
            f"FROM das.hotspot_cells AS f WHERE {_TOUCHES_DAY} AND f.geom IS NOT NULL "
            "ORDER BY f.score DESC, f.flag_id",
            {**window, "srid": MAP_SRID},
        )
        hotspots = [HotspotCell(i, c, float(s), shapely.from_wkb(bytes(wkb))) for i, c, s, wkb in cur.fetchall()]
        cur.execute(
            "SELECT f.flag_id, f.flag_type, f.score, f.status, f.summary, f.window_start, f.window_end, "
            "ST_X(ST_Transform(f.geom, %(srid)s)), ST_Y(ST_Transform(f.geom, %(srid)s)) "
            f"FROM das.flags AS f WHERE {_TOUCHES_DAY} "
            "ORDER BY f.score DESC, f.flag_type, f.flag_id LIMIT %(limit)s",
            {**window, "srid": MAP_SRID, "limit": TOP_LEADS},
        )
        leads = [
            Lead(str(i), str(t), float(s), str(st), str(summary), ws, we, x, y)
            for i, t, s, st, summary, ws, we, x, y in cur.fetchall()
        ]

        # The partition key bounds the scan to the day's partition.
        cur.execute(
            "SELECT extract(hour FROM r.read_at AT TIME ZONE 'UTC')::int, count(*) FROM das.anpr_reads AS r "
            "WHERE r.read_at >= %(day_start)s AND r.read_at < %(day_end)s GROUP BY 1",
            window,
        )
        reads_per_hour = [0] * 24
        for hour, n in cur.fetchall():
            reads_per_hour[int(hour)] = int(n)
        cur.execute(
            "SELECT count(DISTINCT r.camera_id) FROM das.anpr_reads AS r "
            "WHERE r.read_at >= %(day_start)s AND r.read_at < %(day_end)s",
            window,
        )
        cameras_reporting = int(_one(cur))

        # Each crime counts once, in the first borough (by code) holding its point, boundary points included.
        cur.execute(
            "SELECT b.name, (c.occurred_from AT TIME ZONE 'UTC')::date, c.time_precision = ANY(%(placeable)s), "
            "count(*) FROM das.crimes AS c "
            "LEFT JOIN LATERAL (SELECT name FROM das.boroughs AS b WHERE ST_Intersects(b.geom, c.geom) "
            "ORDER BY b.gss_code LIMIT 1) AS b ON true "
            "WHERE c.occurred_from >= %(from)s AND c.occurred_from < %(to)s GROUP BY 1, 2, 3",
            {
                "placeable": list(WEEK_PLACEABLE_PRECISIONS),
                "from": day_bounds_utc(crimes_from)[0],
                "to": day_bounds_utc(crimes_to)[0],
            },
        )
        crime_counts = [CrimeCount(b, d, bool(p), int(n)) for b, d, p, n in cur.fetchall()]
    return BriefingData(
        day=day,
        boroughs=boroughs,
        boundary_source=boundary_source,
        flag_counts=flag_counts,
        flags_without_location=without_location,
        map_flags=map_flags,
        hotspot_cells=hotspots,
        top_leads=leads,
        reads_per_hour=reads_per_hour,
        cameras_reporting=cameras_reporting,
        crime_counts=crime_counts,
        crimes_from=crimes_from,
        crimes_to=crimes_to,
    )


def _one(cur: Any) -> Any:
    row = cur.fetchone()
    return row[0] if row else 0
