"""Ground truth beyond the planted patterns: what the background produced by chance.

For each rule the simulator checks the reads and crimes it actually wrote (valid rows only, times as
observed, plates as read) twice: with a *strict* version of the rule (a clear margin inside the
definition: a correct detector must flag it) and a *generous* one (a margin outside it). Strict hits
that were not planted go into ``flags`` with ``"planted": false``; generous-only hits go into
``ignore``: the evaluation counts a flag on them neither as a true nor as a false positive, because
whether a correct detector flags them depends on rounding, on clock-skew handling or on scores the rule
leaves to the detector (convoy lift, Gi* false-discovery control, a vehicle's rarity).

vehicle_near_crimes is the exception the brief asks for: truth holds only the planted offenders; every
other plate read within the radius and time window of >= min_crimes crimes (fleet vehicles above all)
is in ``ignore``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

import h3
import numpy as np
import pandas as pd
from scipy.spatial import cKDTree
from scipy.stats import norm

from das.config import Settings
from das_tools.simulator.crimes import NO_TIME, CrimeSet, crime_xy
from das_tools.simulator.network import CameraNetwork
from das_tools.simulator.traffic import MALFORMED_NONE, ReadBatch
from jobs.detectors.statistics import benjamini_hochberg, getis_ord_gi_star

HOUR_S = 3600


@dataclass
class ReadsAccumulator:
    """Folds the written reads, chunk by chunk, into what the truth needs.

    The pairwise checks keep every valid read as 20 bytes (camera, time, plate code, confidence), plus one
    dictionary entry per distinct plate as read, so memory is bounded by ``limit`` reads: about 1 GB of reads
    at the default 50M, and the plates on top.
    """

    net: CameraNetwork
    period_start: int  # first reads-day 00:00 UTC
    hours: int
    near_crimes: NearCrimeIndex
    keep_reads: bool
    limit: int = 50_000_000
    hourly: np.ndarray = field(init=False)
    near_pairs: set[tuple[str, int]] = field(default_factory=set)
    kept: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    plate_codes: dict[str, int] = field(default_factory=dict)
    total: int = 0

    def __post_init__(self) -> None:
        self.hourly = np.zeros((self.net.size, self.hours), dtype=np.int64)

    def add(self, batch: ReadBatch) -> None:
        valid = batch.take(np.flatnonzero(batch.malformed == MALFORMED_NONE))
        self.total += valid.size
        hour = (valid.t - self.period_start) // HOUR_S
        inside = (hour >= 0) & (hour < self.hours)
        np.add.at(self.hourly, (valid.cam[inside], hour[inside]), 1)
        self.near_pairs.update(self.near_crimes.matches(valid))
        if self.keep_reads:
            self.kept.append(
                (valid.cam.astype(np.int32), valid.t.astype(np.int64), self._encode(valid.plate),
                 valid.confidence.astype(np.float32))
            )  # fmt: skip
            if self.total > self.limit:  # more than the memory bound allows: give the pairwise checks up
                self.keep_reads = False
                self.kept = []
                self.plate_codes = {}

    def _encode(self, plates: np.ndarray) -> np.ndarray:
        distinct, inverse = np.unique(plates.astype(str), return_inverse=True)
        codes = np.fromiter(
            (self.plate_codes.setdefault(p, len(self.plate_codes)) for p in distinct.tolist()),
            dtype=np.int32,
            count=len(distinct),
        )
        return codes[inverse]

    def plate_names(self) -> np.ndarray:
        """Plate code -> plate as read."""
        names = np.empty(len(self.plate_codes), dtype=object)
        for plate, code in self.plate_codes.items():
            names[code] = plate
        return names

    def reads_frame(self) -> pd.DataFrame:
        """The kept reads: cam, t, plate (a code: see ``plate_names``) and confidence."""
        if not self.kept:
            return pd.DataFrame(
                {
                    "cam": np.zeros(0, np.int32),
                    "t": np.zeros(0, np.int64),
                    "plate": np.zeros(0, np.int32),
                    "confidence": np.zeros(0, np.float32),
                }
            )
        cam, t, plate, confidence = (np.concatenate(part) for part in zip(*self.kept, strict=True))
        return pd.DataFrame({"cam": cam, "t": t, "plate": plate, "confidence": confidence})


class NearCrimeIndex:
    """(camera, time window) pairs where a read counts as near a crime, with a generous margin."""

    def __init__(
        self, net: CameraNetwork, crimes: CrimeSet, radius_m: float, window_s: float, lo: int, hi: int
    ) -> None:
        t_from = np.asarray(crimes.t_from)
        t_to = np.asarray(crimes.t_to)
        t_end = np.where(t_to == NO_TIME, t_from, t_to)
        active = np.flatnonzero((t_end + window_s >= lo) & (t_from - window_s < hi))
        x, y = crime_xy(crimes)
        cams: list[int] = []
        ids: list[int] = []
        if active.size:
            near = net.tree().query_ball_point(np.column_stack([x[active], y[active]]), radius_m)
            for crime, found in zip(active, near, strict=True):
                cams.extend(found)
                ids.extend([int(crime)] * len(found))
        order = np.argsort(np.asarray(cams, dtype=np.int64), kind="stable")
        self.cam = np.asarray(cams, dtype=np.int64)[order]
        self.crime = np.asarray(ids, dtype=np.int64)[order]
        self.lo = t_from[self.crime] - window_s
        self.hi = t_end[self.crime] + window_s

    def matches(self, b: ReadBatch) -> set[tuple[str, int]]:
        if self.cam.size == 0 or b.size == 0:
            return set()
        start = np.searchsorted(self.cam, b.cam, "left")
        count = np.searchsorted(self.cam, b.cam, "right") - start
        read = np.repeat(np.arange(b.size), count)
        offset = np.arange(read.size) - np.repeat(np.cumsum(count) - count, count)
        pair = start[read] + offset
        ok = (b.t[read] >= self.lo[pair]) & (b.t[read] <= self.hi[pair])
        return set(zip(b.plate[read[ok]].tolist(), self.crime[pair[ok]].tolist(), strict=True))


def item(subject: str, related: list[str] | None = None, planted: bool = False, note: str = "") -> dict:
    return {"subject": subject, "related": related or [], "planted": planted, "note": note}


# -- vehicle_near_crimes -----------------------------------------------------------------------------
def near_crimes_ignore(acc: ReadsAccumulator, min_crimes: int, offenders: set[str], crime_ids: list[str]) -> list[dict]:
    per_plate: dict[str, set[int]] = defaultdict(set)
    for plate, crime in acc.near_pairs:
        per_plate[plate].add(crime)
    return [
        item(plate, sorted(crime_ids[c] for c in crimes), note="read near crimes by chance (not planted)")
        for plate, crimes in sorted(per_plate.items())
        if len(crimes) >= min_crimes and plate not in offenders
    ]


# -- camera_silent -----------------------------------------------------------------------------------
def silent_runs(
    hourly: np.ndarray, min_expected: float, ratio: float, min_hours: int, multi_day: bool
) -> dict[int, int]:
    """Cameras with a run of silent hours, as the detector defines them: camera -> longest run (hours).

    expected(c, h) = share_c x network(h) (per hour of day with two days or more); an hour is silent
    when expected >= min_expected and observed < ratio x expected; a non-silent hour breaks the run.
    """
    active_hours = np.flatnonzero(hourly.sum(axis=0) > 0)
    if active_hours.size == 0:
        return {}
    hourly = hourly[:, active_hours[0] : active_hours[-1] + 1]
    network = hourly.sum(axis=0).astype(float)
    if multi_day:
        hod = np.arange(hourly.shape[1]) % 24
        cam_hod = np.stack([hourly[:, hod == h].sum(axis=1) for h in range(24)], axis=1)
        net_hod = cam_hod.sum(axis=0)
        share = np.divide(cam_hod, net_hod, out=np.zeros_like(cam_hod, dtype=float), where=net_hod > 0)[:, hod]
    else:
        share = (hourly.sum(axis=1) / max(network.sum(), 1))[:, None]
    expected = share * network[None, :]
    silent = (expected >= min_expected) & (hourly < ratio * expected)
    out: dict[int, int] = {}
    for cam in np.flatnonzero(silent.any(axis=1)):
        run = best = 0
        for flag in silent[cam]:
            run = run + 1 if flag else 0
            best = max(best, run)
        if best >= min_hours:
            out[int(cam)] = best
    return out


# -- cloned_plate ------------------------------------------------------------------------------------
def impossible_pairs(
    reads: pd.DataFrame, net: CameraNetwork, min_sep: float, max_kmh: float, skew_s: float, min_conf: float, lags: int
) -> set[int]:
    """Plates (codes) with two reads within ``lags`` of each other that no vehicle could drive between."""
    if reads.empty:
        return set()
    r = reads[reads["confidence"] >= min_conf].sort_values(["plate", "t"], kind="stable")
    plate, cam, t = r["plate"].to_numpy(), r["cam"].to_numpy(), r["t"].to_numpy()
    found: set[int] = set()
    for k in range(1, lags + 1):
        same = plate[k:] == plate[:-k]
        d = net.distance(cam[k:], cam[:-k])
        dt_s = np.abs(t[k:] - t[:-k]).astype(float)
        kmh = d / np.maximum(dt_s + skew_s, 1.0) * 3.6
        hit = same & (d >= min_sep) & (kmh > max_kmh)
        found.update(plate[k:][hit].tolist())
    return found


# -- convoy ------------------------------------------------------------------------------------------
def _pair_keys(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """One int64 per unordered pair of plate codes."""
    lo, hi = np.minimum(a, b).astype(np.int64), np.maximum(a, b).astype(np.int64)
    return (lo << 32) | hi


def _lagged_matches(group: np.ndarray, t: np.ndarray, delta_s: float) -> Iterator[tuple[np.ndarray, int]]:
    """(i, k) for rows i and i + k in one group within ``delta_s``; rows sorted by (group, t).

    Lag k stops at the first k with no such row: sorted, no later lag can have one either.
    """
    for k in range(1, len(t)):
        close = np.flatnonzero((group[k:] == group[:-k]) & (t[k:] - t[:-k] <= delta_s))
        if close.size == 0:
            return
        yield close, k


def _quiet(reads: pd.DataFrame, window_s: float, max_window_reads: int) -> pd.DataFrame:
    """The reads the detector pairs: those with at most ``max_window_reads`` reads at their camera within
    ``window_s`` either side (itself included). Times are whole seconds on both sides, so this is exact."""
    key = (reads["cam"].to_numpy().astype(np.int64) << 32) | (reads["t"].to_numpy() - reads["t"].min())
    ordered = np.sort(key)
    window = int(window_s)
    count = np.searchsorted(ordered, key + window, "right") - np.searchsorted(ordered, key - window, "left")
    return reads[count <= max_window_reads]


def _segments(reads: pd.DataFrame, segment_max_s: float) -> pd.DataFrame:
    """Each read with the plate's next or next-but-one read when that is at another camera within
    ``segment_max_s``: camera pair (lo < hi) and the plate's time at each. Unordered, so a vehicle going
    the other way matches too (the detector allows that); the next-but-one read covers two reads of one
    second, which the detector orders by read id."""
    r = reads.sort_values(["plate", "t"], kind="stable")
    plate, cam, t = r["plate"].to_numpy(), r["cam"].to_numpy(), r["t"].to_numpy()
    parts = []
    for k in (1, 2):
        i = np.flatnonzero((plate[k:] == plate[:-k]) & (cam[k:] != cam[:-k]) & (t[k:] - t[:-k] <= segment_max_s))
        first, second = cam[i], cam[i + k]
        swap = first > second
        parts.append(
            pd.DataFrame(
                {
                    "plate": plate[i],
                    "lo": np.where(swap, second, first),
                    "hi": np.where(swap, first, second),
                    "t_lo": np.where(swap, t[i + k], t[i]),
                    "t_hi": np.where(swap, t[i], t[i + k]),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _most_occasions(keys: np.ndarray, t: np.ndarray, gap_s: float) -> pd.Series:
    """Per pair key: the most events that are pairwise more than ``gap_s`` apart (greedy, which is optimal).

    An upper bound on the occasions of any subset of the events: each occasion's first event is more than
    ``gap_s`` after the previous occasion's last. The truth's events are a superset of the detector's (wider
    margins, busy windows included), and extra events can merge occasions but never raise this bound.
    """
    if keys.size == 0:
        return pd.Series(dtype="int64")
    distinct, dense = np.unique(keys, return_inverse=True)
    composite = (dense.astype(np.int64) << 32) | (t - t.min()).astype(np.int64)
    order = np.argsort(composite, kind="stable")
    composite, dense = composite[order], dense[order]
    jump = np.searchsorted(composite, composite + int(gap_s), "right")  # first event more than gap_s later
    current = np.flatnonzero(np.concatenate([[True], dense[1:] != dense[:-1]]))  # each key's first event
    count = np.ones(current.size, dtype=np.int64)
    active = np.arange(current.size)
    while active.size:
        following = jump[current[active]]
        ok = following < composite.size
        ok[ok] = dense[following[ok]] == dense[current[active[ok]]]
        moved_on = active[ok]
        current[moved_on] = following[ok]
        count[moved_on] += 1
        active = moved_on
    return pd.Series(count, index=distinct)


def co_travel_groups(
    reads: pd.DataFrame,
    delta_s: float,
    segment_max_s: float,
    min_cameras: int,
    min_occasions: int,
    gap_s: float,
    busy: tuple[float, int] | None = None,
) -> list[tuple[int, int]]:
    """Pairs of plates (codes) that pass two successive cameras together (both ends within ``delta_s``) on
    >= ``min_occasions`` occasions and are co-read (same camera, within ``delta_s``) at >= ``min_cameras``.

    ``busy`` = (window_s, max_window_reads): segments are built, as the detector numbers a plate's reads, from
    the reads outside very busy windows only (co-reads still use every read). Occasions are counted as an
    upper bound (``_most_occasions``), so the list holds every pair the detector can flag.

    Linear in the reads apart from the pairs themselves: only vehicles that share a camera-to-camera
    segment are paired, and only their reads are then co-read exactly. Memory: a few integer columns per read.
    """
    if reads.empty:
        return []
    quiet = _quiet(reads, *busy) if busy else reads
    seg = _segments(quiet, segment_max_s).sort_values(["lo", "hi", "t_lo"], kind="stable")
    group = seg["lo"].to_numpy().astype(np.int64) << 32 | seg["hi"].to_numpy().astype(np.int64)
    plate, t_lo, t_hi = seg["plate"].to_numpy(), seg["t_lo"].to_numpy(), seg["t_hi"].to_numpy()
    keys, times = [], []
    for i, k in _lagged_matches(group, t_lo, delta_s):
        ok = i[(np.abs(t_hi[i + k] - t_hi[i]) <= delta_s) & (plate[i + k] != plate[i])]
        keys.append(_pair_keys(plate[ok], plate[ok + k]))
        times.append(t_lo[ok])
    if not keys:
        return []
    moved = _most_occasions(np.concatenate(keys), np.concatenate(times), gap_s)
    candidates = np.sort(moved.index.to_numpy()[moved.to_numpy() >= min_occasions])
    if candidates.size == 0:
        return []

    # Exact co-reads, of the candidates' reads only.
    members = np.unique(np.concatenate([candidates >> 32, candidates & 0xFFFFFFFF]))
    r = reads[reads["plate"].isin(members)].sort_values(["cam", "t"], kind="stable")
    plate, cam, t = r["plate"].to_numpy(), r["cam"].to_numpy(), r["t"].to_numpy()
    rows = []
    for i, k in _lagged_matches(cam.astype(np.int64), t, delta_s):
        key = _pair_keys(plate[i], plate[i + k])
        at = np.minimum(np.searchsorted(candidates, key), candidates.size - 1)  # candidates are sorted
        keep = candidates[at] == key
        rows.append(pd.DataFrame({"key": key[keep], "cam": cam[i][keep], "t": t[i][keep]}))
    if not rows:
        return []
    co = pd.concat(rows, ignore_index=True)
    cameras = co.groupby("key")["cam"].nunique()
    occasions = _most_occasions(co["key"].to_numpy(), co["t"].to_numpy(), gap_s)
    enough = (cameras >= min_cameras).to_numpy() & (occasions.reindex(cameras.index) >= min_occasions).to_numpy()
    return [(int(key >> 32), int(key & 0xFFFFFFFF)) for key in sorted(cameras.index[enough].tolist())]


# -- near_repeat -------------------------------------------------------------------------------------
def near_repeat_clusters(
    crimes: CrimeSet, crime_types: list[str], distance_m: float, days: float, lookback_from: int
) -> list[list[int]]:
    """Connected components of same-type crimes within distance_m and days (times = window midpoints)."""
    slugs = np.array([c.lower().replace(" ", "-") for c in crimes.crime_type])
    t_from = np.asarray(crimes.t_from, dtype=float)
    t_to = np.asarray(crimes.t_to, dtype=float)
    mid = np.where(t_to == NO_TIME, t_from, (t_from + t_to) / 2)
    x, y = crime_xy(crimes)
    clusters: list[list[int]] = []
    for slug in crime_types:
        idx = np.flatnonzero((slugs == slug) & (t_from >= lookback_from))
        if idx.size < 2:
            continue
        parent = list(range(idx.size))
        tree = cKDTree(np.column_stack([x[idx], y[idx]]))
        for i, j in tree.query_pairs(distance_m):
            if abs(mid[idx[i]] - mid[idx[j]]) <= days * 86_400:
                parent[_root(parent, i)] = _root(parent, j)
        groups: dict[int, list[int]] = defaultdict(list)
        for i in range(idx.size):
            groups[_root(parent, i)].append(int(idx[i]))
        clusters.extend(sorted(g, key=lambda c: (mid[c], c)) for g in groups.values() if len(g) >= 2)
    return clusters


def _root(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


# -- emerging_hotspot --------------------------------------------------------------------------------
def hotspot_cells(
    crimes: CrimeSet,
    resolution: int,
    week_start: int,
    baseline_weeks: int,
    min_count: int,
    z_min: float,
    fdr_alpha: float | None,
) -> set[str]:
    """Cells hot in the current week by Gi* (k=1 disk, self included) on a study area of the cells with
    crimes plus their ring; with ``fdr_alpha`` the detector's Benjamini-Hochberg cut, else ``z > z_min``.
    """
    t = np.asarray(crimes.t_from)
    week = (t - week_start) // (7 * 86_400)
    use = (week >= -baseline_weeks) & (week <= 0)
    cells = [
        h3.latlng_to_cell(la, lo, resolution)
        for la, lo in zip(np.asarray(crimes.lat)[use], np.asarray(crimes.lon)[use], strict=True)
    ]
    if not cells:
        return set()
    frame = pd.DataFrame({"cell": cells, "week": week[use]})
    now = frame[frame["week"] == 0]["cell"].value_counts()
    base = frame[frame["week"] < 0]["cell"].value_counts() / baseline_weeks
    area = sorted({n for c in frame["cell"].unique() for n in h3.grid_disk(c, 1)})
    pos = {c: i for i, c in enumerate(area)}
    x_now = np.array([now.get(c, 0) for c in area], dtype=float)
    x_base = np.array([base.get(c, 0.0) for c in area], dtype=float)
    z = _gi_star(x_now, area, pos)
    z_base = _gi_star(x_base, area, pos)
    if fdr_alpha is None:
        hot = z > z_min
        base_hot = z_base > z_min
    else:
        hot = _bh(z) <= fdr_alpha
        base_hot = _bh(z_base) <= fdr_alpha
    change_hot = _gi_star(x_now - x_base, area, pos) > z_min
    keep = hot & (z > 0) & (x_now >= min_count) & (x_now > x_base) & (~base_hot | change_hot)
    return {area[i] for i in np.flatnonzero(keep)}


def _gi_star(x: np.ndarray, area: list[str], pos: dict[str, int]) -> np.ndarray:
    neighbours = [np.array([pos[c] for c in h3.grid_disk(cell, 1) if c in pos]) for cell in area]
    return getis_ord_gi_star(x, neighbours)


def _bh(z: np.ndarray) -> np.ndarray:
    return benjamini_hochberg(norm.sf(z))


def current_week_start(latest: int) -> int:
    """Monday 00:00 UTC of the week holding ``latest`` (epoch seconds)."""
    day = dt.datetime.fromtimestamp(latest, dt.UTC).date()
    monday = day - dt.timedelta(days=day.weekday())
    return int(dt.datetime.combine(monday, dt.time(0), tzinfo=dt.UTC).timestamp())


def settings_summary(settings: Settings) -> dict[str, object]:
    return {
        "cloned_plate": settings.cloned_plate.model_dump(),
        "convoy": settings.convoy.model_dump(),
        "vehicle_near_crimes": settings.vehicle_near_crimes.model_dump(),
        "near_repeat": {k: v for k, v in settings.near_repeat.model_dump().items() if not k.startswith("knox")},
        "emerging_hotspot": {**settings.emerging_hotspot.model_dump(), "h3_resolution": settings.h3_resolution},
        "camera_silent": settings.camera_silent.model_dump(),
    }
