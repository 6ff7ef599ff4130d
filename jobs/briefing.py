"""The daily briefing (``das report``): one UTC day on one static page, for the duty inspector over coffee.

``write_briefing`` reads the day from PostGIS (``das.postgis.briefing``) and writes ``index.html`` with its PNG
figures beside it. Everything else here is pure, unit-tested on tiny inputs: the crime comparison, the figures
(matplotlib through the Agg canvas, no pyplot state) and the HTML, every text in it escaped. The page is
self-contained: inline CSS, relative image paths, no script, no network.
"""

from __future__ import annotations

import html
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

from das.config import Settings
from das.errors import DasError
from das.postgis.briefing import (
    MAP_POINTS_LIMIT,
    Area,
    BriefingData,
    CrimeCount,
    HotspotCell,
    Lead,
    MapFlag,
    load_briefing_data,
)
from schemas.tables import FLAG_TYPES

BASELINE_PERIODS = 4  # the comparison's baseline: this many weeks (or months) before the report's
CHART_BOROUGHS = 15  # boroughs drawn on the crime chart; the rest are counted in its caption
NO_BOROUGH = "no borough (outside the boundaries or no point)"
DPI = 150
INK, MUTED, ACCENT, PAPER = "#1f2933", "#7b8794", "#1d4e89", "#ffffff"
HOTSPOT_FILL, HOTSPOT_EDGE = "#f08c2e", "#a84300"
_STYLES = [
    ("#d62728", "o"),
    ("#9467bd", "D"),
    ("#1f77b4", "s"),
    ("#2ca02c", "^"),
    ("#8c564b", "v"),
    (HOTSPOT_EDGE, "h"),
    ("#52606d", "X"),
    ("#e377c2", "P"),
]
# One colour and marker per flag type, fixed so a type looks the same every day (markers keep them apart in grey).
FLAG_STYLES = {flag_type: _STYLES[i % len(_STYLES)] for i, flag_type in enumerate(FLAG_TYPES)}
OTHER_STYLE = ("#3e4c59", "*")

Granularity = Literal["week", "month"]


# ------------------------------------------------------------------------------------------------
# Crimes per borough: the period of the report against the periods before it


@dataclass(frozen=True)
class BoroughCrimes:
    borough: str
    current: int
    baseline_mean: float | None  # None: no baseline period holds any crime (not loaded)

    @property
    def change(self) -> float | None:
        return None if self.baseline_mean is None else self.current - self.baseline_mean

    @property
    def change_percent(self) -> float | None:
        if self.baseline_mean is None or self.baseline_mean == 0:
            return None
        return 100.0 * (self.current - self.baseline_mean) / self.baseline_mean


@dataclass(frozen=True)
class CrimeComparison:
    granularity: Granularity | None  # None: no crimes at all around the day
    current_label: str
    baseline_label: str
    rows: list[BoroughCrimes]  # most crimes first
    baseline_periods: int  # periods before the report's that hold crimes (the mean is over these)
    empty_baseline_periods: int  # of the BASELINE_PERIODS, those holding no crime anywhere: not loaded
    left_out: int  # month-stamped crimes a weekly comparison cannot place
    crimes_on_day: int  # crimes timed to the day or better that started on the day

    @property
    def current_total(self) -> int:
        return sum(r.current for r in self.rows)

    @property
    def caption(self) -> str:
        if self.granularity is None:
            return (
                f"No crimes recorded in the {BASELINE_PERIODS} months before the day or in its own month: "
                "nothing to compare (are crimes ingested?)."
            )
        if self.granularity == "week":
            compared = f"Crimes per borough in {self.current_label}, against the mean of the same days in "
        else:
            compared = f"Crimes per borough in {self.current_label}, against the monthly mean of "
        if self.baseline_periods == 0:
            compared = (
                f"Crimes per borough in {self.current_label}. No {self.granularity} of the "
                f"{BASELINE_PERIODS} before holds a crime (not loaded), so there is no baseline to compare with."
            )
        else:
            compared += f"{self.baseline_label}."
            if self.empty_baseline_periods:
                compared += (
                    f" {self.empty_baseline_periods} of the {BASELINE_PERIODS} {self.granularity}s before hold no "
                    "crime anywhere (not loaded) and are left out of the mean."
                )
        how = " Counted by when each crime started (UTC) and the borough holding its point."
        if self.granularity == "month":
            why = (
                " Most crimes here are stamped with their month only (Police UK publishes them so), "
                "so whole months are compared, not weeks."
            )
        else:
            why = (
                f" Left out: {_count(self.left_out, 'month-stamped crime')} of these months, which no week can hold."
                if self.left_out
                else ""
            )
        if self.current_total == 0 and self.baseline_periods:
            lag = " (Police UK publishes a month weeks after it ends)" if self.granularity == "month" else ""
            why += f" No crime is recorded yet for {self.current_label}: not loaded yet{lag}, not a fall."
        return compared + how + why


def crime_window(day: date) -> tuple[date, date]:
    """The crimes a comparison for ``day`` may need: the months before it through the end of its own month."""
    first = day.replace(day=1)
    return _add_months(first, -BASELINE_PERIODS), _add_months(first, 1)


