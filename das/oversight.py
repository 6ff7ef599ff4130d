"""The live facial recognition oversight report, computed from the records (not kept in a spreadsheet).

Per deployment, per borough and in total: deployments, faces scanned, alerts, false alerts, the false-alert rate per
alert and per 1,000 faces, verified matches and arrests; and false alerts by the subject's recorded demographic
group, each rate with a 95 % Wilson score interval and a warning where the counts are too small to conclude anything.

A deployment belongs to the period its start falls in, and its alerts with it (so per-deployment figures add up to
the totals). The figures come from ``das.lfr_report_deployments`` and ``das.lfr_report_groups`` in PostGIS.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

Z_95 = 1.959964  # the standard normal quantile of a two-sided 95 % interval
# Below these a group's false-alert rate says little: the interval is wide and one alert moves it far.
MIN_GROUP_ALERTS = 30
MIN_GROUP_FALSE_ALERTS = 5
NOT_RECORDED = "not recorded"
POOLED = "groups of fewer than 10 alerts (pooled)"  # das.lfr_report_groups pools small groups (disclosure)


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval of a binomial proportion (sound at 0 and at small n); None when n = 0."""
    if trials <= 0:
        return None
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class LfrFigures:
    """The counts of a set of deployments, and the rates that follow from them."""

    deployments: int = 0
    faces_scanned: int = 0
    deployments_without_faces: int = 0  # faces not reported: the per-1,000-faces rate leaves them out
    alerts: int = 0
    false_alerts: int = 0
    true_matches: int = 0
    not_engaged: int = 0
    arrests: int = 0
    false_alerts_where_faces_reported: int = 0

    def add(self, row: Mapping[str, Any]) -> None:
        self.deployments += 1
        faces = row.get("faces_scanned")
        if faces is None:
            self.deployments_without_faces += 1
        else:
            self.faces_scanned += int(faces)
            self.false_alerts_where_faces_reported += int(row.get("false_alerts") or 0)
        for name in ("alerts", "false_alerts", "true_matches", "not_engaged", "arrests"):
            setattr(self, name, getattr(self, name) + int(row.get(name) or 0))

    @property
    def false_alert_rate(self) -> float | None:
        """False alerts per alert."""
        return self.false_alerts / self.alerts if self.alerts else None

    @property
    def false_alerts_per_1000_faces(self) -> float | None:
        """False alerts per 1,000 faces scanned (deployments that reported their faces only)."""
        if not self.faces_scanned:
            return None
        return 1000 * self.false_alerts_where_faces_reported / self.faces_scanned

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "false_alert_rate": self.false_alert_rate,
            "false_alerts_per_1000_faces": self.false_alerts_per_1000_faces,
        }


@dataclass
class GroupFigures:
    """False alerts among the alerts of one recorded demographic group."""

    group: str
    alerts: int
    false_alerts: int
    interval: tuple[float, float] | None = field(init=False)
    warning: str | None = field(init=False)

    def __post_init__(self) -> None:
        self.interval = wilson_interval(self.false_alerts, self.alerts)
        self.warning = None
        if self.alerts < MIN_GROUP_ALERTS or self.false_alerts < MIN_GROUP_FALSE_ALERTS:
            self.warning = (
                f"too few to conclude anything ({self.false_alerts} of {self.alerts}; a rate needs at least "
                f"{MIN_GROUP_FALSE_ALERTS} false alerts among {MIN_GROUP_ALERTS} alerts)"
            )

    @property
    def false_alert_rate(self) -> float | None:
        return self.false_alerts / self.alerts if self.alerts else None

    def as_dict(self) -> dict[str, Any]:
        low, high = self.interval if self.interval else (None, None)
        return {
            "group": self.group,
            "alerts": self.alerts,
            "false_alerts": self.false_alerts,
            "false_alert_rate": self.false_alert_rate,
            "ci95_low": low,
            "ci95_high": high,
            "warning": self.warning,
        }


def group_comparison_warning(groups: list[GroupFigures]) -> str | None:
    """Whether the groups' rates can be compared at all: not when a recorded group's counts are too small, nor
    when every pair of intervals overlaps (no difference is shown)."""
    recorded = [g for g in groups if g.group not in (NOT_RECORDED, POOLED) and g.interval is not None]
    if len(recorded) < 2:
        return "fewer than two recorded groups: no comparison between groups is possible"
    small = [g.group for g in recorded if g.warning]
    if small:
        return (
            f"the counts of {', '.join(small)} are too small to conclude anything; no difference between groups "
            "can be read from this period"
        )
    intervals = [g.interval for g in recorded if g.interval]
    separated = any(a[1] < b[0] or b[1] < a[0] for i, a in enumerate(intervals) for b in intervals[i + 1 :])
    if not separated:
        return "every group's 95 % interval overlaps every other's: these counts show no difference between groups"
    return None


