"""The daily briefing's pure parts: the crime comparison, the figures' honest empty states, and the escaped page."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image
from shapely.geometry import MultiPolygon, Polygon, box

from das.config import Settings
from das.postgis.briefing import Area, BriefingData, CrimeCount, HotspotCell, Lead, MapFlag
from jobs.briefing import (
    BriefingPage,
    FigureFile,
    compare_crimes,
    crime_window,
    default_out,
    draw_map,
    draw_reads_per_hour,
    format_window,
    lead_labels,
    render_briefing,
    render_html,
)

WEDNESDAY = date(2026, 12, 2)  # its ISO week starts on Monday 30 November


def placed(borough: str | None, day: date, crimes: int = 1) -> CrimeCount:
    return CrimeCount(borough, day, True, crimes)


def month_stamped(borough: str | None, month_start: date, crimes: int) -> CrimeCount:
    return CrimeCount(borough, month_start, False, crimes)


def nov(day: int) -> date:
    return date(2026, 11, day)


WEEKLY = [
    # the report's week to date, Monday 30 Nov to Wednesday 2 Dec
    placed("Westminster", nov(30), 2),
    placed("Westminster", WEDNESDAY),
    placed("Camden", date(2026, 12, 1)),
    placed("Westminster", date(2026, 12, 3), 5),  # after the day: not in the briefing
    # the same days of the four weeks before
    placed("Westminster", nov(23), 2),
    placed("Westminster", nov(26), 7),  # a Thursday: outside Monday-to-Wednesday
    placed("Westminster", nov(16)),
    placed("Camden", nov(18)),
    placed("Westminster", nov(11)),
    placed("Camden", nov(2), 2),
    month_stamped("Westminster", nov(1), 3),  # Police UK: a month only, no week
]


def test_a_weekly_comparison_takes_the_week_to_date_against_the_same_days_of_four_weeks_before() -> None:
    comparison = compare_crimes(WEEKLY, WEDNESDAY)
    assert comparison.granularity == "week"
    got = {r.borough: (r.current, r.baseline_mean) for r in comparison.rows}
    assert got == {"Westminster": (3, (2 + 1 + 1 + 0) / 4), "Camden": (1, (0 + 1 + 0 + 2) / 4)}
    assert [r.borough for r in comparison.rows] == ["Westminster", "Camden"]  # most crimes first
    westminster = comparison.rows[0]
    assert westminster.change == pytest.approx(2.0) and westminster.change_percent == pytest.approx(200.0)
    assert comparison.current_total == 4 and comparison.crimes_on_day == 1
    assert comparison.left_out == 3 and comparison.baseline_periods == 4
    caption = comparison.caption
    assert "Mon 30 Nov – Wed 2 Dec 2026 (ISO week 2026-W49 to date)" in caption
    assert "same days in the 4 previous weeks" in caption
    assert "Left out: 3 month-stamped crimes of these months" in caption


def test_a_week_without_any_crime_is_left_out_of_the_mean_not_counted_as_zero() -> None:
    counts = [c for c in WEEKLY if c.day != nov(11)]  # the third week before holds nothing now
    comparison = compare_crimes(counts, WEDNESDAY)
    got = {r.borough: r.baseline_mean for r in comparison.rows}
    assert got == {"Westminster": pytest.approx((2 + 1 + 0) / 3), "Camden": pytest.approx((0 + 1 + 2) / 3)}
    assert comparison.baseline_periods == 3 and comparison.empty_baseline_periods == 1
    assert "3 previous weeks" in comparison.caption
    assert "1 of the 4 weeks before hold no crime anywhere (not loaded)" in comparison.caption


def test_month_stamped_crimes_are_compared_by_month_against_the_four_months_before() -> None:
    counts = [
        month_stamped("Westminster", date(2026, 12, 1), 10),
        month_stamped("Westminster", nov(1), 6),
        month_stamped("Westminster", date(2026, 10, 1), 8),
        month_stamped("Westminster", date(2026, 9, 1), 4),
        month_stamped("Westminster", date(2026, 8, 1), 6),
        month_stamped("Westminster", date(2026, 7, 1), 100),  # five months before: not in the baseline
        month_stamped(None, date(2026, 12, 1), 2),  # no point, or outside every borough
        placed("Camden", nov(30)),  # a lone dated crime does not make the comparison weekly
    ]
    comparison = compare_crimes(counts, WEDNESDAY)
    assert comparison.granularity == "month"
    westminster = next(r for r in comparison.rows if r.borough == "Westminster")
    assert (westminster.current, westminster.baseline_mean) == (10, 6.0)
    assert westminster.change_percent == pytest.approx(100 * 4 / 6)
    unplaced = next(r for r in comparison.rows if r.borough.startswith("no borough"))
    assert unplaced.current == 2
    assert comparison.current_label == "December 2026" and comparison.left_out == 0
    assert "monthly mean of the 4 previous months (Nov 2026, Oct 2026, Sep 2026, Aug 2026)" in comparison.caption
    assert "Police UK" in comparison.caption


def test_a_month_not_published_yet_is_not_shown_as_a_fall() -> None:
    counts = [month_stamped("Westminster", nov(1), 6), month_stamped("Westminster", date(2026, 10, 1), 8)]
    comparison = compare_crimes(counts, WEDNESDAY)
    assert comparison.granularity == "month" and comparison.current_total == 0
    assert comparison.baseline_periods == 2 and comparison.rows[0].baseline_mean == 7.0
    assert "No crime is recorded yet for December 2026: not loaded yet (Police UK publishes" in comparison.caption


def test_no_crimes_at_all_is_said_plainly() -> None:
    comparison = compare_crimes([], WEDNESDAY)
    assert comparison.granularity is None and comparison.rows == []
    assert comparison.caption.startswith("No crimes recorded")


def test_crime_window_covers_the_baseline_months_and_wraps_the_year() -> None:
    assert crime_window(WEDNESDAY) == (date(2026, 8, 1), date(2027, 1, 1))
    assert crime_window(date(2027, 1, 15)) == (date(2026, 9, 1), date(2027, 2, 1))


def test_format_window_is_short_within_the_day_and_dated_across_days() -> None:
    at = datetime(2026, 12, 2, 8, 5, tzinfo=UTC)
    assert format_window(at, at, WEDNESDAY) == "08:05"
    assert format_window(at, at + timedelta(minutes=12), WEDNESDAY) == "08:05–08:17"
    midnight = datetime(2026, 12, 3, tzinfo=UTC)
    assert format_window(at, midnight, WEDNESDAY) == "08:05–24:00"
    week = datetime(2026, 11, 30, tzinfo=UTC)
    assert format_window(week, week + timedelta(days=7), WEDNESDAY) == "30 Nov 00:00 – 7 Dec 00:00"


def _png(path: Path) -> tuple[int, int]:
    assert path.stat().st_size > 5_000, f"{path.name} is only {path.stat().st_size} bytes"
    with Image.open(path) as image:
        assert image.format == "PNG"
        return image.size


def test_a_day_without_reads_is_an_honest_panel(tmp_path: Path) -> None:
    figure = draw_reads_per_hour([0] * 24, 0, WEDNESDAY, tmp_path)
    assert figure.alt == "No ANPR reads on this day"
    assert figure.caption.startswith("No ANPR reads on this day")
    assert _png(tmp_path / figure.filename)[0] >= 1000


def test_reads_per_hour_names_the_peak_and_the_hours_still_to_come(tmp_path: Path) -> None:
    hours = [0] * 24
    hours[8], hours[9] = 120, 45
    figure = draw_reads_per_hour(hours, 3, WEDNESDAY, tmp_path, now=datetime(2026, 12, 2, 10, 30, tzinfo=UTC))
    assert "165 ANPR reads from 3 cameras" in figure.caption and "busiest hour was 08:00 (120)" in figure.caption
    assert "hours from 10:00 UTC are still to come" in figure.caption
    assert "No read 00:00–08:00 UTC." in figure.caption  # the hours still to come are not counted as quiet
    hours[20] = 3
    figure = draw_reads_per_hour(hours, 3, WEDNESDAY, tmp_path)
    assert "No read 00:00–08:00, 10:00–20:00, 21:00–24:00 UTC." in figure.caption
    with pytest.raises(ValueError, match="a day has 24"):
        draw_reads_per_hour([1] * 23, 1, WEDNESDAY, tmp_path)


def test_a_hotspot_with_its_cell_is_drawn_as_the_cell_and_no_boroughs_is_said(tmp_path: Path) -> None:
    flags = [
        MapFlag("hit-1", "hotlist_hit", 0.9, 530_000.0, 180_000.0),
        MapFlag("spot-1", "emerging_hotspot", 0.8, 531_000.0, 181_000.0),
    ]
    cell = HotspotCell("spot-1", "88195da49bfffff", 0.8, box(530_800, 180_800, 531_200, 181_200))
    figure = draw_map([], flags, [cell], WEDNESDAY, tmp_path, flags_without_location=2)
    assert figure.caption.startswith("1 flag and 1 emerging hotspot cell")
    assert "No borough boundaries loaded" in figure.caption and "2 flags have no location" in figure.caption
    assert _png(tmp_path / "map.png") == (1200, 1140)


def test_leads_close_together_on_the_map_share_one_label() -> None:
    anchors = [(3, 100.0, 0.0), (1, 0.0, 0.0), (2, 10.0, 0.0), (5, 5.0, 5.0), (4, 1000.0, 0.0)]
    assert lead_labels(anchors, radius=20.0) == [("1–2, 5", 0.0, 0.0), ("3", 100.0, 0.0), ("4", 1000.0, 0.0)]


def _lead(summary: str, flag_id: str = "f-1", score: float = 0.9) -> Lead:
    at = datetime(2026, 12, 2, 8, tzinfo=UTC)
    return Lead(flag_id, "hotlist_hit", score, "new", summary, at, at, 530_000.0, 180_000.0)


def _page(leads: list[Lead], counts: list[CrimeCount]) -> BriefingPage:
    figures = {
        k: FigureFile(f"{k}.png", f"{k} & <alt>", f"{k} caption <b>", 100, 50) for k in ("map", "reads", "crimes")
    }
    return BriefingPage(
        day=WEDNESDAY,
        generated_at=datetime(2026, 12, 2, 21, 56, tzinfo=UTC),
        flag_counts={"hotlist_hit": len(leads)},
        reads=0,
        cameras_reporting=0,
        crimes=compare_crimes(counts, WEDNESDAY),
        leads=leads,
        figures=figures,
        boundary_source="boroughs<2026>.gpkg",
        sources=["Borough boundaries from <evil>.gpkg"],
    )


def test_every_text_on_the_page_is_escaped_and_the_page_has_no_script() -> None:
    hostile = "Plate <script>alert('x')</script> & \"friends\" near <img src=x onerror=y>"
    page = render_html(_page([_lead(hostile, flag_id="<id>")], WEEKLY))
    assert "Plate &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;friends&quot;" in page
    assert "&lt;img src=x onerror=y&gt;" in page
    assert "das flag show &lt;id&gt;" in page
    assert 'alt="map &amp; &lt;alt&gt;"' in page and "map caption &lt;b&gt;" in page
    assert "Borough boundaries from &lt;evil&gt;.gpkg" in page
    assert "<script" not in page.lower() and "onerror=" not in page.replace("onerror=y&gt;", "")
    # self-contained: no stylesheet, font, image or script from anywhere else
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page) and "@import" not in page
    assert re.findall(r'<img src="([^"]+)"', page) == ["map.png", "reads.png", "crimes.png"]


def test_an_empty_day_says_so_in_every_section(tmp_path: Path) -> None:
    data = BriefingData(
        day=WEDNESDAY,
        boroughs=[],
        boundary_source=None,
        flag_counts={},
        flags_without_location=0,
        map_flags=[],
        hotspot_cells=[],
        top_leads=[],
        reads_per_hour=[0] * 24,
        cameras_reporting=0,
        crime_counts=[],
        crimes_from=date(2026, 8, 1),
        crimes_to=date(2027, 1, 1),
    )
    index = render_briefing(data, tmp_path / "out", generated_at=datetime(2026, 12, 2, 22, tzinfo=UTC))
    page = index.read_text()
    assert "No ANPR reads on this day" in page
    assert "No flag's window touches this day" in page
    assert "No crimes recorded" in page
    assert "No borough boundaries loaded" in page
    for name in re.findall(r'<img src="([^"]+)"', page):
        _png(index.parent / name)


def test_the_page_with_boroughs_and_leads_numbers_them_and_lists_them_strongest_first(tmp_path: Path) -> None:
    square = MultiPolygon([Polygon([(525_000, 175_000), (535_000, 175_000), (535_000, 185_000), (525_000, 185_000)])])
    leads = [_lead(f"lead number {i}", flag_id=f"f-{i}", score=1 - i / 20) for i in range(3)]
    data = BriefingData(
        day=WEDNESDAY,
        boroughs=[Area("Westminster", square)],
        boundary_source="london_boroughs_simplified.geojson (the bundled sample 2026-12-02)",
        flag_counts={"hotlist_hit": 3},
        flags_without_location=0,
        map_flags=[
            MapFlag(x.flag_id, x.flag_type, x.score, 530_000.0 + i * 500, 180_000.0) for i, x in enumerate(leads)
        ],
        hotspot_cells=[],
        top_leads=leads,
        reads_per_hour=[10] * 24,
        cameras_reporting=2,
        crime_counts=WEEKLY,
        crimes_from=date(2026, 8, 1),
        crimes_to=date(2027, 1, 1),
    )
    page = render_briefing(data, tmp_path, generated_at=datetime(2026, 12, 3, 7, tzinfo=UTC)).read_text()
    positions = [page.index(f"lead number {i}") for i in range(3)]
    assert positions == sorted(positions)
    assert "240 ANPR reads from 2 cameras" in page and "No read" not in page
    assert "3 flags and 0 emerging hotspot cells" in page and "over 1 borough." in page
    assert "london_boroughs_simplified.geojson" in page and "generated 2026-12-03 07:00 UTC" in page


def test_default_out_is_under_das_home_reports(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    assert default_out(settings, WEDNESDAY) == settings.home_abs / "reports" / "2026-12-02"


def test_out_that_is_a_file_is_refused_naming_the_fix(tmp_path: Path) -> None:
    from das.errors import DasError

    taken = tmp_path / "taken"
    taken.write_text("")
    data = BriefingData(WEDNESDAY, [], None, {}, 0, [], [], [], [0] * 24, 0, [], WEDNESDAY, WEDNESDAY)
    with pytest.raises(DasError, match="is a file; give a folder"):
        render_briefing(data, taken, generated_at=datetime(2026, 12, 2, tzinfo=UTC))