def compare_crimes(counts: Iterable[CrimeCount], day: date) -> CrimeComparison:
    """Crimes per borough in the report's period against the mean of the ``BASELINE_PERIODS`` before.

    Weekly when most crimes around the day are timed to the day or better: the ISO week up to and including the
    day (Monday to the day) against the same days of the weeks before, so a Wednesday's briefing never compares
    three days with seven. Monthly otherwise (Police UK crimes carry their month only): the day's calendar month
    against whole months before. A period in which no borough has any crime is taken as not loaded and left out
    of the mean rather than counted as zero.
    """
    counts = list(counts)
    monday = day - timedelta(days=day.weekday())
    week_span = (monday - timedelta(weeks=BASELINE_PERIODS), day + timedelta(days=1))
    months_of_week_span = (week_span[0].replace(day=1), _add_months(day.replace(day=1), 1))
    placeable = sum(c.crimes for c in counts if c.placeable_in_week and _within(c.day, week_span))
    month_stamped = sum(c.crimes for c in counts if not c.placeable_in_week and _within(c.day, months_of_week_span))
    on_day = sum(c.crimes for c in counts if c.placeable_in_week and c.day == day)

    if placeable and placeable >= month_stamped:
        granularity: Granularity = "week"
        current = (monday, day + timedelta(days=1))
        before = [
            (current[0] - timedelta(weeks=k), current[1] - timedelta(weeks=k)) for k in range(1, BASELINE_PERIODS + 1)
        ]
        usable = [c for c in counts if c.placeable_in_week]
        left_out = month_stamped
        current_label = f"{_day_span(*current)} (ISO week {day.isocalendar()[0]}-W{day.isocalendar()[1]:02d} to date)"
    else:
        first = day.replace(day=1)
        current = (first, _add_months(first, 1))
        before = [(_add_months(first, -k), _add_months(first, 1 - k)) for k in range(1, BASELINE_PERIODS + 1)]
        usable = counts
        left_out = 0
        current_label = f"{first:%B %Y}"
        if not any(_within(c.day, (before[-1][0], current[1])) for c in usable):
            return CrimeComparison(None, current_label, "", [], 0, BASELINE_PERIODS, 0, on_day)
        granularity = "month"

    now_per_borough = _per_borough(usable, current)
    per_period = [_per_borough(usable, span) for span in before]
    loaded = [p for p in per_period if sum(p.values())]
    boroughs = set(now_per_borough).union(*loaded)
    rows = [
        BoroughCrimes(
            borough=b,
            current=now_per_borough.get(b, 0),
            baseline_mean=sum(p.get(b, 0) for p in loaded) / len(loaded) if loaded else None,
        )
        for b in boroughs
    ]
    rows.sort(key=lambda r: (-r.current, -(r.baseline_mean or 0), r.borough))
    spans = [span for span, p in zip(before, per_period, strict=True) if sum(p.values())]
    if granularity == "week":
        baseline_label = f"the {_count(len(spans), 'previous week')} ({', '.join(_day_span(*s) for s in spans)})"
    else:
        baseline_label = f"the {_count(len(spans), 'previous month')} ({', '.join(f'{s[0]:%b %Y}' for s in spans)})"
    return CrimeComparison(
        granularity,
        current_label,
        baseline_label,
        rows,
        baseline_periods=len(loaded),
        empty_baseline_periods=BASELINE_PERIODS - len(loaded),
        left_out=left_out,
        crimes_on_day=on_day,
    )


def _per_borough(counts: Iterable[CrimeCount], span: tuple[date, date]) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for c in counts:
        if _within(c.day, span):
            totals[c.borough or NO_BOROUGH] += c.crimes
    return dict(totals)


def _within(day: date, span: tuple[date, date]) -> bool:
    return span[0] <= day < span[1]


def _add_months(first_of_month: date, months: int) -> date:
    index = first_of_month.year * 12 + first_of_month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _day_span(start: date, end_exclusive: date) -> str:
    last = end_exclusive - timedelta(days=1)
    if last == start:
        return f"{start:%a} {start.day} {start:%b %Y}"
    return f"{start:%a} {start.day} {start:%b} – {last:%a} {last.day} {last:%b %Y}"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


# ------------------------------------------------------------------------------------------------
# Figures: PNG files through matplotlib's Agg canvas


@dataclass(frozen=True)
class FigureFile:
    filename: str  # relative to the page
    alt: str
    caption: str
    width_px: int
    height_px: int


def _figure(width_in: float, height_in: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_in, height_in), dpi=DPI, facecolor=PAPER)
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Any, out: Path, filename: str, alt: str, caption: str) -> FigureFile:
    path = out / filename
    figure.savefig(path, dpi=DPI, facecolor=PAPER)
    from PIL import Image

    with Image.open(path) as image:
        width, height = image.size
    return FigureFile(filename, alt, caption, width, height)


def _note_panel(axes: Any, headline: str, detail: str) -> None:
    axes.set_axis_off()
    axes.text(0.5, 0.56, headline, ha="center", va="center", fontsize=15, color=INK, weight="bold")
    axes.text(0.5, 0.40, detail, ha="center", va="center", fontsize=9, color=MUTED, wrap=True)


