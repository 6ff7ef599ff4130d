"""The daily briefing against a real PostGIS: one Wednesday of cameras, reads, crimes and flags published with the
production publish functions, the bundled borough boundaries, and a day with nothing at all.

Expectations are worked out here from the rows the test publishes (top leads by sorting them, positions with
pyproj), not read back from the code under test.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import h3
import pandas as pd
import pytest
from PIL import Image
from shapely.geometry import Point

from das import postgis
from das.config import Settings
from das.postgis.briefing import load_briefing_data
from jobs.briefing import crime_window, write_briefing
from schemas.tables import SILVER_ANPR_READS, SILVER_CAMERAS, SILVER_CRIMES
from tests.integration.das.test_postgis import (
    ORIGIN_E,
    ORIGIN_LAT,
    ORIGIN_LON,
    at,
    camera_row,
    crime_row,
    flag_row,
    offset,
    read_row,
)
from tests.postgres_fixtures import elsewhere, own_database

pytestmark = pytest.mark.integration

DAY = date(2024, 4, 3)  # a Wednesday; its ISO week (2024-W14) starts on Monday 1 April
NOW = datetime(2024, 4, 4, 6, 30, tzinfo=UTC)  # the morning after: the day is over
EMPTY_DAY = date(2025, 1, 15)
HOSTILE = "Plate <script>alert('x')</script> & \"co\" seen at <b>camera</b>"


def lead(flag_id: str, score: float, summary: str, start: datetime, end: datetime, **overrides: Any) -> dict[str, Any]:
    return {
        **flag_row(flag_id, score, ["r1"]),
        "summary": summary,
        "window_start": start,
        "window_end": end,
        **overrides,
    }


def day_leads() -> list[dict[str, Any]]:
    """Flags whose window touches DAY: twelve located ones, one without a location, an instant at midnight."""
    flags = [
        lead(
            f"day-{i:02d}",
            round(0.95 - 0.05 * i, 2),
            HOSTILE if i == 1 else f"day lead {i:02d}",
            at(DAY, 8, i),
            at(DAY, 8, i + 5),
            flag_type="cloned_plate" if i % 3 == 0 else "hotlist_hit",
            **{k: v for k, v in offset(200 * i, 100 * i).items() if k in ("longitude", "latitude")},
        )
        for i in range(12)
    ]
    flags.append(
        lead("nowhere", 0.43, "day lead without a location", at(DAY, 12), at(DAY, 13), longitude=None, latitude=None)
    )
    flags.append(lead("midnight", 0.37, "day lead at midnight", at(DAY, 0), at(DAY, 0), flag_type="convoy"))
    return flags


@pytest.fixture(scope="module")
def db(pg_settings: Settings) -> Iterator[Settings]:
    """A migrated database with the bundled boroughs and one week of activity around DAY."""
    with own_database(pg_settings, "das_briefing_test") as settings:
        cameras = [camera_row("C1", 0, 0), camera_row("C2", 3000, 0)]
        postgis.publish_replace(settings, SILVER_CAMERAS, pd.DataFrame(cameras))
        reads = [read_row(f"r-{i}", "C1", at(DAY, 8, 8 * i), 0, 0) for i in range(5)]
        reads += [read_row(f"r-e{i}", "C2", at(DAY, 17, 10 * i), 3000, 0, plate="XY99ZZZ") for i in range(3)]
        postgis.publish_day_partition(settings, SILVER_ANPR_READS, pd.DataFrame(reads), DAY)
        before, after = DAY - timedelta(days=1), DAY + timedelta(days=1)  # neighbouring days are not DAY's
        postgis.publish_day_partition(
            settings, SILVER_ANPR_READS, pd.DataFrame([read_row("r-b", "C1", at(before, 23, 59), 0, 0)]), before
        )
        postgis.publish_day_partition(
            settings, SILVER_ANPR_READS, pd.DataFrame([read_row("r-a", "C1", at(after, 0), 0, 0)]), after
        )
        monday = DAY - timedelta(days=DAY.weekday())
        crimes = [
            crime_row("now-1", at(monday, 9), 0, 0),
            crime_row("now-2", at(monday, 10), 10, 0),
            crime_row("now-3", at(DAY, 10), 20, 0),  # on the day
            *(crime_row(f"later-{i}", at(DAY + timedelta(days=1), 9), 0, 0) for i in range(4)),  # after the day
            *(crime_row(f"base-{k}", at(monday - timedelta(weeks=k), 9), 0, 0) for k in range(1, 5)),
            crime_row("month-1", datetime(2024, 3, 1, tzinfo=UTC), 0, 0, time_precision="month", occurred_to=None),
        ]
        postgis.publish_replace(settings, SILVER_CRIMES, pd.DataFrame(crimes))
        cell = h3.latlng_to_cell(ORIGIN_LAT, ORIGIN_LON, settings.h3_resolution)
        cell_lat, cell_lon = h3.cell_to_latlng(cell)
        hotspot = lead(
            "hotspot-1",
            0.41,
            f"Emerging crime hotspot in H3 cell {cell}",
            datetime(2024, 4, 1, tzinfo=UTC),
            datetime(2024, 4, 8, tzinfo=UTC),
            flag_type="emerging_hotspot",
            subject=cell,
            longitude=cell_lon,
            latitude=cell_lat,
            evidence=[
                {
                    "kind": "cell",
                    "ref_id": cell,
                    "camera_id": None,
                    "plate": None,
                    "at": datetime(2024, 4, 1, tzinfo=UTC),
                    "longitude": cell_lon,
                    "latitude": cell_lat,
                    "detail": "cell",
                }
            ],
        )
        elsewhere = [
            lead(
                "other-day",
                0.99,
                "a lead of another day",
                at(DAY + timedelta(days=7), 8),
                at(DAY + timedelta(days=7), 9),
            ),
            lead("ended-at-midnight", 0.98, "a lead that ended as the day began", at(before, 20), at(DAY, 0)),
        ]
        postgis.publish_flags(settings, pd.DataFrame([*day_leads(), hotspot, *elsewhere]))
        yield settings


def assert_png(path: Path) -> None:
    assert path.is_file(), f"{path.name} is referenced by the page but missing"
    assert path.stat().st_size > 8_000, f"{path.name} is only {path.stat().st_size} bytes"
    with Image.open(path) as image:
        assert image.format == "PNG"
        width, height = image.size
        image.verify()
    assert width >= 1000 and height >= 300, (path.name, width, height)


def images_of(index: Path) -> list[str]:
    names = re.findall(r'<img src="([^"]+)"', index.read_text())
    assert len(names) == 3, names
    return names


def test_the_day_is_read_from_postgis_as_published(db: Settings) -> None:
    data = load_briefing_data(db, DAY, crimes_from=crime_window(DAY)[0], crimes_to=crime_window(DAY)[1])
    assert data.reads_per_hour[8] == 5 and data.reads_per_hour[17] == 3 and sum(data.reads_per_hour) == 8
    assert data.cameras_reporting == 2
    assert data.flag_counts == {"hotlist_hit": 9, "cloned_plate": 4, "convoy": 1, "emerging_hotspot": 1}
    assert data.flags_without_location == 1
    assert len(data.boroughs) == 33 and "Westminster" in {b.name for b in data.boroughs}
    assert data.boundary_source is not None and data.boundary_source.startswith("london_boroughs_simplified")
    strongest = next(f for f in data.map_flags if f.flag_id == "day-00")
    assert abs(strongest.x - ORIGIN_E) < 1.0  # EPSG:27700 metres, as pyproj puts the origin
    (cell,) = data.hotspot_cells
    assert cell.geometry.buffer(1.0).contains(Point(offset(0, 0)["easting"], offset(0, 0)["northing"]))
    per_day = {(c.borough, c.day, c.placeable_in_week): c.crimes for c in data.crime_counts}
    assert per_day[("Westminster", DAY - timedelta(days=2), True)] == 2
    assert per_day[("Westminster", date(2024, 3, 1), False)] == 1


def test_the_briefing_page_shows_the_top_leads_escaped_and_every_figure(db: Settings, tmp_path: Path) -> None:
    index = write_briefing(db, DAY, tmp_path / "briefing", now=NOW)
    assert index == tmp_path / "briefing" / "index.html" and index.is_file()
    page = index.read_text()

    touching = [*day_leads(), {"summary": "Emerging crime hotspot in H3 cell", "score": 0.41}]
    ranked = sorted(touching, key=lambda f: -f["score"])
    for flag in ranked[:10]:
        assert html.escape(flag["summary"]) in page, flag["summary"]
    for flag in ranked[10:]:
        assert html.escape(flag["summary"]) not in page, flag["summary"]
    assert "a lead of another day" not in page and "ended as the day began" not in page
    assert "Plate &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;co&quot;" in page
    assert "<script" not in page and "<b>camera</b>" not in page

    assert re.search(r"<h2>Flags</h2><p class=\"big\">15</p>", page)
    assert "8 ANPR reads from 2 cameras on 2024-04-03" in page and "busiest hour was 08:00 (5)" in page
    assert "ISO week 2024-W14 to date" in page and "Left out: 1 month-stamped crime" in page
    assert "<td>Westminster</td><td class='num'>3</td><td class='num'>1.0</td>" in page
    assert "week to date · 1 on the day" in page
    assert "1 flag has no location and is not on the map" in page
    for name in images_of(index):
        assert_png(index.parent / name)


def test_a_day_with_no_data_writes_a_page_that_says_so(db: Settings, tmp_path: Path) -> None:
    index = write_briefing(db, EMPTY_DAY, tmp_path, now=NOW)
    page = index.read_text()
    assert "No ANPR reads on this day" in page
    assert "No flag's window touches this day" in page
    assert "No crimes recorded" in page
    assert "0 flags and 0 emerging hotspot cells whose window touches 2025-01-15 (UTC), over 33 boroughs" in page
    for name in images_of(index):
        assert_png(index.parent / name)


def test_the_default_folder_is_das_home_reports_the_date(db: Settings, tmp_path: Path) -> None:
    settings = elsewhere(db, tmp_path / "home")
    index = write_briefing(settings, EMPTY_DAY, now=NOW)
    assert index == settings.home_abs / "reports" / "2025-01-15" / "index.html" and index.is_file()
