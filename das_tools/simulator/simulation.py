"""run_simulation: cameras, crimes, hotlist and ANPR reads into a landing directory, plus truth.json."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from das.config import Settings, get_settings
from das.errors import DasError
from das_tools.simulator.crimes import OUTCOMES, CrimeSet, background_crimes, crime_xy
from das_tools.simulator.landing_writer import (
    CAMERA_COLUMNS,
    CRIME_COLUMNS,
    HOTLIST_COLUMNS,
    ReadsWriter,
    atomic_files,
    iso,
    write_csv,
    write_json,
)
from das_tools.simulator.network import CameraNetwork, build_network
from das_tools.simulator.params import SimulationParams
from das_tools.simulator.patterns import Plan, Planter
from das_tools.simulator.plates import generate_plates
from das_tools.simulator.traffic import (
    DAY_S,
    READ_SHARES,
    BackgroundTraffic,
    CameraBehaviour,
    Population,
    ReadBatch,
    camera_behaviour,
    day_start_epoch,
)
from das_tools.simulator.truth import (
    NearCrimeIndex,
    ReadsAccumulator,
    co_travel_groups,
    current_week_start,
    hotspot_cells,
    impossible_pairs,
    item,
    near_crimes_ignore,
    near_repeat_clusters,
    settings_summary,
    silent_runs,
)
from schemas.tables import FLAG_TYPES

FORMAT_VERSION = 1
PLANTED_PLATE_POOL = 2_000


@dataclass
class SimulationResult:
    out_dir: Path
    truth_path: Path
    files: list[Path] = field(default_factory=list)
    reads_written: int = 0  # ANPR rows, malformed included
    crimes_written: int = 0
    hotlist_entries: int = 0
    cameras: int = 0
    seconds: float = 0.0
    truth: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        counts = ", ".join(f"{k}={len(v)}" for k, v in self.truth.get("flags", {}).items())
        return (
            f"{self.reads_written:,} reads, {self.crimes_written:,} crimes, {self.hotlist_entries} hotlist "
            f"entries at {self.cameras} cameras in {self.seconds:.1f} s -> {self.out_dir}; truth: {counts}"
        )


def run_simulation(
    params: SimulationParams,
    out_dir: Path,
    progress: bool = True,
    *,
    overwrite: bool = False,
    settings: Settings | None = None,
) -> SimulationResult:
    """Simulate, write landing files under ``out_dir/<source>/`` and ``out_dir/truth.json``."""
    started = time.perf_counter()
    settings = settings or get_settings()
    out_dir = Path(out_dir)
    truth_path = out_dir / "truth.json"
    if truth_path.exists() and not overwrite:
        raise DasError(f"{out_dir} already holds a simulation (truth.json); pick an empty directory or overwrite")

    net = build_network(params.cameras_path, params.cameras, _rng(params, 0))
    start = params.resolved_start_date()
    days = [start + dt.timedelta(days=i) for i in range(params.days_of_reads)]
    period_end = day_start_epoch(days[-1]) + DAY_S
    period_start = period_end - params.crime_days * DAY_S
    behaviour = camera_behaviour(params, net, days)

    sizes = _population_sizes(params, net, behaviour, days)
    plates, countries = generate_plates(_rng(params, 6), sum(sizes) + PLANTED_PLATE_POOL + params.hotlist_background)
    n_vehicles = sum(sizes)
    population = Population(
        np.array(plates[:n_vehicles], dtype=object), np.array(countries[:n_vehicles], dtype=object), *sizes
    )

    crimes = CrimeSet()
    background_crimes(_rng(params, 7), crimes, period_start, params.crime_days, params.crimes_per_day)
    planter = Planter(params, settings, net, behaviour, days, period_start, plates[n_vehicles:], countries[n_vehicles:])
    plan = planter.build(crimes)
    crime_ids = _crime_ids(crimes)

    result = SimulationResult(out_dir=out_dir, truth_path=truth_path, cameras=net.size)
    with atomic_files() as files:
        _write_cameras(files, out_dir / "cameras" / "cameras.csv", net, _rng(params, 8))
        result.hotlist_entries = _write_hotlist(files, out_dir / "hotlist" / "hotlist.csv", plan)
        result.crimes_written = _write_crimes(files, out_dir / "crimes", crimes, crime_ids, net, _rng(params, 9))
    result.files.extend(files_done(out_dir, ("cameras", "hotlist", "crimes")))

    vnc = settings.vehicle_near_crimes
    index = NearCrimeIndex(
        net, crimes, vnc.radius_m * 1.05 + 5, vnc.window_min * 60 + 60, day_start_epoch(days[0]), period_end
    )
    acc = ReadsAccumulator(
        net,
        day_start_epoch(days[0]),
        24 * len(days),
        index,
        keep_reads=params.reads * len(days) <= params.incidental_reads_limit,
        limit=params.incidental_reads_limit,
    )
    traffic = BackgroundTraffic(params, net, population, behaviour, days)
    bar = tqdm(
        total=params.reads * len(days), disable=not progress, unit="read", unit_scale=True, desc="simulating ANPR reads"
    )
    with atomic_files() as files:
        writer = ReadsWriter(files, out_dir / "anpr", net.camera_id, params.files_per_day)
        for d, day in enumerate(days):
            batches = traffic.day_batches(d)
            if d == 0 and plan.reads:
                batches = _with_planted(batches, ReadBatch.concat(plan.reads))
            for batch in batches:
                writer.write(day, day_start_epoch(day), batch)
                acc.add(batch)
                bar.update(batch.size)
            writer.ensure_all_files(day)
    bar.close()
    result.reads_written = writer.rows_written
    result.files.extend(files_done(out_dir, ("anpr",)))

    truth = build_truth(params, settings, net, plan, crimes, crime_ids, acc, days, period_start, period_end)
    truth["scenario"]["population"] = dict(zip(("fleet", "commuter", "visitor"), sizes, strict=True))
    truth["scenario"]["reads_written"] = result.reads_written
    truth["scenario"]["valid_reads_written"] = acc.total
    truth["scenario"]["crimes_written"] = result.crimes_written
    with atomic_files() as files:
        write_json(files, truth_path, truth)
    result.files.append(truth_path)
    result.truth = truth
    result.seconds = time.perf_counter() - started
    return result


def files_done(out_dir: Path, sources: tuple[str, ...]) -> list[Path]:
    return sorted(p for s in sources for p in (out_dir / s).glob("*.csv"))


def _rng(params: SimulationParams, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([params.seed, stream]))


def _with_planted(batches: Any, planted: ReadBatch) -> Any:
    yield from batches
    yield planted


def _population_sizes(
    params: SimulationParams, net: CameraNetwork, behaviour: CameraBehaviour, days: list[dt.date]
) -> tuple[int, int, int]:
    """Vehicles per class so that each class makes its share of the target reads (a seeded pilot run)."""
    if params.reads == 0:
        return 0, 0, 0
    pilot_n = 600
    pilot_pop = Population(
        np.array(["PILOT1"] * 3 * pilot_n, dtype=object),
        np.array(["GB"] * 3 * pilot_n, dtype=object),
        pilot_n,
        pilot_n,
        pilot_n,
    )
    pilot_params = SimulationParams(
        seed=params.seed,
        reads=params.reads,
        days_of_reads=params.days_of_reads,
        crime_days=params.crime_days,
        capture_rate=params.capture_rate,
        misread_share=0.0,
        double_capture_share=params.double_capture_share,
        malformed_share=0.0,
        chunk_vehicles=3 * pilot_n,
    )
    pilot = BackgroundTraffic(pilot_params, net, pilot_pop, behaviour, days)
    reads_by_class = sum(_class_reads(pilot, d) for d in range(len(days)))
    per_vehicle = np.maximum(reads_by_class / (pilot_n * len(days)), 0.1)
    shares = np.array([READ_SHARES["fleet"], READ_SHARES["commuter"], READ_SHARES["visitor"]])
    sizes = np.maximum(np.round(shares * params.reads / per_vehicle), 1).astype(int)
    return int(sizes[0]), int(sizes[1]), int(sizes[2])


def _class_reads(pilot: BackgroundTraffic, day: int) -> np.ndarray:
    n = pilot.population.n_fleet
    empty = (0, 0)
    out = []
    for k in range(3):
        ranges = [empty, empty, empty]
        ranges[k] = (k * n, (k + 1) * n)
        out.append(pilot.chunk_reads(day, 20_000 + 3 * day + k, (ranges[0], ranges[1], ranges[2])).size)
    return np.array(out, dtype=float)


def _crime_ids(crimes: CrimeSet) -> list[str]:
    """Ids in time order, so planted crimes are not recognisable by their ids."""
    order = np.argsort(np.asarray(crimes.t_from), kind="stable")
    ids = [""] * crimes.size
    for rank, i in enumerate(order):
        ids[int(i)] = f"CR{rank + 1:07d}"
    return ids


def _write_cameras(files: Any, path: Path, net: CameraNetwork, rng: np.random.Generator) -> None:
    n = net.size
    write_csv(
        files,
        path,
        CAMERA_COLUMNS,
        {
            "camera_id": net.camera_id.tolist(),
            "longitude": np.round(net.lon, 6).tolist(),
            "latitude": np.round(net.lat, 6).tolist(),
            "name": net.name.tolist(),
            "camera_type": ["anpr"] * n,
            "bearing_deg": (rng.integers(0, 72, n) * 5).astype(float).tolist(),
            "fov_deg": [30.0] * n,
            "range_m": [40.0] * n,
            "owner": ["TfL"] * n,
            "status": ["active"] * n,
            "installed_at": ["2019-04-01T00:00:00Z"] * n,
            "removed_at": [""] * n,
        },
    )


def _write_hotlist(files: Any, path: Path, plan: Plan) -> int:
    entries = plan.hotlist
    write_csv(
        files,
        path,
        HOTLIST_COLUMNS,
        {
            "plate": [e.plate_raw for e in entries],
            "list_name": [e.list_name for e in entries],
            "reason": [e.reason for e in entries],
            "priority": [e.priority for e in entries],
            "valid_from": [iso(e.valid_from) for e in entries],
            "valid_to": [iso(e.valid_to) for e in entries],
        },
    )
    return len(entries)


def _write_crimes(
    files: Any, crimes_dir: Path, crimes: CrimeSet, ids: list[str], net: CameraNetwork, rng: np.random.Generator
) -> int:
    if crimes.size == 0:
        return 0
    x, y = crime_xy(crimes)
    _, nearest = net.tree().query(np.column_stack([x, y]))
    order = np.argsort(np.asarray(crimes.t_from), kind="stable")
    months = np.array([iso(crimes.t_from[i])[:7] for i in order])
    outcome = rng.integers(0, len(OUTCOMES), crimes.size)
    for month in np.unique(months):
        rows = order[months == month]
        write_csv(
            files,
            crimes_dir / f"crimes_{month}.csv",
            CRIME_COLUMNS,
            {
                "crime_id": [ids[i] for i in rows],
                "crime_type": [crimes.crime_type[i] for i in rows],
                "occurred_from": [iso(crimes.t_from[i]) for i in rows],
                "occurred_to": [iso(crimes.t_to[i]) for i in rows],
                "longitude": [round(crimes.lon[i], 6) for i in rows],
                "latitude": [round(crimes.lat[i], 6) for i in rows],
                "location": [f"On or near {net.name[nearest[i]]}" for i in rows],
                "outcome": [OUTCOMES[outcome[i]] for i in rows],
                "lsoa_code": [""] * rows.size,
            },
        )
    return crimes.size


def build_truth(
    params: SimulationParams,
    settings: Settings,
    net: CameraNetwork,
    plan: Plan,
    crimes: CrimeSet,
    crime_ids: list[str],
    acc: ReadsAccumulator,
    days: list[dt.date],
    period_start: int,
    period_end: int,
) -> dict[str, Any]:
    """The truth document; its format is described in ``das_tools.simulator``'s docstring."""
    flags: dict[str, list[dict[str, Any]]] = {}
    ignore: dict[str, list[dict[str, Any]]] = {}
    for flag_type, items in plan.truth.items():
        for t in items:
            d = t.to_dict()
            if t.crime_refs:
                d["related"] = sorted(crime_ids[c] for c in t.crime_refs)
            flags.setdefault(flag_type, []).append(d)
    for flag_type in FLAG_TYPES:
        flags.setdefault(flag_type, [])
        ignore.setdefault(flag_type, [])
    notes: list[str] = []

    # cloned_plate: chance impossible journeys (none expected: background travel is consistent).
    cp = settings.cloned_plate
    planted_clones = {f["subject"] for f in flags["cloned_plate"]}
    if acc.keep_reads:
        reads = acc.reads_frame()
        names = acc.plate_names()
        strict = impossible_pairs(
            reads,
            net,
            cp.min_separation_m * 1.1,
            cp.max_speed_kmh * 1.1,
            cp.clock_skew_s * 2,
            cp.min_confidence,
            lags=1,
        )
        generous = impossible_pairs(reads, net, cp.min_separation_m * 0.9, cp.max_speed_kmh * 0.9, 0.0, 0.0, lags=3)
        strict_plates = {str(names[p]) for p in strict} - planted_clones
        generous_plates = {str(names[p]) for p in generous} - planted_clones
        flags["cloned_plate"] += [item(p, note="chance: impossible journey") for p in sorted(strict_plates)]
        ignore["cloned_plate"] += [item(p, note="borderline journey") for p in sorted(generous_plates - strict_plates)]

        # convoy: chance co-travel that meets the cameras, occasions and moved-together rule (lift and
        # together are the detector's call).
        cv = settings.convoy
        planted_groups = [{f["subject"], *f["related"]} for f in flags["convoy"]]
        chance_pairs = co_travel_groups(
            reads,
            cv.delta_t_s + 5,
            cv.segment_max_s * 1.1,
            cv.min_cameras,
            cv.min_occasions,
            cv.occasion_gap_s - 60,
            busy=(cv.delta_t_s, cv.max_plates_per_camera_window),
        )
        for a, b in chance_pairs:
            pair = {str(names[a]), str(names[b])}
            if not any(pair <= g for g in planted_groups):
                first, second = sorted(pair)
                ignore["convoy"].append(item(first, [second], note="chance co-travel (lift decides)"))
    else:
        notes.append(
            f"more than {params.incidental_reads_limit:,} reads: chance cloned plates and convoys were not computed"
        )

    # vehicle_near_crimes: only the planted offenders are truth; chance matches are ignored.
    offenders = {f["subject"] for f in flags["vehicle_near_crimes"]}
    ignore["vehicle_near_crimes"] = near_crimes_ignore(
        acc, settings.vehicle_near_crimes.min_crimes, offenders, crime_ids
    )

    # near_repeat: every cluster by the definition; planted when it holds a planted burglary.
    nr = settings.near_repeat
    lookback = period_end - nr.lookback_days * DAY_S
    strict_clusters = near_repeat_clusters(crimes, nr.crime_types, nr.distance_m * 0.95, nr.days - 0.5, lookback)
    strict_crimes = {c for cl in strict_clusters for c in cl}
    for cl in strict_clusters:
        planted = any(crimes.tag[c].startswith("near_repeat") for c in cl)
        flags["near_repeat"].append(
            item(
                crime_ids[cl[-1]],
                [crime_ids[c] for c in cl],
                planted,
                f"{len(cl)} burglaries" + ("" if planted else ", by chance"),
            )
        )
    for cl in near_repeat_clusters(crimes, nr.crime_types, nr.distance_m * 1.05, nr.days + 1, lookback):
        if not strict_crimes.intersection(cl):
            ignore["near_repeat"].append(
                item(crime_ids[cl[-1]], [crime_ids[c] for c in cl], note="borderline near-repeat")
            )

    # emerging_hotspot: the planted cells; chance hot cells by the detector's Gi* rule.
    eh = settings.emerging_hotspot  # its cells are at DAS_H3_RESOLUTION, as the detector's (detector_params)
    if crimes.size:
        week = current_week_start(max(crimes.t_from))
        planted_area = {n for c in plan.hotspot_cells for n in _disk(c)}
        strict_cells = hotspot_cells(
            crimes,
            settings.h3_resolution,
            week,
            eh.baseline_weeks,
            eh.min_count + 1,
            z_min=0.0,
            fdr_alpha=eh.fdr_alpha / 2,
        )
        generous_cells = hotspot_cells(
            crimes, settings.h3_resolution, week, eh.baseline_weeks, max(eh.min_count - 1, 1), z_min=2.0, fdr_alpha=None
        )
        flags["emerging_hotspot"] += [item(c, note="chance hot cell") for c in sorted(strict_cells - planted_area)]
        ignore["emerging_hotspot"] += [
            item(c, note="borderline hot cell") for c in sorted(generous_cells - strict_cells - planted_area)
        ]

    # camera_silent: planted silences; chance lulls by the detector's expectation rule.
    cs = settings.camera_silent
    hourly = acc.hourly[:, -cs.baseline_days * 24 :]
    multi_day = len(days) >= 2
    planted_cams = {f["subject"] for f in flags["camera_silent"]}
    strict_runs = silent_runs(hourly, cs.min_baseline_per_hour * 1.5, 1e-9, cs.hours + 1, multi_day)
    generous_runs = silent_runs(hourly, cs.min_baseline_per_hour * 0.8, cs.drop_ratio * 1.5, cs.hours, multi_day)
    for cam, hours in sorted(strict_runs.items()):
        if str(net.camera_id[cam]) not in planted_cams:
            flags["camera_silent"].append(item(str(net.camera_id[cam]), note=f"chance lull of {hours} h"))
    for cam, hours in sorted(generous_runs.items()):
        cid = str(net.camera_id[cam])
        if cam not in strict_runs and cid not in planted_cams:
            ignore["camera_silent"].append(item(cid, note=f"borderline lull of {hours} h"))
    unverified = [c for c in planted_cams if int(np.flatnonzero(net.camera_id == c)[0]) not in generous_runs]
    if unverified:
        notes.append(f"planted silent cameras too quiet to be judged: {sorted(unverified)}")

    return {
        "format_version": FORMAT_VERSION,
        "scenario": {
            **params.to_dict(),
            "start_date": days[0].isoformat(),
            "reads_days": [d.isoformat() for d in days],
            "crime_period": [iso(period_start), iso(period_end)],
            "cameras_used": net.size,
            "detector_settings": settings_summary(settings),
        },
        "flags": flags,
        "ignore": ignore,
        "negatives": plan.negatives,
        "notes": notes,
    }


def _disk(cell: str) -> list[str]:
    import h3

    return list(h3.grid_disk(cell, 1))