def draw_reads_per_hour(
    reads_per_hour: Sequence[int], cameras_reporting: int, day: date, out: Path, *, now: datetime | None = None
) -> FigureFile:
    """Bars of ANPR reads per UTC hour; a day without reads is an honest panel saying so, not an empty chart."""
    if len(reads_per_hour) != 24:
        raise ValueError(f"reads_per_hour has {len(reads_per_hour)} hours; a day has 24 (UTC)")
    total = sum(reads_per_hour)
    figure = _figure(8, 3.4)
    axes = figure.add_axes((0.1, 0.14, 0.88, 0.7))
    title = f"ANPR reads per hour, {day:%a} {day.day} {day:%b %Y} (UTC)"
    figure.suptitle(title, x=0.02, ha="left", fontsize=12, color=INK, weight="bold")
    if total == 0:
        _note_panel(
            axes,
            "No ANPR reads on this day",
            f"das.anpr_reads holds no read between 00:00 and 24:00 UTC on {day.isoformat()}: "
            "a feed outage, or the day is not ingested yet.",
        )
        caption = f"No ANPR reads on this day ({day.isoformat()}, UTC): nothing to chart."
        return _save(figure, out, "reads_per_hour.png", "No ANPR reads on this day", caption)
    hours = list(range(24))
    peak = max(hours, key=lambda h: (reads_per_hour[h], -h))
    colours = [ACCENT if h != peak else "#c2410c" for h in hours]
    axes.bar(hours, reads_per_hour, width=0.8, color=colours, zorder=2)
    axes.set_xticks(range(0, 24, 2), [f"{h:02d}:00" for h in range(0, 24, 2)], fontsize=8)
    axes.set_xlim(-0.6, 23.6)
    axes.set_ylim(0, max(reads_per_hour) * 1.15)  # room for the peak's label
    axes.tick_params(axis="y", labelsize=8)
    axes.yaxis.set_major_formatter(_thousands())
    axes.set_ylabel("reads", fontsize=9, color=MUTED)
    axes.grid(axis="y", color="#e4e7eb", zorder=0)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.annotate(
        f"peak {peak:02d}:00 – {reads_per_hour[peak]:,}",
        (peak, reads_per_hour[peak]),
        xytext=(0, 4),
        textcoords="offset points",
        ha="center",
        fontsize=8,
        color="#c2410c",
    )
    caption = (
        f"{total:,} ANPR reads from {_count(cameras_reporting, 'camera')} on {day.isoformat()}, per UTC hour; "
        f"the busiest hour was {peak:02d}:00 ({reads_per_hour[peak]:,})."
    )
    # On the day itself the hours still to come are not quiet hours: say so rather than show a fall in traffic.
    hours_over = 24
    if now is not None and now.astimezone(UTC).date() == day:
        hours_over = now.astimezone(UTC).hour
        caption += f" The day is not over: the hours from {hours_over:02d}:00 UTC are still to come."
    quiet = [h for h in range(hours_over) if reads_per_hour[h] == 0]
    if quiet:
        caption += f" No read {_runs(quiet, lambda h: f'{h:02d}:00', ', ', end_exclusive=True)} UTC."
    return _save(figure, out, "reads_per_hour.png", f"Bar chart of {total:,} ANPR reads per UTC hour", caption)


def draw_crime_comparison(comparison: CrimeComparison, out: Path) -> FigureFile:
    """Horizontal bars per borough: the report's period, with the baseline mean beside it."""
    shown = comparison.rows[:CHART_BOROUGHS]
    top_in, bottom_in = 0.8, 0.55  # title and legend above, the axis label below
    height = top_in + bottom_in + 0.3 * max(len(shown), 3)
    figure = _figure(8, height)
    axes = figure.add_axes((0.3, bottom_in / height, 0.66, 1 - (top_in + bottom_in) / height))
    figure.suptitle("Crimes per borough", x=0.02, ha="left", fontsize=12, color=INK, weight="bold")
    filename = "crimes_per_borough.png"
    if comparison.granularity is None or not shown:
        _note_panel(axes, "No crimes to compare", comparison.caption)
        return _save(figure, out, filename, "No crimes to compare", comparison.caption)
    positions = list(range(len(shown)))[::-1]  # most crimes at the top
    current_label = "this week to date" if comparison.granularity == "week" else "this month"
    axes.barh([p + 0.19 for p in positions], [r.current for r in shown], height=0.38, color=ACCENT, label=current_label)
    if comparison.baseline_periods:
        baseline_label = f"mean of {_count(comparison.baseline_periods, comparison.granularity)} before"
        axes.barh(
            [p - 0.19 for p in positions],
            [r.baseline_mean or 0 for r in shown],
            height=0.38,
            color="#bcccdc",
            label=baseline_label,
        )
    for p, row in zip(positions, shown, strict=True):
        change = row.change
        if change is None:
            continue
        text = f"{change:+.1f}" + (f" ({row.change_percent:+.0f}%)" if row.change_percent is not None else "")
        colour = "#b91c1c" if change > 0 else "#15803d" if change < 0 else MUTED
        axes.annotate(
            text,
            (max(row.current, row.baseline_mean or 0), p),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=7,
            color=colour,
        )
    axes.set_yticks(positions, [_short(r.borough, 34) for r in shown], fontsize=8)
    axes.set_ylim(-0.6, len(shown) - 0.4)
    axes.tick_params(axis="x", labelsize=8)
    axes.set_xlabel("crimes", fontsize=9, color=MUTED)
    axes.grid(axis="x", color="#e4e7eb")
    axes.set_axisbelow(True)
    widest = max(max(r.current, r.baseline_mean or 0) for r in shown)
    axes.set_xlim(0, max(widest * 1.25, 1))
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2, fontsize=8, frameon=False)
    caption = comparison.caption
    hidden = len(comparison.rows) - len(shown)
    if hidden:
        caption += f" The chart shows the {len(shown)} boroughs with most crimes; {hidden} more are not drawn."
    alt = f"Bar chart of crimes per borough, {comparison.current_label}, against the baseline"
    return _save(figure, out, filename, alt, caption)


