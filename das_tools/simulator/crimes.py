"""Background crimes: exact-time incidents spread over Greater London and over the crime period.

Positions are uniform over the London boroughs (so background crimes are spread out and rarely cluster
by chance) and the type mix follows the Met's police.uk categories. Burglaries and vehicle crimes get
an occurrence window (left at 18:00, found at 07:00); others are exact, some with a short window.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.ops import unary_union

from das.config import SAMPLES_DIR
from das_tools.simulator.network import to_bng

BOROUGHS_FILE = SAMPLES_DIR / "london_boroughs_simplified.geojson"

# Roughly the Met's police.uk mix.
CRIME_MIX: dict[str, float] = {
    "Violence and sexual offences": 0.24,
    "Anti-social behaviour": 0.18,
    "Other theft": 0.10,
    "Vehicle crime": 0.10,
    "Theft from the person": 0.06,
    "Shoplifting": 0.06,
    "Burglary": 0.06,
    "Public order": 0.06,
    "Criminal damage and arson": 0.05,
    "Drugs": 0.04,
    "Robbery": 0.03,
    "Bicycle theft": 0.02,
}
OUTCOMES = (
    "Under investigation",
    "Investigation complete; no suspect identified",
    "Unable to prosecute suspect",
    "Status update unavailable",
    "Awaiting court outcome",
    "Local resolution",
)
NO_TIME = -1


@dataclass
class CrimeSet:
    """Crimes as parallel lists; ``t_to == NO_TIME`` means no end given (an instant)."""

    crime_type: list[str] = field(default_factory=list)
    t_from: list[int] = field(default_factory=list)
    t_to: list[int] = field(default_factory=list)
    lon: list[float] = field(default_factory=list)
    lat: list[float] = field(default_factory=list)
    tag: list[str] = field(default_factory=list)  # "" for background, else the planted pattern key

    def add(self, crime_type: str, t_from: int, t_to: int, lon: float, lat: float, tag: str = "") -> int:
        self.crime_type.append(crime_type)
        self.t_from.append(int(t_from))
        self.t_to.append(int(t_to))
        self.lon.append(float(lon))
        self.lat.append(float(lat))
        self.tag.append(tag)
        return len(self.tag) - 1

    @property
    def size(self) -> int:
        return len(self.tag)


@lru_cache(maxsize=1)
def london_area() -> shapely.Geometry:
    data = json.loads(BOROUGHS_FILE.read_text(encoding="utf-8"))
    return unary_union([shape(f["geometry"]) for f in data["features"]])


def random_points_in_london(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    area = london_area()
    min_lon, min_lat, max_lon, max_lat = area.bounds
    lons: list[np.ndarray] = []
    lats: list[np.ndarray] = []
    got = 0
    while got < n:
        lon = rng.uniform(min_lon, max_lon, 2 * (n - got) + 16)
        lat = rng.uniform(min_lat, max_lat, lon.size)
        inside = shapely.contains_xy(area, lon, lat)
        lons.append(lon[inside])
        lats.append(lat[inside])
        got += int(inside.sum())
    return np.concatenate(lons)[:n], np.concatenate(lats)[:n]


def background_crimes(rng: np.random.Generator, crimes: CrimeSet, period_start: int, days: int, per_day: int) -> None:
    n = int(rng.poisson(per_day * days)) if per_day else 0
    if n == 0:
        return
    types = list(CRIME_MIX)
    weights = np.array(list(CRIME_MIX.values()))
    kind = rng.choice(len(types), size=n, p=weights / weights.sum())
    lon, lat = random_points_in_london(rng, n)
    day = rng.integers(0, days, n)
    hour = np.clip(rng.normal(15.5, 5.0, n), 0, 23.99)  # afternoon/evening-heavy
    t_from = period_start + day * 86_400 + (hour * 3600).astype(np.int64)
    t_to = np.full(n, NO_TIME, dtype=np.int64)
    windowed = np.isin(kind, [types.index("Burglary"), types.index("Vehicle crime")])
    # Burglary and vehicle crime: left at some point, found some hours later (a few after days away).
    span = np.where(rng.random(n) < 0.03, rng.uniform(30, 96, n), rng.uniform(1, 12, n)) * 3600
    t_to = np.where(windowed, t_from + span.astype(np.int64), t_to)
    short = ~windowed & (rng.random(n) < 0.4)
    t_to = np.where(short, t_from + rng.integers(300, 1800, n), t_to)
    # Nothing may end after the crime period (it ends with the last reads day, in the past).
    period_end = period_start + days * 86_400 - 1
    t_to = np.where(t_to > period_end, period_end, t_to)
    for i in range(n):
        crimes.add(types[kind[i]], int(t_from[i]), int(t_to[i]), float(lon[i]), float(lat[i]))


def crime_xy(crimes: CrimeSet) -> tuple[np.ndarray, np.ndarray]:
    return to_bng(np.asarray(crimes.lon), np.asarray(crimes.lat))
