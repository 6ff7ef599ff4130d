"""Live facial recognition records: a fixture built to the Met's published totals, and simulated deployments.

The Met published, for September 2024 to September 2025: 203 deployments, about 3.1M faces scanned, 2,077 alerts,
10 false alerts and 962 arrests. ``write_met_published_fixture`` writes deployment and alert files that add up to
exactly those counts (faces: 3,100,000, as the published figure is rounded), at real London places, so the
oversight report can be checked against them. The split of the alerts that the Met did not publish (verified
matches against alerts officers could not engage, outcomes other than arrest, demographic groups) is invented, and
said so in the files' README.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# (name, longitude, latitude): town centres where London LFR vans have stood.
PLACES: tuple[tuple[str, float, float], ...] = (
    ("Croydon, North End", -0.0988, 51.3762),
    ("Oxford Circus", -0.1419, 51.5152),
    ("Stratford, The Broadway", -0.0031, 51.5416),
    ("Camden High Street", -0.1426, 51.5392),
    ("Wembley Park", -0.2797, 51.5560),
    ("Romford Market Place", 0.1837, 51.5753),
    ("Leicester Square", -0.1281, 51.5103),
    ("Ilford High Road", 0.0741, 51.5590),
    ("Walthamstow High Street", -0.0198, 51.5830),
    ("Hammersmith Broadway", -0.2239, 51.4927),
    ("Kingston Market Place", -0.3064, 51.4123),
    ("Lewisham High Street", -0.0137, 51.4615),
)
GROUPS = ("Asian", "Black", "Mixed", "White", "Other")
CATEGORIES = ("wanted_by_police_or_courts", "court_order_conditions", "sex_offender_conditions", "missing_vulnerable")


@dataclass(frozen=True)
class LfrTotals:
    deployments: int
    faces_scanned: int
    alerts: int
    false_alerts: int
    arrests: int
    not_engaged: int = 0

    @property
    def true_matches(self) -> int:
        return self.alerts - self.false_alerts - self.not_engaged


MET_PUBLISHED = LfrTotals(
    deployments=203, faces_scanned=3_100_000, alerts=2_077, false_alerts=10, arrests=962, not_engaged=120
)
MET_PERIOD = (datetime(2024, 9, 1, tzinfo=UTC), datetime(2025, 9, 1, tzinfo=UTC))  # [from, to)


def _apportion(total: int, weights: list[float]) -> list[int]:
    """Whole numbers proportional to ``weights`` that add up to exactly ``total`` (largest remainders)."""
    scale = total / sum(weights)
    raw = [w * scale for w in weights]
    out = [int(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: raw[i] - out[i], reverse=True)[: total - sum(out)]:
        out[i] += 1
    return out


def lfr_records(
    totals: LfrTotals, period: tuple[datetime, datetime], *, seed: int = 2025, prefix: str = "MET"
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Deployments and alerts adding up to ``totals`` exactly, each deployment starting inside ``period``."""
    rng = random.Random(seed)
    start, end = period
    span_hours = int((end - start).total_seconds() // 3600) - 12
    faces = _apportion(totals.faces_scanned, [rng.uniform(0.3, 1.7) for _ in range(totals.deployments)])
    alert_counts = _apportion(totals.alerts, [float(f) for f in faces])
    deployments: list[dict[str, Any]] = []
    alerts: list[dict[str, Any]] = []
    for number, (scanned, n_alerts) in enumerate(zip(faces, alert_counts, strict=True), start=1):
        name, lon, lat = PLACES[number % len(PLACES)]
        starts = start + timedelta(hours=rng.randrange(0, span_hours - 8))
        ends = starts + timedelta(hours=rng.choice((4, 5, 6, 7, 8)))
        deployment_id = f"{prefix}-LFR-{number:04d}"
        deployments.append(
            {
                "deployment_id": deployment_id,
                "location_name": name,
                "longitude": round(lon + rng.uniform(-0.002, 0.002), 6),
                "latitude": round(lat + rng.uniform(-0.002, 0.002), 6),
                "starts_at": starts,
                "ends_at": ends,
                "watchlist_size": rng.randrange(14_000, 17_500),
                "faces_scanned": scanned,
                "camera_ids": [f"{deployment_id}-CAM{c}" for c in range(1, rng.choice((2, 3, 4)))],
            }
        )
        window = int((ends - starts).total_seconds())
        for _ in range(n_alerts):
            alerts.append(
                {
                    "alert_id": f"{prefix}-ALERT-{len(alerts) + 1:05d}",
                    "deployment_id": deployment_id,
                    "alerted_at": starts + timedelta(seconds=rng.randrange(0, window)),
                    "watchlist_category": rng.choice(CATEGORIES),
                }
            )
    order = list(range(len(alerts)))
    rng.shuffle(order)
    false_ids = set(order[: totals.false_alerts])
    not_engaged = set(order[totals.false_alerts : totals.false_alerts + totals.not_engaged])
    true_ids = order[totals.false_alerts + totals.not_engaged :]
    arrests = set(true_ids[: totals.arrests])
    other_action = set(true_ids[totals.arrests : totals.arrests + (len(true_ids) - totals.arrests) // 2])
    for i, alert in enumerate(alerts):
        if i in false_ids:
            alert["operator_verdict"], alert["outcome"] = "false_alert", "no_action"
        elif i in not_engaged:
            alert["operator_verdict"], alert["outcome"] = "not_engaged", "no_action"
        else:
            alert["operator_verdict"] = "true_match"
            alert["outcome"] = "arrest" if i in arrests else "other_action" if i in other_action else "no_action"
        # About one in eight not recorded; the rest spread over the groups.
        recorded = rng.random() >= 0.125
        alert["demographic_group"] = rng.choices(GROUPS, weights=(18, 22, 6, 48, 6))[0] if recorded else ""
    return deployments, alerts


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, list):
        return ";".join(value)
    return "" if value is None else str(value)


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Rows as a CSV (written to a hidden .tmp and renamed, so ingest never takes half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.tmp")
    with partial.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: _text(v) for k, v in row.items()} for row in rows)
    partial.rename(path)
    return path


def write_met_published_fixture(landing: Path) -> LfrTotals:
    """``landing/lfr/deployments.csv`` and ``landing/lfr/alerts.csv``, adding up to the Met's published totals."""
    deployments, alerts = lfr_records(MET_PUBLISHED, MET_PERIOD)
    folder = landing / "lfr"
    write_csv(folder / "deployments.csv", deployments)
    write_csv(folder / "alerts.csv", alerts)
    (folder / "README.md").write_text(
        "# LFR fixture built to the Met's published totals\n\n"
        "Met Police live facial recognition, September 2024 to September 2025: 203 deployments, about 3.1M faces "
        "scanned (3,100,000 here), 2,077 alerts, 10 false alerts, 962 arrests.\n\n"
        "Invented: the places within the town centres, the times, the faces per deployment, 120 alerts not engaged, "
        "the outcomes other than arrest and the demographic groups.\n\n"
        f"Totals: {json.dumps(MET_PUBLISHED.__dict__)}\n",
        encoding="utf-8",
    )
    return MET_PUBLISHED