def draw_map(
    boroughs: Sequence[Area],
    flags: Sequence[MapFlag],
    hotspots: Sequence[HotspotCell],
    day: date,
    out: Path,
    *,
    numbered: dict[str, int] | None = None,
    flags_without_location: int = 0,
    flags_total: int | None = None,
) -> FigureFile:
    """The day's flags as points (colour and marker by type) and hotspot cells as polygons, over the boroughs.

    Coordinates are British National Grid metres, so the scale bar is exact. ``numbered`` maps flag ids to their
    rank in the top-leads table, drawn beside their points. Without boroughs the points are drawn alone, with a note.
    """
    from matplotlib.colors import to_rgba
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    figure = _figure(8, 7.6)
    axes = figure.add_axes((0.02, 0.15, 0.96, 0.76))
    axes.set_aspect("equal")
    axes.set_xticks([])
    axes.set_yticks([])
    for spine in axes.spines.values():
        spine.set_color("#cbd2d9")
    figure.suptitle(
        f"Flags and emerging hotspots, {day:%A} {day.day} {day:%B %Y}",
        x=0.02,
        y=0.975,
        ha="left",
        fontsize=13,
        color=INK,
        weight="bold",
    )
    hotspot_ids = {h.flag_id for h in hotspots}
    points = [f for f in flags if f.flag_id not in hotspot_ids]  # a hotspot with its cell is drawn as the cell
    notes: list[str] = []

    for area in boroughs:
        for ring in _exteriors(area.geometry):
            axes.fill(*ring, facecolor="#f5f7fa", edgecolor="#9aa5b1", linewidth=0.6, zorder=1)
    for area in boroughs:
        label_at = area.geometry.representative_point()
        axes.text(
            label_at.x,
            label_at.y,
            _short(area.name, 22),
            fontsize=5,
            color="#7b8794",
            ha="center",
            va="center",
            zorder=2,
        )
    for cell in hotspots:  # above the points, translucent, so neither hides the other
        for ring in _exteriors(cell.geometry):
            axes.fill(*ring, facecolor=to_rgba(HOTSPOT_FILL, 0.45), edgecolor=HOTSPOT_EDGE, linewidth=1.3, zorder=5)

    by_type: dict[str, list[MapFlag]] = defaultdict(list)
    for f in sorted(points, key=lambda f: f.score):  # strongest drawn last, on top
        by_type[f.flag_type].append(f)
    handles: list[Any] = []
    for flag_type in sorted(by_type, key=lambda t: FLAG_TYPES.index(t) if t in FLAG_TYPES else len(FLAG_TYPES)):
        group = by_type[flag_type]
        colour, marker = FLAG_STYLES.get(flag_type, OTHER_STYLE)
        axes.scatter(
            [f.x for f in group],
            [f.y for f in group],
            s=[18 + 70 * max(0.0, min(f.score, 1.0)) for f in group],
            c=colour,
            marker=marker,
            edgecolors="white",
            linewidths=0.5,
            alpha=0.9,
            zorder=4,
        )
        handles.append(
            Line2D(
                [],
                [],
                linestyle="",
                marker=marker,
                color=colour,
                markeredgecolor="white",
                markersize=7,
                label=f"{flag_type.replace('_', ' ')} ({len(group):,})",
            )
        )
    if hotspots:
        handles.append(
            Patch(
                facecolor=to_rgba(HOTSPOT_FILL, 0.45),
                edgecolor=HOTSPOT_EDGE,
                linewidth=1.3,
                label=f"emerging hotspot cell ({len(hotspots)})",
            )
        )
    if boroughs:
        handles.append(Patch(facecolor="#f5f7fa", edgecolor="#9aa5b1", label="borough boundary"))

    extent = _map_extent(boroughs, points, hotspots)
    if numbered and extent is not None:
        anchors = [(numbered[f.flag_id], f.x, f.y) for f in points if f.flag_id in numbered]
        anchors += [
            (numbered[c.flag_id], c.geometry.centroid.x, c.geometry.centroid.y)
            for c in hotspots
            if c.flag_id in numbered
        ]
        for text, x, y in lead_labels(anchors, radius=(extent[2] - extent[0]) * 0.03):
            axes.annotate(
                text,
                (x, y),
                xytext=(5, 5),
                textcoords="offset points",
                fontsize=7,
                weight="bold",
                color=INK,
                zorder=7,
                bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": INK, "linewidth": 0.5},
            )
    if extent is None:
        _note_panel(
            axes,
            "Nothing to map",
            "No borough boundaries are loaded and no flag of this day has a location.",
        )
    else:
        (x0, y0, x1, y1) = extent
        axes.set_xlim(x0, x1)
        axes.set_ylim(y0, y1)
        outside = sum(1 for f in points if not (x0 <= f.x <= x1 and y0 <= f.y <= y1))
        if outside:
            notes.append(f"{outside:,} flags lie outside the boroughs' extent and are off the map.")
        _scale_bar(axes, x0, y0, x1, y1)
        _north_arrow(axes)
    if not boroughs:
        notes.insert(0, "No borough boundaries loaded (das load boundaries FILE --kind borough): points only.")
        axes.text(
            0.5,
            0.97,
            "No borough boundaries loaded: flags drawn without a map",
            transform=axes.transAxes,
            ha="center",
            va="top",
            fontsize=9,
            color="#b91c1c",
            zorder=7,
            bbox={"boxstyle": "round,pad=0.3", "facecolor": "#fff5f5", "edgecolor": "#b91c1c", "linewidth": 0.6},
        )
    if not points and not hotspots and extent is not None:
        axes.text(
            0.5,
            0.5,
            "No flag of this day has a location",
            transform=axes.transAxes,
            ha="center",
            va="center",
            fontsize=12,
            color=MUTED,
            zorder=7,
            bbox={"boxstyle": "round,pad=0.4", "facecolor": "white", "edgecolor": "#cbd2d9"},
        )
    if handles:
        figure.legend(
            handles=handles,
            loc="lower center",
            bbox_to_anchor=(0.5, 0.01),
            ncol=3,
            fontsize=8,
            frameon=False,
            title="marker size grows with the score",
            title_fontsize=7,
        )
    figure.text(0.98, 0.935, "British National Grid (EPSG:27700) · times UTC", ha="right", fontsize=7, color=MUTED)

    drawn = len(points)
    if flags_total is not None and flags_total > len(flags) and len(flags) >= MAP_POINTS_LIMIT:
        notes.append(f"Only the {MAP_POINTS_LIMIT:,} strongest of {flags_total:,} located flags are drawn.")
    if flags_without_location:
        has, is_ = ("has", "is") if flags_without_location == 1 else ("have", "are")
        notes.append(f"{_count(flags_without_location, 'flag')} {has} no location and {is_} not on the map.")
    caption = (
        f"{_count(drawn, 'flag')} and {_count(len(hotspots), 'emerging hotspot cell')} whose window touches "
        f"{day.isoformat()} (UTC), over {_count(len(boroughs), 'borough')}. Numbers match the top leads below."
    )
    caption = " ".join([caption, *notes])
    alt = f"Map of {drawn} flags and {len(hotspots)} hotspot cells over the London boroughs"
    return _save(figure, out, "map.png", alt, caption)


