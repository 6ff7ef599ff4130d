"""Background traffic: fleets, commuters and visitors driving through the camera network, read by ANPR.

Everything is vectorised over vehicles and generated in chunks of vehicles, so memory stays bounded at
any volume. Realism: a diurnal profile (weekday and weekend), road-like travel times (straight-line
distance x detour factor / a drawn speed, slower at rush hour), a capture rate below one, OCR misreads
of confusable characters with lower confidence, double captures, camera clock skew, short camera
outages and a small share of malformed rows.

A vehicle's reads are always physically consistent (one continuous timeline per vehicle), and camera
clock skew is at most 30 s, so background traffic never looks like a cloned plate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from das_tools.simulator.network import CameraNetwork, random_walks
from das_tools.simulator.params import SimulationParams
from das_tools.simulator.plates import CONFUSABLE_SWAPS, misread

LONDON = ZoneInfo("Europe/London")
DAY_S = 86_400

# Share of a day's trips starting in each local hour (UK road traffic shapes).
WEEKDAY_PROFILE = np.array(
    [
        0.6,
        0.4,
        0.3,
        0.3,
        0.5,
        1.2,
        3.0,
        6.0,
        7.5,
        5.5,
        4.8,
        4.8,
        5.0,
        5.0,
        5.2,
        6.0,
        7.0,
        7.5,
        6.0,
        4.5,
        3.5,
        2.8,
        2.0,
        1.2,
    ]
)
WEEKEND_PROFILE = np.array(
    [
        1.2,
        0.8,
        0.6,
        0.5,
        0.5,
        0.7,
        1.2,
        2.2,
        3.5,
        5.0,
        6.2,
        6.8,
        7.0,
        6.8,
        6.5,
        6.2,
        6.0,
        5.5,
        4.8,
        4.0,
        3.2,
        2.6,
        2.0,
        1.5,
    ]
)
READ_SHARES = {"fleet": 0.30, "commuter": 0.45, "visitor": 0.25}
COMPASS = np.array(["E", "NE", "N", "NW", "W", "SW", "S", "SE"])

MALFORMED_NONE, MALFORMED_EMPTY_PLATE, MALFORMED_BAD_TIME, MALFORMED_UNKNOWN_CAMERA, MALFORMED_BAD_CONF = range(5)
UNKNOWN_CAMERA_ID = "99999.99999"
FLEET_SLICE = 5_000
ClassRanges = tuple[tuple[int, int], tuple[int, int], tuple[int, int]]


@dataclass
class ReadBatch:
    """Reads as parallel arrays. ``t`` is epoch seconds UTC as *observed* (camera skew applied)."""

    cam: np.ndarray  # int32 camera index
    t: np.ndarray  # int64
    plate: np.ndarray  # str (as read, normalised characters)
    confidence: np.ndarray  # float32
    country: np.ndarray  # str
    direction: np.ndarray  # str
    lane: np.ndarray  # int8
    malformed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))

    def __post_init__(self) -> None:
        if self.malformed.size != self.cam.size:
            self.malformed = np.zeros(self.cam.size, dtype=np.int8)

    @property
    def size(self) -> int:
        return int(self.cam.size)

    def take(self, index: np.ndarray) -> ReadBatch:
        return ReadBatch(
            self.cam[index],
            self.t[index],
            self.plate[index],
            self.confidence[index],
            self.country[index],
            self.direction[index],
            self.lane[index],
            self.malformed[index],
        )

    @staticmethod
    def concat(batches: list[ReadBatch]) -> ReadBatch:
        names = ("cam", "t", "plate", "confidence", "country", "direction", "lane", "malformed")
        return ReadBatch(*(np.concatenate([getattr(b, n) for b in batches]) for n in names))


@dataclass(frozen=True)
class Population:
    plates: np.ndarray  # normalised plates, one per vehicle
    countries: np.ndarray
    n_fleet: int
    n_commuter: int
    n_visitor: int

    @property
    def size(self) -> int:
        return int(self.plates.size)


@dataclass(frozen=True)
class CameraBehaviour:
    skew_s: np.ndarray  # int64 seconds added to every read time of the camera
    outage_start: np.ndarray  # (days, cams) epoch seconds, -1 = no outage
    outage_end: np.ndarray

    def in_outage(self, day: int, cam: np.ndarray, t_true: np.ndarray) -> np.ndarray:
        start, end = self.outage_start[day, cam], self.outage_end[day, cam]
        return (start >= 0) & (t_true >= start) & (t_true < end)


def utc_offset_s(day: dt.date) -> int:
    noon = dt.datetime.combine(day, dt.time(12), tzinfo=LONDON)
    offset = noon.utcoffset()
    return int(offset.total_seconds()) if offset else 0


def day_start_epoch(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC).timestamp())


def sample_local_seconds(rng: np.random.Generator, n: int, weekend: bool) -> np.ndarray:
    profile = WEEKEND_PROFILE if weekend else WEEKDAY_PROFILE
    hours = rng.choice(24, size=n, p=profile / profile.sum())
    return hours * 3600.0 + rng.uniform(0, 3600, n)


def rush_factor(local_s: np.ndarray, weekend: bool) -> np.ndarray:
    if weekend:
        return np.ones_like(local_s)
    hour = (local_s / 3600.0) % 24
    rush = ((hour >= 7) & (hour < 10)) | ((hour >= 16) & (hour < 19))
    return np.where(rush, 0.75, 1.0)


def trip_speeds_mps(rng: np.random.Generator, n: int) -> np.ndarray:
    """Average road speed of a trip: median 30 km/h, between 10 and 70 km/h."""
    kmh = np.clip(rng.lognormal(np.log(30.0), 0.3, n), 10.0, 70.0)
    return kmh / 3.6


def timeline(
    rng: np.random.Generator,
    legs: np.ndarray,
    depart: np.ndarray,
    speed: np.ndarray,
    dwell_prob: float = 0.0,
) -> np.ndarray:
    """Arrival times (n, steps+1) at each camera of a walk: distance x detour / speed, plus stops."""
    n, steps = legs.shape
    detour = rng.uniform(1.2, 1.6, (n, 1))
    jitter = rng.uniform(0.9, 1.1, (n, steps))
    leg_s = legs * detour * jitter / speed[:, None]
    if dwell_prob > 0:
        leg_s = leg_s + np.where(rng.random((n, steps)) < dwell_prob, rng.uniform(60, 900, (n, steps)), 0.0)
    arrival = np.empty((n, steps + 1))
    arrival[:, 0] = depart
    arrival[:, 1:] = depart[:, None] + np.cumsum(leg_s, axis=1)
    return arrival


def directions(net: CameraNetwork, cams: np.ndarray) -> np.ndarray:
    """Compass direction of travel at each camera of each walk (n, steps+1)."""
    dx = np.diff(net.x[cams], axis=1)
    dy = np.diff(net.y[cams], axis=1)
    angle = np.arctan2(dy, dx)
    angle = np.concatenate([angle[:, :1], angle], axis=1)  # the first camera: direction of the first leg
    sector = np.round(angle / (np.pi / 4)).astype(int) % 8
    return COMPASS[sector]


class BackgroundTraffic:
    """Generates each day's background reads, chunk by chunk of vehicles."""

    def __init__(
        self,
        params: SimulationParams,
        net: CameraNetwork,
        population: Population,
        cameras: CameraBehaviour,
        days: list[dt.date],
    ) -> None:
        self.params = params
        self.net = net
        self.population = population
        self.cameras = cameras
        self.days = days

    def rng(self, *stream: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.params.seed, 1, *stream]))

    def chunks(self) -> list[ClassRanges]:
        """Chunks of about ``chunk_vehicles`` vehicles, each with its share of every class, so every chunk
        makes about the same number of reads (fleet vehicles read far more often than visitors)."""
        pop = self.population
        n_chunks = max(1, -(-pop.size // self.params.chunk_vehicles))
        bounds = []
        offset = 0
        for count in (pop.n_fleet, pop.n_commuter, pop.n_visitor):
            edges = offset + np.linspace(0, count, n_chunks + 1).round().astype(int)
            bounds.append(edges)
            offset += count
        return [tuple((int(b[k]), int(b[k + 1])) for b in bounds) for k in range(n_chunks)]  # type: ignore[misc]

    def day_batches(self, day_index: int) -> Iterator[ReadBatch]:
        for chunk_index, ranges in enumerate(self.chunks()):
            yield self.chunk_reads(day_index, chunk_index, ranges)

    def chunk_reads(self, day_index: int, chunk_index: int, ranges: ClassRanges) -> ReadBatch:
        """Reads of one chunk of vehicles: (fleet, commuter, visitor) index ranges."""
        day = self.days[day_index]
        rng = self.rng(2, day_index, chunk_index)
        weekend = day.weekday() >= 5
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        fleet, commuters, visitors = (np.arange(lo, hi) for lo, hi in ranges)
        for first in range(0, fleet.size, FLEET_SLICE):  # long all-day walks: smaller slices bound memory
            parts.extend(self._fleet(rng, fleet[first : first + FLEET_SLICE], weekend))
        if commuters.size:
            parts.extend(self._commuters(rng, chunk_index, commuters, weekend))
        if visitors.size:
            parts.extend(self._visitors(rng, visitors, weekend))
        if not parts:
            return self._empty()
        cams, local_t, vehicle, direction = (np.concatenate([p[i] for p in parts]) for i in range(4))
        return self._observe(rng, day_index, day, cams, local_t, vehicle, direction)

    # -- vehicle classes -------------------------------------------------------------------------
    def _fleet(self, rng: np.random.Generator, vehicles: np.ndarray, weekend: bool) -> list[tuple]:
        """Buses, taxis and vans: continuous walks all shift long, with stops."""
        n = vehicles.size
        night = rng.random(n) < 0.15
        seg_start = np.where(night, rng.uniform(18, 20, n), rng.uniform(5, 9, n)) * 3600
        seg_end = np.where(night, 23 * 3600.0, seg_start + rng.uniform(9, 13, n) * 3600)
        # Night shifts also drive the small hours of the same day, as a separate stint. The 23:00-01:00
        # break keeps the jump between one day's last read and the next day's first read plausible.
        early = np.flatnonzero(night)
        starts = np.concatenate([seg_start, rng.uniform(1, 1.5, early.size) * 3600])
        ends = np.concatenate([seg_end, rng.uniform(5, 7, early.size) * 3600])
        owners = np.concatenate([vehicles, vehicles[early]])
        if weekend:
            keep = rng.random(owners.size) < 0.8
            starts, ends, owners = starts[keep], ends[keep], owners[keep]
        steps = self._steps_for(float(np.max(ends - starts, initial=3600.0)), dwell=True)
        return [self._walk_reads(rng, owners, starts, ends, steps, dwell_prob=0.25, weekend=weekend)]

    def _commuter_routes(self, chunk_index: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The same home-to-work route every day: walks seeded by chunk only."""
        rng = self.rng(3, chunk_index)
        start = rng.integers(0, self.net.size, n)
        cams, legs = random_walks(self.net, rng, start, 12)
        length = rng.integers(3, 13, n)
        return cams, legs, length

    def _commuters(
        self, rng: np.random.Generator, chunk_index: int, vehicles: np.ndarray, weekend: bool
    ) -> list[tuple]:
        cams, legs, length = self._commuter_routes(chunk_index, vehicles.size)
        travels = rng.random(vehicles.size) < (0.25 if weekend else 0.92)
        vehicles, cams, legs, length = vehicles[travels], cams[travels], legs[travels], length[travels]
        n = vehicles.size
        if weekend:
            out_t = rng.uniform(9.5, 14, n) * 3600
            back_t = out_t + rng.uniform(2, 6, n) * 3600
        else:
            out_t = np.clip(rng.normal(7.8, 0.8, n), 5.5, 10.5) * 3600
            back_t = np.clip(rng.normal(17.6, 1.0, n), 15.0, 21.5) * 3600
        morning, arrive = self._trip(rng, vehicles, cams, legs, length, out_t, weekend, with_arrival=True)
        back_t = np.maximum(back_t, arrive + 1800)  # a slow morning means a late evening, never two places at once
        rev_idx = np.clip(length[:, None] - np.arange(cams.shape[1])[None, :], 0, None)
        rev_cams = np.take_along_axis(cams, rev_idx, axis=1)
        leg_idx = np.clip(length[:, None] - 1 - np.arange(legs.shape[1])[None, :], 0, None)
        rev_legs = np.take_along_axis(legs, leg_idx, axis=1)
        evening = self._trip(rng, vehicles, rev_cams, rev_legs, length, back_t, weekend)
        return [morning, evening]

    def _visitors(self, rng: np.random.Generator, vehicles: np.ndarray, weekend: bool) -> list[tuple]:
        travels = rng.random(vehicles.size) < 0.5
        vehicles = vehicles[travels]
        n = vehicles.size
        start = rng.integers(0, self.net.size, n)
        cams, legs = random_walks(self.net, rng, start, 10)
        length = rng.integers(1, 11, n)
        # No departures between 23:00 and 01:00, so a visitor seen on two days cannot teleport overnight.
        depart = np.clip(sample_local_seconds(rng, n, weekend), 3600, 22.5 * 3600)
        out, arrive = self._trip(rng, vehicles, cams, legs, length, depart, weekend, with_arrival=True)
        b = np.flatnonzero((rng.random(n) < 0.4) & (arrive < 21 * 3600))
        if not b.size:
            return [out]
        # Return trip: the same way back, one to five hours after arriving.
        rev_idx = np.clip(length[b, None] - np.arange(cams.shape[1])[None, :], 0, None)
        leg_idx = np.clip(length[b, None] - 1 - np.arange(legs.shape[1])[None, :], 0, None)
        ret = self._trip(
            rng,
            vehicles[b],
            np.take_along_axis(cams[b], rev_idx, axis=1),
            np.take_along_axis(legs[b], leg_idx, axis=1),
            length[b],
            arrive[b] + rng.uniform(1, 5, b.size) * 3600,
            weekend,
        )
        return [out, ret]

    # -- shared machinery ------------------------------------------------------------------------
    def _steps_for(self, seconds: float, dwell: bool) -> int:
        mean_leg_s = float(np.mean(self.net.neighbour_dist[:, :3])) * 1.4 / (30 / 3.6) + (120 if dwell else 0)
        return int(min(400, max(4, seconds / mean_leg_s * 1.6)))

    def _walk_reads(
        self,
        rng: np.random.Generator,
        vehicles: np.ndarray,
        starts: np.ndarray,
        ends: np.ndarray,
        steps: int,
        dwell_prob: float,
        weekend: bool,
    ) -> tuple:
        start_cam = rng.integers(0, self.net.size, vehicles.size)
        cams, legs = random_walks(self.net, rng, start_cam, steps)
        speed = trip_speeds_mps(rng, vehicles.size) * rush_factor(starts, weekend)
        arrival = timeline(rng, legs, starts, speed, dwell_prob)
        valid = arrival < ends[:, None]
        return self._flatten(cams, arrival, vehicles, valid)

    def _trip(
        self,
        rng: np.random.Generator,
        vehicles: np.ndarray,
        cams: np.ndarray,
        legs: np.ndarray,
        length: np.ndarray,
        depart: np.ndarray,
        weekend: bool,
        with_arrival: bool = False,
    ) -> Any:
        speed = trip_speeds_mps(rng, vehicles.size) * rush_factor(depart, weekend)
        arrival = timeline(rng, legs, depart, speed)
        valid = np.arange(cams.shape[1])[None, :] <= length[:, None]
        reads = self._flatten(cams, arrival, vehicles, valid)
        if with_arrival:
            return reads, np.take_along_axis(arrival, length[:, None], axis=1)[:, 0]
        return reads

    def _flatten(self, cams: np.ndarray, arrival: np.ndarray, vehicles: np.ndarray, valid: np.ndarray) -> tuple:
        valid = valid & (arrival < DAY_S)
        direction = directions(self.net, cams)
        rows = np.broadcast_to(vehicles[:, None], cams.shape)
        return cams[valid], arrival[valid], rows[valid], direction[valid]

    def _observe(
        self,
        rng: np.random.Generator,
        day_index: int,
        day: dt.date,
        cams: np.ndarray,
        local_t: np.ndarray,
        vehicle: np.ndarray,
        direction: np.ndarray,
    ) -> ReadBatch:
        """From passes to reads: capture rate, outages, skew, misreads, double captures, malformed rows."""
        p = self.params
        t_true = (day_start_epoch(day) + local_t - utc_offset_s(day)).astype(np.int64)
        day_lo = day_start_epoch(day)
        keep = (rng.random(cams.size) < p.capture_rate) & ~self.cameras.in_outage(day_index, cams, t_true)
        keep &= (t_true >= day_lo) & (t_true < day_lo + DAY_S)
        cams, t_true, vehicle, direction = cams[keep], t_true[keep], vehicle[keep], direction[keep]
        n = cams.size
        plate = self.population.plates[vehicle].astype(object)
        confidence = np.round(rng.beta(8, 1.2, n) * 0.2 + 0.79, 3).astype(np.float32)
        mis = np.flatnonzero(rng.random(n) < p.misread_share)
        for i in mis:
            plate[i] = misread(plate[i], rng)
        changed = mis[plate[mis] != self.population.plates[vehicle[mis]]]
        confidence[changed] = np.round(rng.uniform(0.40, 0.78, changed.size), 3)
        batch = ReadBatch(
            cams.astype(np.int32),
            t_true + self.cameras.skew_s[cams],
            plate,
            confidence,
            self.population.countries[vehicle],
            direction,
            rng.integers(1, 4, n).astype(np.int8),
        )
        dup = np.flatnonzero(rng.random(n) < p.double_capture_share)
        twin = batch.take(dup)
        twin.t = twin.t + rng.integers(1, 3, dup.size)
        twin.confidence = np.clip(twin.confidence + rng.normal(0, 0.02, dup.size), 0.4, 0.99).astype(np.float32)
        twin.confidence = np.round(twin.confidence, 3)
        batch = ReadBatch.concat([batch, twin])
        return add_malformed(rng, batch, p.malformed_share)

    def _empty(self) -> ReadBatch:
        return empty_batch()


def empty_batch() -> ReadBatch:
    return ReadBatch(
        np.zeros(0, np.int32),
        np.zeros(0, np.int64),
        np.zeros(0, object),
        np.zeros(0, np.float32),
        np.zeros(0, object),
        np.zeros(0, object),
        np.zeros(0, np.int8),
    )


def add_malformed(rng: np.random.Generator, batch: ReadBatch, share: float) -> ReadBatch:
    """Corrupted *copies* of real reads (new read ids): the valid reads stay exactly as generated."""
    n_bad = int(rng.binomial(batch.size, share)) if batch.size else 0
    if n_bad == 0:
        return batch
    bad = batch.take(rng.integers(0, batch.size, n_bad))
    bad.malformed = rng.integers(MALFORMED_EMPTY_PLATE, MALFORMED_BAD_CONF + 1, n_bad).astype(np.int8)
    return ReadBatch.concat([batch, bad])


def camera_behaviour(params: SimulationParams, net: CameraNetwork, days: list[dt.date]) -> CameraBehaviour:
    rng = np.random.default_rng(np.random.SeedSequence([params.seed, 4]))
    skewed = rng.random(net.size) < params.skewed_camera_share
    skew = np.where(skewed, rng.choice([-1, 1], net.size) * rng.integers(10, 31, net.size), 0).astype(np.int64)
    start = np.full((len(days), net.size), -1, dtype=np.int64)
    end = np.full((len(days), net.size), -1, dtype=np.int64)
    for d, day in enumerate(days):
        down = rng.random(net.size) < params.outage_camera_share
        begin = day_start_epoch(day) + rng.integers(0, DAY_S - 5400, net.size)
        length = rng.integers(10 * 60, 90 * 60 + 1, net.size)  # never 2 h: those are planted, not background
        start[d] = np.where(down, begin, -1)
        end[d] = np.where(down, begin + length, -1)
    return CameraBehaviour(skew, start, end)


def confusable_count(plate: str) -> int:
    return sum(ch in CONFUSABLE_SWAPS or ch == "0" for ch in plate)
