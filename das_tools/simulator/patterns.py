"""Planted patterns, one family per flag type, with the traps that must *not* fire.

Planted vehicles get their own plates (canonically unique, like every plate), drive road-like routes that
avoid the planted silent cameras, are always captured and never misread (except the planted fuzzy hotlist
vehicles, whose reads are all misread). Their reads are merged into the first reads day; the silent
cameras go quiet on the last reads day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import h3
import numpy as np

from das.config import Settings
from das_tools.simulator.crimes import NO_TIME, CrimeSet, random_points_in_london
from das_tools.simulator.network import CameraNetwork, from_bng, random_walks, to_bng
from das_tools.simulator.params import SimulationParams
from das_tools.simulator.plates import display_form, has_confusable, misread
from das_tools.simulator.traffic import (
    DAY_S,
    CameraBehaviour,
    ReadBatch,
    day_start_epoch,
    directions,
    utc_offset_s,
)
from das_tools.simulator.truth import current_week_start

HOTLIST_NAMES = (
    ("stolen_vehicles", "Stolen vehicle"),
    ("wanted", "Driver wanted on warrant"),
    ("no_insurance", "No insurance"),
    ("intelligence", "Intelligence marker"),
)
OFFENDER_CRIME_TYPES = ("Theft from the person", "Robbery", "Vehicle crime", "Other theft")
HOTSPOT_CRIME_TYPES = (
    "Anti-social behaviour",
    "Violence and sexual offences",
    "Shoplifting",
    "Drugs",
    "Public order",
    "Theft from the person",
)


@dataclass(frozen=True)
class HotlistEntry:
    plate_raw: str
    list_name: str
    reason: str
    priority: str
    valid_from: int | None  # epoch seconds, None = always
    valid_to: int | None  # epoch seconds, None = open-ended


@dataclass
class PlantedTruth:
    subject: str
    related: list[str]
    planted: bool = True
    note: str = ""
    crime_refs: list[int] = field(default_factory=list)  # crime indices, turned into ids when written

    def to_dict(self) -> dict[str, object]:
        return {"subject": self.subject, "related": self.related, "planted": self.planted, "note": self.note}


@dataclass
class Plan:
    reads: list[ReadBatch] = field(default_factory=list)
    hotlist: list[HotlistEntry] = field(default_factory=list)
    truth: dict[str, list[PlantedTruth]] = field(default_factory=dict)
    negatives: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    silent_cameras: list[int] = field(default_factory=list)
    hotspot_cells: list[str] = field(default_factory=list)

    def add_truth(self, flag_type: str, item: PlantedTruth) -> None:
        self.truth.setdefault(flag_type, []).append(item)

    def add_negative(self, flag_type: str, **info: object) -> None:
        self.negatives.setdefault(flag_type, []).append(info)


class Planter:
    """Builds every planted pattern. Randomness comes from its own seeded stream."""

    def __init__(
        self,
        params: SimulationParams,
        settings: Settings,
        net: CameraNetwork,
        cameras: CameraBehaviour,
        days: list[dt.date],
        period_start: int,
        plates: list[str],
        countries: list[str],
    ) -> None:
        self.p = params
        self.settings = settings
        self.net = net
        self.cameras = cameras
        self.days = days
        self.period_start = period_start
        self.period_end = day_start_epoch(days[-1]) + DAY_S
        self.rng = np.random.default_rng(np.random.SeedSequence([params.seed, 5]))
        self.plates = list(plates)
        self.countries = list(countries)
        self.plan = Plan()
        self.excluded = np.zeros(net.size, dtype=bool)
        self.day0 = day_start_epoch(days[0])
        self.offset0 = utc_offset_s(days[0])
        self.used_sites: list[tuple[float, float]] = []  # BNG points of planted crime clusters

    # -- helpers ---------------------------------------------------------------------------------
    def new_plate(self, confusable: bool = False) -> str:
        for i, plate in enumerate(self.plates):
            if self.countries[i] == "GB" and (not confusable or has_confusable(plate)):
                self.countries.pop(i)
                return self.plates.pop(i)
        raise RuntimeError("the planted plate pool ran out; raise the pool size")

    def local(self, hours: float) -> int:
        """Epoch seconds of a local clock time on the first reads day."""
        return int(self.day0 + hours * 3600 - self.offset0)

    def route(self, legs: int, start: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """A walk of distinct, usable cameras: indices (legs+1,) and leg metres (legs,)."""
        for _ in range(200):
            first = int(self.rng.integers(0, self.net.size)) if start is None else start
            cams, dist = random_walks(self.net, self.rng, np.array([first]), legs, wander=0.3)
            cams, dist = cams[0], dist[0]
            if np.unique(cams).size == cams.size and not self.excluded[cams].any():
                return cams, dist
        raise RuntimeError("no usable planted route found; the camera network is too small")

    def times(self, depart: float, dist: np.ndarray, kmh: float | None = None) -> np.ndarray:
        speed = (kmh or float(self.rng.uniform(22, 40))) / 3.6
        legs_s = dist * self.rng.uniform(1.25, 1.45) * self.rng.uniform(0.92, 1.08, dist.size) / speed
        return np.concatenate([[depart], depart + np.cumsum(legs_s)]).astype(np.int64)

    def emit(
        self, cams: np.ndarray, t_true: np.ndarray, plate: str | list[str], confidence: np.ndarray | None = None
    ) -> None:
        n = cams.size
        plates = np.array([plate] * n if isinstance(plate, str) else plate, dtype=object)
        conf = confidence if confidence is not None else np.round(self.rng.uniform(0.86, 0.99, n), 3)
        direction = directions(self.net, cams[None, :])[0] if n > 1 else np.array(["N"] * n)
        self.plan.reads.append(
            ReadBatch(
                cams.astype(np.int32),
                t_true.astype(np.int64) + self.cameras.skew_s[cams],
                plates,
                conf.astype(np.float32),
                np.array(["GB"] * n, dtype=object),
                direction.astype(object),
                self.rng.integers(1, 4, n).astype(np.int8),
            )
        )

    def far_site(self, min_gap_m: float = 2500.0) -> tuple[float, float]:
        """A point in London at least ``min_gap_m`` from every other planted crime site."""
        for _ in range(500):
            lon, lat = random_points_in_london(self.rng, 1)
            x, y = to_bng(lon, lat)
            if all(np.hypot(x[0] - sx, y[0] - sy) >= min_gap_m for sx, sy in self.used_sites):
                self.used_sites.append((float(x[0]), float(y[0])))
                return float(x[0]), float(y[0])
        raise RuntimeError("no free site for a planted crime cluster")

    def jitter_point(self, x: float, y: float, r_min: float, r_max: float) -> tuple[float, float]:
        r = self.rng.uniform(r_min, r_max)
        a = self.rng.uniform(-np.pi, np.pi)
        lon, lat = from_bng(np.array([x + r * np.cos(a)]), np.array([y + r * np.sin(a)]))
        return float(lon[0]), float(lat[0])

    # -- patterns --------------------------------------------------------------------------------
    def build(self, crimes: CrimeSet) -> Plan:
        self.silent_cameras()
        self.hotlist()
        self.clones()
        self.convoys()
        self.offenders(crimes)
        self.near_repeats(crimes)
        self.hotspots(crimes)
        self.cancel_outages_on_planted_reads()
        return self.plan

    def silent_cameras(self) -> None:
        """Busy cameras that go silent from late afternoon to the end of the last reads day."""
        in_degree = np.bincount(self.net.neighbours.ravel(), minlength=self.net.size)
        busy = np.argsort(-in_degree, kind="stable")[: max(10, self.net.size // 4)]
        chosen = self.rng.choice(busy, size=min(self.p.planted.silent_cameras, busy.size), replace=False)
        last = len(self.days) - 1
        last_start = day_start_epoch(self.days[last])
        for cam in chosen:
            begin = int(last_start + self.rng.uniform(16, 18) * 3600 - utc_offset_s(self.days[last]))
            self.cameras.outage_start[last, cam] = begin
            self.cameras.outage_end[last, cam] = last_start + DAY_S + 1
            self.excluded[cam] = True
            self.plan.silent_cameras.append(int(cam))
            hours = (last_start + DAY_S - begin) / 3600
            self.plan.add_truth(
                "camera_silent",
                PlantedTruth(
                    str(self.net.camera_id[cam]), [], note=f"no reads for the last {hours:.1f} h of {self.days[last]}"
                ),
            )

    def hotlist(self) -> None:
        counts = self.p.planted
        for kind, n in (
            ("exact", counts.hotlist_exact),
            ("fuzzy", counts.hotlist_fuzzy),
            ("expired", counts.hotlist_expired),
        ):
            for _ in range(n):
                plate = self.new_plate(confusable=kind == "fuzzy")
                cams, dist = self.route(int(self.rng.integers(3, 8)))
                t = self.times(self.local(self.rng.uniform(7, 20)), dist)
                list_name, reason = HOTLIST_NAMES[int(self.rng.integers(0, len(HOTLIST_NAMES)))]
                priority = str(self.rng.choice(["high", "medium", "low"]))
                valid_from = self.day0 - int(self.rng.integers(2, 60)) * DAY_S
                if kind == "expired":
                    valid_to: int | None = self.day0 - int(self.rng.integers(1, 20)) * DAY_S
                else:
                    valid_to = (
                        None if self.rng.random() < 0.5 else self.period_end + int(self.rng.integers(10, 90)) * DAY_S
                    )
                self.plan.hotlist.append(
                    HotlistEntry(display_form(plate, "GB"), list_name, reason, priority, valid_from, valid_to)
                )
                if kind == "fuzzy":
                    seen = misread(plate, self.rng)  # a dirty plate: the same character misread every time
                    self.emit(cams, t, seen, np.round(self.rng.uniform(0.55, 0.78, cams.size), 3))
                    self.plan.add_truth(
                        "hotlist_hit",
                        PlantedTruth(plate, [], note=f"fuzzy: always read as {seen}, on list {list_name}"),
                    )
                elif kind == "exact":
                    self.emit(cams, t, plate)
                    self.plan.add_truth("hotlist_hit", PlantedTruth(plate, [], note=f"exact, on list {list_name}"))
                else:
                    self.emit(cams, t, plate)
                    self.plan.add_negative(
                        "hotlist_hit", subject=plate, note="entry expired before every read of the vehicle"
                    )
        taken = {normalised for normalised in (e.plate_raw.replace(" ", "") for e in self.plan.hotlist)}
        for _ in range(self.p.hotlist_background):  # vehicles of interest that never pass a camera
            plate = self.new_plate()
            assert plate not in taken
            list_name, reason = HOTLIST_NAMES[int(self.rng.integers(0, len(HOTLIST_NAMES)))]
            self.plan.hotlist.append(
                HotlistEntry(
                    display_form(plate, "GB") if self.rng.random() < 0.3 else plate,
                    list_name,
                    reason,
                    str(self.rng.choice(["high", "medium", "low"])),
                    self.day0 - int(self.rng.integers(1, 200)) * DAY_S,
                    None if self.rng.random() < 0.7 else self.day0 - int(self.rng.integers(1, 30)) * DAY_S,
                )
            )

    def clones(self) -> None:
        for _ in range(self.p.planted.clones):
            plate = self.new_plate()
            for _ in range(200):
                cams_a, dist_a = self.route(int(self.rng.integers(3, 6)))
                cams_b, dist_b = self.route(int(self.rng.integers(3, 6)))
                if self.net.distance(cams_a, cams_b[:, None]).min() >= 12_000:
                    break
            else:
                raise RuntimeError("no two routes 12 km apart: the camera network is too small for clones")
            depart = self.local(self.rng.uniform(8, 19))
            self.emit(cams_a, self.times(depart, dist_a), plate)
            self.emit(cams_b, self.times(depart + self.rng.uniform(-30, 30), dist_b), plate)
            gap_km = self.net.distance(cams_a[0], cams_b[0]) / 1000
            self.plan.add_truth(
                "cloned_plate", PlantedTruth(plate, [], note=f"two vehicles {gap_km:.1f} km apart at the same time")
            )
        # Traps: neighbouring cameras 300-900 m apart, read seconds apart. Too close to be a clone.
        unskewed = self.cameras.skew_s == 0
        pairs = np.argwhere((self.net.neighbour_dist >= 300) & (self.net.neighbour_dist <= 900))
        for _ in range(self.p.planted.clone_traps):
            for _ in range(500):
                a, k = pairs[int(self.rng.integers(0, len(pairs)))]
                b = self.net.neighbours[a, k]
                if unskewed[a] and unskewed[b] and not self.excluded[[a, b]].any():
                    break
            else:
                raise RuntimeError("no camera pair 300-900 m apart for the clone traps")
            plate = self.new_plate()
            t0 = self.local(self.rng.uniform(8, 19))
            self.emit(np.array([a, b]), np.array([t0, t0 + int(self.rng.integers(5, 21))]), plate)
            self.plan.add_negative(
                "cloned_plate",
                subject=plate,
                note=f"read at cameras {self.net.distance(a, b):.0f} m apart seconds apart",
            )

    def convoys(self) -> None:
        for g in range(self.p.planted.convoys):
            size = 2 + g % 2
            plates = [self.new_plate() for _ in range(size)]
            cams, dist = self.route(int(self.rng.integers(5, 8)))
            gaps = np.cumsum(self.rng.uniform(8, 25, size))
            gaps[0] = 0
            out_depart = self.local(self.rng.uniform(7.5, 10))
            back_depart = self.local(self.rng.uniform(15, 19))
            for trip_cams, trip_dist, depart in ((cams, dist, out_depart), (cams[::-1], dist[::-1], back_depart)):
                lead = self.times(depart, trip_dist)
                for member, plate in enumerate(plates):
                    jitter = self.rng.integers(-4, 5, lead.size) if member else 0
                    self.emit(trip_cams, lead + int(gaps[member]) + jitter, plate)
            # Members also drive alone at midday, so not all of their reads are together.
            for plate in plates:
                solo_cams, solo_dist = self.route(int(self.rng.integers(2, 5)))
                self.emit(solo_cams, self.times(self.local(self.rng.uniform(11.5, 13.5)), solo_dist), plate)
            self.plan.add_truth(
                "convoy",
                PlantedTruth(
                    min(plates),
                    sorted(plates)[1:],
                    note=f"{size} vehicles together at {cams.size} cameras, morning and afternoon",
                ),
            )
        for g in range(self.p.planted.convoy_traps):
            a, b = self.new_plate(), self.new_plate()
            if g % 2 == 0:
                # Same busy stretch, same time, twice a day, but only 3 cameras: must not fire.
                cams, dist = self.route(2)
                for depart, c, d in (
                    (self.local(self.rng.uniform(7.5, 9)), cams, dist),
                    (self.local(self.rng.uniform(17, 18.5)), cams[::-1], dist[::-1]),
                ):
                    t = self.times(depart, d)
                    self.emit(c, t, a)
                    self.emit(c, t + int(self.rng.integers(10, 40)), b)
                note = "together at the same 3 cameras morning and evening"
            else:
                # Together along 6 cameras, but only once: must not fire.
                cams, dist = self.route(5)
                t = self.times(self.local(self.rng.uniform(7.5, 9)), dist)
                self.emit(cams, t, a)
                self.emit(cams, t + int(self.rng.integers(10, 40)), b)
                for plate in (a, b):
                    c2, d2 = self.route(4)
                    self.emit(c2, self.times(self.local(self.rng.uniform(15, 20)), d2), plate)
                note = "together along 6 cameras on one occasion only"
            self.plan.add_negative("convoy", subject=min(a, b), related=[max(a, b)], note=note)

    def offenders(self, crimes: CrimeSet) -> None:
        for i in range(self.p.planted.offenders):
            plate = self.new_plate()
            cams, dist = self.route(int(self.rng.integers(8, 11)))
            t = self.times(self.local(self.rng.uniform(9, 20)), dist)
            self.emit(cams, t, plate)
            # Crimes near 3-4 of the cameras passed, at least 1.5 km apart from one another.
            picked: list[int] = []
            for j in self.rng.permutation(cams.size):
                if all(self.net.distance(cams[j], cams[k]) >= 1500 for k in picked):
                    picked.append(int(j))
                if len(picked) == 4:
                    break
            if len(picked) < 3:
                picked = [0, cams.size // 2, cams.size - 1]
            refs = []
            for j in picked:
                lon, lat = self.jitter_point(self.net.x[cams[j]], self.net.y[cams[j]], 60, 250)
                start = int(t[j] + self.rng.integers(-12 * 60, 12 * 60))
                end = start + int(self.rng.integers(300, 1200)) if self.rng.random() < 0.5 else NO_TIME
                refs.append(
                    crimes.add(str(self.rng.choice(OFFENDER_CRIME_TYPES)), start, end, lon, lat, tag=f"offender{i}")
                )
            self.plan.add_truth(
                "vehicle_near_crimes",
                PlantedTruth(plate, [], note=f"series offender read near {len(refs)} of its crimes", crime_refs=refs),
            )

    def near_repeats(self, crimes: CrimeSet) -> None:
        """Clusters of 3-4 burglaries within 100 m of a centre, each 1-4 days after the previous."""
        last_day = (self.day0 - self.period_start) // DAY_S - 1  # before the reads days
        for i in range(self.p.planted.near_repeat_clusters):
            x, y = self.far_site()
            size = int(self.rng.integers(3, 5))
            day = float(self.rng.uniform(0, max(1, last_day - 4 * size)))
            for _ in range(size):
                lon, lat = self.jitter_point(x, y, 0, 95)
                start = self.period_start + int(day * DAY_S)
                crimes.add(
                    "Burglary", start, start + int(self.rng.uniform(1, 6) * 3600), lon, lat, tag=f"near_repeat{i}"
                )
                day += float(self.rng.uniform(1, 4))

    def hotspots(self, crimes: CrimeSet) -> None:
        """A burst of crimes in one H3 cell in the latest week (before the reads days where possible)."""
        res = self.settings.h3_resolution  # the detector's cells: one resolution everywhere (detector_params)
        # The detector's current week is the Monday-to-Monday UTC week holding the latest crime.
        week_start = max(current_week_start(self.period_end - 1), self.period_start)
        burst_end = self.day0 if self.day0 - week_start >= DAY_S else self.period_end
        for i in range(self.p.planted.hotspots):
            x, y = self.far_site(4000)
            lon0, lat0 = from_bng(np.array([x]), np.array([y]))
            cell = h3.latlng_to_cell(float(lat0[0]), float(lon0[0]), res)
            clat, clon = h3.cell_to_latlng(cell)
            cx, cy = to_bng(np.array([clon]), np.array([clat]))
            radius = h3.average_hexagon_edge_length(res, unit="m") * 0.3
            n = int(self.rng.integers(14, 19))
            for _ in range(n):
                lon, lat = self.jitter_point(float(cx[0]), float(cy[0]), 0, radius)
                start = int(self.rng.uniform(week_start + 3600, burst_end - 3600))
                crimes.add(str(self.rng.choice(HOTSPOT_CRIME_TYPES)), start, NO_TIME, lon, lat, tag=f"hotspot{i}")
            self.plan.hotspot_cells.append(cell)
            self.plan.add_truth(
                "emerging_hotspot", PlantedTruth(cell, [], note=f"{n} crimes in the latest week, none planted before")
            )

    def cancel_outages_on_planted_reads(self) -> None:
        """Short background outages must not hide planted reads: drop any outage that overlaps one."""
        if not self.plan.reads:
            return
        cam = np.concatenate([b.cam for b in self.plan.reads])
        t = np.concatenate([b.t for b in self.plan.reads]) - self.cameras.skew_s[cam]
        hit = self.cameras.in_outage(0, cam, t) & ~self.excluded[cam]
        self.cameras.outage_start[0, cam[hit]] = -1
        self.cameras.outage_end[0, cam[hit]] = -1