def lead_labels(anchors: Iterable[tuple[int, float, float]], radius: float) -> list[tuple[str, float, float]]:
    """One label per cluster of leads: (rank, x, y) within ``radius`` of a stronger lead join its label ("1–3, 5"),
    so leads close together on the map do not print their numbers over each other."""
    clusters: list[tuple[float, float, list[int]]] = []
    for rank, x, y in sorted(anchors):
        near = next((c for c in clusters if math.hypot(x - c[0], y - c[1]) <= radius), None)
        if near is None:
            clusters.append((x, y, [rank]))
        else:
            near[2].append(rank)
    return [(_runs(ranks, str, ", "), x, y) for x, y, ranks in clusters]


def _runs(values: Sequence[int], show: Callable[[int], str], separator: str, *, end_exclusive: bool = False) -> str:
    """Consecutive integers as runs: [1, 2, 3, 5] -> "1–3, 5"; hours with ``end_exclusive`` -> "00:00–04:00"."""
    runs: list[list[int]] = []
    for value in sorted(values):
        if runs and value == runs[-1][-1] + 1:
            runs[-1].append(value)
        else:
            runs.append([value])
    texts = []
    for run in runs:
        last = run[-1] + 1 if end_exclusive else run[-1]
        texts.append(show(run[0]) if last == run[0] else f"{show(run[0])}–{show(last)}")
    return separator.join(texts)


def _exteriors(geometry: Any) -> list[tuple[list[float], list[float]]]:
    parts = getattr(geometry, "geoms", [geometry])
    rings = []
    for part in parts:
        exterior = getattr(part, "exterior", None)
        if exterior is not None:
            xs, ys = exterior.xy
            rings.append((list(xs), list(ys)))
    return rings


def _map_extent(
    boroughs: Sequence[Area], points: Sequence[MapFlag], hotspots: Sequence[HotspotCell]
) -> tuple[float, float, float, float] | None:
    """The boroughs' extent (flags far outside would shrink London to a dot), else the flags', padded."""
    if boroughs:
        bounds = [a.geometry.bounds for a in boroughs]
    else:
        bounds = [(f.x, f.y, f.x, f.y) for f in points] + [h.geometry.bounds for h in hotspots]
    if not bounds:
        return None
    x0, y0 = min(b[0] for b in bounds), min(b[1] for b in bounds)
    x1, y1 = max(b[2] for b in bounds), max(b[3] for b in bounds)
    pad = max(x1 - x0, y1 - y0, 2000.0) * 0.04
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half_w, half_h = max((x1 - x0) / 2, 1000.0) + pad, max((y1 - y0) / 2, 1000.0) + pad
    return cx - half_w, cy - half_h, cx + half_w, cy + half_h