def lfr_report(
    deployment_rows: Iterable[Mapping[str, Any]],
    group_rows: Iterable[Mapping[str, Any]],
    start: datetime,
    end: datetime,
) -> dict[str, Any]:
    """The report from the per-deployment rows and the per-group rows of one period [start, end)."""
    total = LfrFigures()
    boroughs: dict[str, LfrFigures] = {}
    deployments = []
    for row in deployment_rows:
        total.add(row)
        boroughs.setdefault(row["borough"], LfrFigures()).add(row)
        one = LfrFigures()
        one.add(row)
        deployments.append(
            {
                "deployment_id": row["deployment_id"],
                "location_name": row.get("location_name"),
                "borough": row["borough"],
                "starts_at": row.get("starts_at"),
                "ends_at": row.get("ends_at"),
                "watchlist_size": row.get("watchlist_size"),
                **{k: v for k, v in one.as_dict().items() if k not in ("deployments",)},
            }
        )
    groups = [GroupFigures(str(r["group"]), int(r["alerts"]), int(r["false_alerts"])) for r in group_rows]
    groups.sort(key=lambda g: (g.group in (NOT_RECORDED, POOLED), g.group))
    return {
        "period": {"from": start, "to": end},
        "total": total.as_dict(),
        "boroughs": [{"borough": name, **f.as_dict()} for name, f in sorted(boroughs.items())],
        "deployments": deployments,
        "false_alerts_by_group": [g.as_dict() for g in groups],
        "group_comparison_warning": group_comparison_warning(groups),
    }


def _rate(value: float | None, scale: str = "") -> str:
    return "n/a" if value is None else f"{value:.4f}{scale}"


def render_text(report: Mapping[str, Any]) -> str:
    """The report as plain text for a terminal or an email."""
    period = report["period"]
    total = report["total"]
    start, end = (f"{period[k]:%Y-%m-%d %H:%M}" for k in ("from", "to"))
    lines = [
        f"LFR oversight report, deployments starting {start} to {end} UTC",
        "",
        f"deployments {total['deployments']:,}   faces scanned {total['faces_scanned']:,}   "
        f"alerts {total['alerts']:,}   false alerts {total['false_alerts']:,}   "
        f"verified matches {total['true_matches']:,}   arrests {total['arrests']:,}",
        f"false-alert rate: {_rate(total['false_alert_rate'])} per alert, "
        f"{_rate(total['false_alerts_per_1000_faces'])} per 1,000 faces",
    ]
    if total["deployments_without_faces"]:
        lines.append(f"({total['deployments_without_faces']} deployment(s) reported no faces scanned: left out of "
                     "the per-1,000-faces rate)")  # fmt: skip
    header = f"{'borough':<34}{'deploy':>7}{'faces':>11}{'alerts':>8}{'false':>7}{'matches':>9}{'arrests':>9}"
    lines += ["", "By borough", header]
    for b in report["boroughs"]:
        lines.append(
            f"{b['borough'][:33]:<34}{b['deployments']:>7,}{b['faces_scanned']:>11,}{b['alerts']:>8,}"
            f"{b['false_alerts']:>7,}{b['true_matches']:>9,}{b['arrests']:>9,}"
        )
    lines += ["", "False alerts by recorded demographic group (95 % Wilson interval)"]
    for g in report["false_alerts_by_group"]:
        interval = "n/a" if g["ci95_low"] is None else f"{g['ci95_low']:.4f} to {g['ci95_high']:.4f}"
        line = (
            f"  {g['group'][:30]:<31}{g['false_alerts']:>5} of {g['alerts']:>6,}  rate {_rate(g['false_alert_rate'])}"
        )
        lines.append(f"{line}  ({interval})" + (f"  WARNING: {g['warning']}" if g["warning"] else ""))
    if report["group_comparison_warning"]:
        lines.append(f"WARNING: {report['group_comparison_warning']}")
    lines += ["", f"{len(report['deployments'])} deployment(s); `--json` lists each one."]
    return "\n".join(lines)