def _scale_bar(axes: Any, x0: float, y0: float, x1: float, y1: float) -> None:
    """A two-segment bar of a round length about a fifth of the map's width, bottom left."""
    target = (x1 - x0) / 5
    length = max((n for n in (100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000) if n <= target), default=100)
    left, base = x0 + (x1 - x0) * 0.04, y0 + (y1 - y0) * 0.04
    tall = (y1 - y0) * 0.008
    half = length / 2
    axes.fill([left, left + half, left + half, left], [base, base, base + tall, base + tall], color=INK, zorder=8)
    axes.fill(
        [left + half, left + length, left + length, left + half],
        [base, base, base + tall, base + tall],
        facecolor="white",
        edgecolor=INK,
        linewidth=0.6,
        zorder=8,
    )
    label = f"{length // 1000:g} km" if length >= 1000 else f"{length} m"
    axes.text(left, base + tall * 2, "0", fontsize=7, ha="center", va="bottom", color=INK, zorder=8)
    axes.text(left + length, base + tall * 2, label, fontsize=7, ha="center", va="bottom", color=INK, zorder=8)


def _north_arrow(axes: Any) -> None:
    axes.annotate(
        "N",
        xy=(0.965, 0.95),
        xytext=(0.965, 0.86),
        xycoords="axes fraction",
        ha="center",
        va="center",
        fontsize=9,
        weight="bold",
        color=INK,
        arrowprops={"arrowstyle": "-|>", "color": INK, "linewidth": 1.0},
        zorder=8,
    )


def _thousands() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _position: f"{value:,.0f}")


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ------------------------------------------------------------------------------------------------
# The page


@dataclass(frozen=True)
class BriefingPage:
    day: date
    generated_at: datetime
    flag_counts: dict[str, int]
    reads: int
    cameras_reporting: int
    crimes: CrimeComparison
    leads: list[Lead]
    figures: dict[str, FigureFile]  # map, reads, crimes
    boundary_source: str | None
    sources: list[str] = field(default_factory=list)


def format_window(start: datetime, end: datetime, day: date) -> str:
    """A flag's window, short: times alone when it lies within the day, dates when it spans days."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    day_end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)
    if start.date() == day and end <= day_end:
        if start == end:
            return f"{start:%H:%M}"
        return f"{start:%H:%M}–{'24:00' if end == day_end else f'{end:%H:%M}'}"
    return f"{start.day} {start:%b %H:%M} – {end.day} {end:%b %H:%M}"


def render_html(page: BriefingPage) -> str:
    """The page: header with the counts, the map, the top leads, reads and crimes, and the sources. All escaped."""
    e = html.escape
    day = page.day
    flags_total = sum(page.flag_counts.values())
    ordered_types = sorted(page.flag_counts, key=lambda t: (-page.flag_counts[t], t))
    type_chips = (
        "".join(
            f'<li><span class="swatch" style="background:{FLAG_STYLES.get(t, OTHER_STYLE)[0]}"></span>'
            f"{e(t.replace('_', ' '))} <b>{page.flag_counts[t]:,}</b></li>"
            for t in ordered_types
        )
        or "<li>none</li>"
    )
    crimes = page.crimes
    if crimes.granularity == "week":
        crime_stat = f"{crimes.current_total:,}"
        crime_note = f"week to date · {crimes.crimes_on_day:,} on the day"
    elif crimes.granularity == "month":
        crime_stat = f"{crimes.current_total:,}"
        crime_note = f"in {crimes.current_label} (monthly data)"
    else:
        crime_stat, crime_note = "0", "none recorded around the day"
    reads_note = f"from {_count(page.cameras_reporting, 'camera')}" if page.reads else "no reads on this day"

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en-GB">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Daily briefing {e(day.isoformat())}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        '<header class="masthead">',
        '<p class="kicker">Daily briefing · domain awareness (das) · OFFICIAL – for police use</p>',
        f"<h1>{e(f'{day:%A} {day.day} {day:%B %Y}')}</h1>",
        f'<p class="meta">The UTC day {e(day.isoformat())} · generated {e(_stamp(page.generated_at))}</p>',
        '<div class="stats">',
        '<section class="stat"><h2>Flags</h2>'
        f'<p class="big">{flags_total:,}</p><ul class="chips">{type_chips}</ul></section>',
        f'<section class="stat"><h2>ANPR reads</h2><p class="big">{page.reads:,}</p>'
        f'<p class="note">{e(reads_note)}</p></section>',
        f'<section class="stat"><h2>Crimes</h2><p class="big">{crime_stat}</p>'
        f'<p class="note">{e(crime_note)}</p></section>',
        "</div>",
        "</header>",
        "<main>",
        _figure_html(page.figures["map"], "Where the day's flags point"),
        _leads_html(page.leads, day),
        _figure_html(page.figures["reads"], "ANPR traffic"),
        _figure_html(page.figures["crimes"], _crime_heading(crimes)),
        _rises_html(crimes),
        "</main>",
        '<footer class="sources">',
        "<h2>Sources</h2>",
        "<ul>",
        *(f"<li>{e(s)}</li>" for s in page.sources),
        "</ul>",
        f"<p>Generated by <code>das report --date {e(day.isoformat())}</code> at {e(_stamp(page.generated_at))}. "
        "Flags are leads for a person to check, not findings: see docs/investigator-guide.md for how each is scored "
        "and its innocent explanations.</p>",
        "</footer>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _crime_heading(comparison: CrimeComparison) -> str:
    if comparison.granularity is None:
        return "Crime"
    return f"Crime against the {comparison.granularity}s before"


def _figure_html(figure: FigureFile, heading: str) -> str:
    e = html.escape
    return (
        f'<section class="figure"><h2>{e(heading)}</h2><figure>'
        f'<img src="{e(figure.filename)}" alt="{e(figure.alt)}" width="{figure.width_px}" height="{figure.height_px}">'
        f"<figcaption>{e(figure.caption)}</figcaption></figure></section>"
    )


def _leads_html(leads: Sequence[Lead], day: date) -> str:
    e = html.escape
    if not leads:
        return (
            '<section class="leads"><h2>Top leads</h2>'
            '<p class="empty">No flag\'s window touches this day: no leads to brief.</p></section>'
        )
    rows = []
    for rank, lead in enumerate(leads, start=1):
        colour = FLAG_STYLES.get(lead.flag_type, OTHER_STYLE)[0]
        rows.append(
            "<tr>"
            f'<td class="rank">{rank}</td>'
            f'<td class="type"><span class="swatch" style="background:{colour}"></span>'
            f"{e(lead.flag_type.replace('_', ' '))}</td>"
            f'<td class="num">{lead.score:.2f}</td>'
            f'<td><span class="status status-{e(lead.status)}">{e(lead.status)}</span></td>'
            f'<td class="when">{e(format_window(lead.window_start, lead.window_end, day))}</td>'
            f'<td class="summary">{e(lead.summary)}<div class="id">das flag show {e(lead.flag_id)}</div></td>'
            "</tr>"
        )
    return (
        '<section class="leads"><h2>Top leads</h2>'
        f'<p class="intro">The {_count(len(leads), "strongest flag")} whose window touches the day, strongest '
        "first; its number on the map marks where it points. Its evidence is read through the audited view: "
        "<code>das flag show ID --purpose WHY</code>.</p>"
        '<table><thead><tr><th>#</th><th>type</th><th class="num">score</th><th>status</th><th>window (UTC)</th>'
        "<th>summary</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></section>"
    )


def _rises_html(comparison: CrimeComparison) -> str:
    e = html.escape
    rising = sorted(
        (r for r in comparison.rows if r.change is not None and r.change > 0),
        key=lambda r: (-(r.change or 0), r.borough),
    )[:5]
    if not rising:
        return ""
    period = "this week to date" if comparison.granularity == "week" else "this month"
    rows = "".join(
        f"<tr><td>{e(r.borough)}</td><td class='num'>{r.current:,}</td><td class='num'>{r.baseline_mean:.1f}</td>"
        f"<td class='num up'>{r.change:+.1f}</td>"
        f"<td class='num up'>{'' if r.change_percent is None else f'{r.change_percent:+.0f}%'}</td></tr>"
        for r in rising
    )
    return (
        '<section class="rises"><h2>Largest rises</h2>'
        f'<table><thead><tr><th>borough</th><th class="num">{e(period)}</th><th class="num">mean before</th>'
        f'<th class="num">change</th><th class="num">%</th></tr></thead><tbody>{rows}</tbody></table></section>'
    )


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def data_sources(data: BriefingData, comparison: CrimeComparison) -> list[str]:
    crimes = {
        "week": "das.crimes (occurred_from, time precision exact or day), by ISO week",
        "month": "das.crimes (Police UK month-stamped and dated crimes), by calendar month",
        None: "das.crimes (none recorded around the day)",
    }[comparison.granularity]
    boundaries = data.boundary_source or "none loaded"
    return [
        "Flags: das.flags (the detectors' leads with their triage status); emerging hotspots: das.hotspot_cells "
        "with their H3 cell outlines (das.h3_cells).",
        "ANPR reads: das.anpr_reads, the day's partition (UTC).",
        f"Crimes: {crimes}; each crime counted in the borough holding its point.",
        f"Borough boundaries: das.boroughs, from {boundaries}. Contains OS and ONS data © Crown copyright and "
        "database right; public sector information licensed under the Open Government Licence v3.0.",
        "All times are UTC. The page reads PostGIS once, in one snapshot, at the generation time below.",
    ]


_CSS = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #e4e7eb; --accent: #1d4e89; --paper: #ffffff; --wash: #f5f7fa; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--wash); color: var(--ink);
       font: 15px/1.45 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
.masthead, main, .sources { max-width: 1080px; margin: 0 auto; padding: 0 24px; }
.masthead { padding-top: 28px; padding-bottom: 8px; }
.kicker { margin: 0; color: var(--accent); font-size: 12px; letter-spacing: .08em; text-transform: uppercase;
          font-weight: 600; }
h1 { margin: 4px 0 2px; font-size: 30px; line-height: 1.15; }
h2 { margin: 0 0 8px; font-size: 13px; letter-spacing: .06em; text-transform: uppercase; color: var(--muted); }
.meta { margin: 0 0 18px; color: var(--muted); font-size: 13px; }
.stats { display: grid; grid-template-columns: 2fr 1fr 1fr; gap: 12px; }
.stat, .figure, .leads, .rises { background: var(--paper); border: 1px solid var(--line); border-radius: 8px;
                                 padding: 14px 16px; }
.big { margin: 0; font-size: 32px; font-weight: 700; line-height: 1.1; font-variant-numeric: tabular-nums; }
.note { margin: 4px 0 0; color: var(--muted); font-size: 13px; }
.chips { list-style: none; margin: 8px 0 0; padding: 0; display: flex; flex-wrap: wrap; gap: 4px 14px;
         font-size: 13px; }
.swatch { display: inline-block; width: 9px; height: 9px; border-radius: 2px; margin-right: 5px;
          vertical-align: baseline; }
main { display: grid; gap: 14px; padding-top: 14px; padding-bottom: 14px; }
figure { margin: 0; }
img { display: block; width: 100%; height: auto; }
figcaption { margin-top: 8px; color: var(--muted); font-size: 13px; }
table { width: 100%; border-collapse: collapse; font-size: 13.5px; }
th { text-align: left; font-weight: 600; color: var(--muted); border-bottom: 2px solid var(--line); padding: 6px 8px; }
td { border-bottom: 1px solid var(--line); padding: 7px 8px; vertical-align: top; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.rank { font-weight: 700; width: 2em; }
.type, .when { white-space: nowrap; }
.summary { overflow-wrap: anywhere; }
.id { color: var(--muted); font: 11px ui-monospace, SFMono-Regular, Menlo, monospace; margin-top: 2px; }
.status { display: inline-block; padding: 1px 7px; border-radius: 10px; font-size: 12px; border: 1px solid; }
.status-new { color: #1d4e89; border-color: #1d4e89; }
.status-acknowledged { color: #616e7c; border-color: #9aa5b1; }
.status-escalated { color: #fff; background: #b91c1c; border-color: #b91c1c; }
.status-dismissed { color: #9aa5b1; border-color: #cbd2d9; text-decoration: line-through; }
.up { color: #b91c1c; }
.intro, .empty { margin: 0 0 8px; color: var(--muted); font-size: 13px; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
.sources { padding-bottom: 32px; color: var(--muted); font-size: 12.5px; }
.sources ul { padding-left: 18px; margin: 0 0 8px; }
@media (max-width: 760px) { .stats { grid-template-columns: 1fr; } }
@media print {
  @page { size: A4; margin: 12mm; }
  body { background: #fff; font-size: 10.5pt; }
  .masthead, main, .sources { max-width: none; padding: 0; }
  .stat, .figure, .leads, .rises { border-color: #cbd2d9; break-inside: avoid; }
  .leads { break-inside: auto; }
  tr { break-inside: avoid; }
  thead { display: table-header-group; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


# ------------------------------------------------------------------------------------------------
# Writing it


def default_out(settings: Settings, day: date) -> Path:
    return settings.home_abs / "reports" / day.isoformat()


def render_briefing(data: BriefingData, out: Path, *, generated_at: datetime) -> Path:
    """Write the figures and ``index.html`` for ``data`` into ``out``; returns the page's path."""
    if out.exists() and not out.is_dir():
        raise DasError(f"--out {out} is a file; give a folder for index.html and its images")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DasError(f"cannot create {out} ({exc.strerror}): choose another folder with --out") from exc
    comparison = compare_crimes(data.crime_counts, data.day)
    ranks = {lead.flag_id: rank for rank, lead in enumerate(data.top_leads, start=1)}
    located_total = sum(data.flag_counts.values()) - data.flags_without_location
    try:
        figures = {
            "map": draw_map(
                data.boroughs,
                data.map_flags,
                data.hotspot_cells,
                data.day,
                out,
                numbered=ranks,
                flags_without_location=data.flags_without_location,
                flags_total=located_total,
            ),
            "reads": draw_reads_per_hour(data.reads_per_hour, data.cameras_reporting, data.day, out, now=generated_at),
            "crimes": draw_crime_comparison(comparison, out),
        }
        page = BriefingPage(
            day=data.day,
            generated_at=generated_at,
            flag_counts=data.flag_counts,
            reads=sum(data.reads_per_hour),
            cameras_reporting=data.cameras_reporting,
            crimes=comparison,
            leads=data.top_leads,
            figures=figures,
            boundary_source=data.boundary_source,
            sources=data_sources(data, comparison),
        )
        index = out / "index.html"
        index.write_text(render_html(page), encoding="utf-8")
    except OSError as exc:
        raise DasError(
            f"cannot write the briefing into {out} ({exc.strerror}): choose another folder with --out"
        ) from exc
    return index


def write_briefing(settings: Settings, day: date, out: Path | None = None, *, now: datetime | None = None) -> Path:
    """Read ``day`` from PostGIS and write its briefing (default folder ``DAS_HOME/reports/<day>/``)."""
    crimes_from, crimes_to = crime_window(day)
    data = load_briefing_data(settings, day, crimes_from=crimes_from, crimes_to=crimes_to)
    generated_at = now or datetime.now(UTC)
    return render_briefing(data, out or default_out(settings, day), generated_at=generated_at)
