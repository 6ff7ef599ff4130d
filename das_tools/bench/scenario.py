"""Benchmarks (`das bench …`): wall time and peak memory per stage, each beside a DuckDB reference on the same files.

Peak memory is the largest resident set of this process plus all its descendants (the Spark JVM and Python
workers), sampled every 100 ms from /proc. Results print as markdown for BENCHMARKS.md.
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from das.config import Settings, VehicleNearCrimesParams, get_settings


def _tree_rss_bytes(root: int) -> int:
    """RSS of a process and its descendants, from /proc (Linux)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            pid, ppid = int(entry), int(fields[1])
            rss[pid] = int(fields[21]) * page
            children.setdefault(ppid, []).append(pid)
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


@dataclass
class Measurement:
    stage: str
    seconds: float
    peak_bytes: int
    rows: int | None = None
    reference_seconds: float | None = None
    reference_peak_bytes: int | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return self.seconds / self.reference_seconds if self.reference_seconds else None


@contextmanager
def measured(stage: str, results: list[Measurement], rows: int | None = None) -> Iterator[Measurement]:
    """Time a block and sample the process tree's peak RSS while it runs."""
    measurement = Measurement(stage, 0.0, 0, rows)
    stop = threading.Event()
    peak = [0]

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _tree_rss_bytes(os.getpid()))
            stop.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    try:
        yield measurement
    finally:
        measurement.seconds = time.perf_counter() - start
        stop.set()
        sampler.join()
        measurement.peak_bytes = peak[0]
        results.append(measurement)


def _reference(measurement: Measurement, run: Callable[[], Any]) -> None:
    """Time the DuckDB reference for a stage, in the same process and run."""
    scratch: list[Measurement] = []
    with measured("reference", scratch):
        run()
    measurement.reference_seconds = scratch[0].seconds
    measurement.reference_peak_bytes = scratch[0].peak_bytes


def machine_description() -> str:
    cpus = os.cpu_count()
    memory = ""
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            kb = int(handle.readline().split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except OSError:
        pass
    import duckdb
    import pyspark

    return (
        f"{platform.machine()} {cpus} cores{memory}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, PySpark {pyspark.__version__}, DuckDB {duckdb.__version__}"
    )


def to_markdown(title: str, command: str, results: list[Measurement]) -> str:
    lines = [
        f"### {title}",
        "",
        f"- When: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {machine_description()}",
        f"- Command: `{command}`",
        "",
        "| stage | rows | das s | das rows/s | das peak MiB | DuckDB s | DuckDB peak MiB | das/DuckDB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in results:
        rate = f"{m.rows / m.seconds:,.0f}" if m.rows and m.seconds else ""
        lines.append(
            f"| {m.stage}{(' — ' + m.note) if m.note else ''} | {m.rows or '':,} | {m.seconds:.1f} | {rate} | "
            f"{m.peak_bytes / 2**20:,.0f} | "
            f"{'' if m.reference_seconds is None else f'{m.reference_seconds:.1f}'} | "
            f"{'' if m.reference_peak_bytes is None else f'{m.reference_peak_bytes / 2**20:,.0f}'} | "
            f"{'' if m.ratio is None else f'{m.ratio:.1f}×'} |"
        )
    return "\n".join(lines) + "\n"


def _bench_settings(work: Path) -> Settings:
    base = get_settings()
    return base.model_copy(update={"lake_root": str(work / "lake")})


def _simulate(reads: int, landing: Path, results: list[Measurement], days: int = 1) -> dict[str, Any]:
    from das_tools.simulator import SimulationParams, run_simulation

    params = SimulationParams(seed=7, reads=reads, days_of_reads=days, crime_days=30)
    with measured("simulate (landing files)", results, rows=reads * days):
        result = run_simulation(params, landing, progress=False)
    return dict(result.truth)


def bench_ingest(reads: int, out: Path | None = None) -> str:
    """Landing CSV -> validated silver Delta for ANPR reads; DuckDB CSV->Parquet on the same files is the floor."""
    import duckdb

    from jobs import tasks

    results: list[Measurement] = []
    work = Path(tempfile.mkdtemp(prefix="das-bench-ingest-"))
    try:
        landing = work / "landing"
        _simulate(reads, landing, [])
        settings = _bench_settings(work)
        tasks.ingest("cameras", landing / "cameras", settings=settings)  # untimed: reads need their cameras
        with measured("ingest ANPR CSV -> validated silver Delta", results) as m:
            summary = tasks.ingest("anpr", landing / "anpr", settings=settings)
        m.rows = summary["rows_landed"]
        csvs = str(landing / "anpr" / "*.csv")
        target = work / "duckdb.parquet"
        _reference(
            m,
            lambda: duckdb.sql(
                f"COPY (SELECT * FROM read_csv('{csvs}', header=true, all_varchar=true)) TO '{target}' (FORMAT parquet)"
            ),
        )
        report = to_markdown(f"Ingest, {reads:,} ANPR reads", f"das bench ingest --reads {reads}", results)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if out:
        out.write_text(report)
    return report


def bench_scenario(reads: int, out: Path | None = None) -> str:
    """Every stage of a simulated day: simulate, ingest, validate, publish, each detector, end to end."""
    import duckdb

    from jobs import tasks
    from jobs.detectors import run_detectors
    from jobs.detectors.common import shared_reads
    from jobs.sources import source_names
    from quality.validation import QualityReference, validate_batch
    from schemas.tables import FLAG_TYPES, SILVER_ANPR_READS, SILVER_CAMERAS

    results: list[Measurement] = []
    work = Path(tempfile.mkdtemp(prefix="das-bench-scenario-"))
    try:
        landing = work / "landing"
        settings = _bench_settings(work)
        end_to_end = time.perf_counter()
        truth = _simulate(reads, landing, results)
        from das import postgis
        from das_tools.localstack import postgres as local_postgres

        local_postgres.up(settings)
        postgis.migrate(settings)
        summaries = {}
        for source in source_names():
            with measured(f"ingest {source} (incl. validation)", results) as m:
                summaries[source] = tasks.ingest(source, landing / source, settings=settings)
            m.rows = summaries[source]["rows_landed"]
        anpr_ingest = next(r for r in results if r.stage.startswith("ingest anpr"))
        csvs = str(landing / "anpr" / "*.csv")
        _reference(
            anpr_ingest,
            lambda: duckdb.sql(
                f"COPY (SELECT * FROM read_csv('{csvs}', header=true, all_varchar=true)) TO "
                f"'{work / 'ref.parquet'}' (FORMAT parquet)"
            ),
        )
        rt = tasks.runtime(settings)
        silver_reads = rt.lake.read(SILVER_ANPR_READS)
        with measured("validate silver reads (Great Expectations, alone)", results, rows=reads) as m:
            validate_batch(
                silver_reads,
                SILVER_ANPR_READS,
                settings,
                run_id="bench",
                reference=QualityReference(known_camera_ids=rt.lake.read(SILVER_CAMERAS).select("camera_id")),
                build_docs=False,
            )
        for source in source_names():
            with measured(f"publish {source} -> PostGIS (COPY)", results) as m:
                published = tasks.publish(source, summaries[source], settings=settings)
            m.rows = sum(v for k, v in published.items() if k != "ingest_runs")
        now = datetime.now(timezone.utc)
        flags: list[dict[str, Any]] = []
        with shared_reads(tasks.detector_inputs(rt)) as inputs:  # as jobs.tasks.detect runs them
            for n, name in enumerate(FLAG_TYPES):
                with measured(f"detector {name}", results) as m:
                    frame = run_detectors(inputs, settings, now, only=[name])[name]
                    found = frame.select("flag_id", "flag_type", "subject", "related", "score").collect()  # ranked
                    m.rows = len(found)
                    m.note = "rows = flags" + (", and caching the reads projection" if n == 0 else "")
                flags.extend(r.asDict() for r in found)
        cloned = next(r for r in results if r.stage == "detector cloned_plate")
        vnc = next(r for r in results if r.stage == "detector vehicle_near_crimes")
        con = duckdb.connect()
        _duckdb_views(con, landing)
        _reference(cloned, lambda: con.sql(DUCKDB_CLONED_PLATES).fetchall())
        _reference(vnc, lambda: duckdb_vehicles_near_crimes(con, settings.vehicle_near_crimes))
        results.append(
            Measurement(
                "end to end (all of the above)",
                time.perf_counter() - end_to_end,
                max(r.peak_bytes for r in results),
                reads,
            )
        )
        from das_tools.evaluation import evaluate

        quality = evaluate(flags, truth).format_table()
        report = to_markdown(
            f"Scenario, {reads:,} ANPR reads in a day + 30 days of crimes",
            f"das bench scenario --reads {reads}",
            results,
        )
        report += f"\nDetection quality on this scenario (das eval against truth.json):\n\n```\n{quality}\n```\n"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if out:
        out.write_text(report)
    return report


def _duckdb_views(con: Any, landing: Path) -> None:
    con.sql(f"""CREATE VIEW cams AS SELECT camera_id, longitude::DOUBLE lon, latitude::DOUBLE lat,
                 longitude::DOUBLE * 69440 x, latitude::DOUBLE * 111320 y
                 FROM read_csv('{landing / "cameras" / "*.csv"}', header=true, all_varchar=true)""")
    con.sql(f"""CREATE VIEW reads AS SELECT r.read_id, r.camera_id, upper(regexp_replace(r.plate, '[^A-Za-z0-9]', '',
                 'g')) plate, try_cast(r.read_at AS TIMESTAMPTZ) read_at, try_cast(r.confidence AS DOUBLE) confidence,
                 c.x, c.y FROM read_csv('{landing / "anpr" / "*.csv"}', header=true, all_varchar=true) r
                 JOIN cams c USING (camera_id)""")
    con.sql(f"""CREATE VIEW crimes AS SELECT crime_id, try_cast(occurred_from AS TIMESTAMPTZ) t,
                 try_cast(occurred_to AS TIMESTAMPTZ) t_to,
                 longitude::DOUBLE * 69440 x, latitude::DOUBLE * 111320 y
                 FROM read_csv('{landing / "crimes" / "*.csv"}', header=true, all_varchar=true)""")


# Same rules as the Spark detectors, in plain SQL: consecutive reads of a plate, impossible speed.
DUCKDB_CLONED_PLATES = """
WITH ordered AS (
  SELECT plate, read_at, x, y, lag(read_at) OVER w prev_at, lag(x) OVER w px, lag(y) OVER w py
  FROM reads WHERE confidence IS NULL OR confidence >= 0.7 WINDOW w AS (PARTITION BY plate ORDER BY read_at))
SELECT plate, count(*) FROM ordered
WHERE prev_at IS NOT NULL AND sqrt((x-px)^2 + (y-py)^2) >= 1000
  AND sqrt((x-px)^2 + (y-py)^2) / 1000 / greatest(epoch(read_at - prev_at) - 60, 1) * 3600 > 160
GROUP BY plate
"""

# The same rule as the Spark detector: occasions (the detector's own clustering, on the driver as there),
# per-scale camera rates and exposure in SQL, then the same Poisson tail and BH. No evidence or flag rows.
DUCKDB_VEHICLES_NEAR_CRIMES = """
WITH near AS (
  SELECT k.occasion, k.span_h, k.t0, k.t1, c.camera_id, sqrt((c.x - k.x)^2 + (c.y - k.y)^2) d
  FROM occasions k JOIN cams c ON abs(c.x - k.x) <= $radius AND abs(c.y - k.y) <= $radius
  WHERE (c.x - k.x)^2 + (c.y - k.y)^2 <= $radius * $radius),
rates AS (
  SELECT camera_id, scale, sum(span_h + 2 * $window_s / 3600 * share) / $baseline_h rate
  FROM (SELECT camera_id, occasion, min(d) d, any_value(span_h) span_h FROM near GROUP BY ALL)
  JOIN scales ON d <= $radius * share GROUP BY ALL),
matches AS (
  SELECT r.plate, r.read_id, n.occasion, n.d, greatest(n.t0 - epoch(r.read_at), epoch(r.read_at) - n.t1, 0) off
  FROM reads r JOIN near n ON r.camera_id = n.camera_id
  AND epoch(r.read_at) BETWEEN n.t0 - $window_s AND n.t1 + $window_s),
observed AS (
  SELECT plate, scale, least(count(DISTINCT occasion), count(DISTINCT read_id)) k
  FROM matches JOIN scales ON d <= $radius * share AND off <= $window_s * share GROUP BY ALL),
candidates AS (SELECT plate FROM observed WHERE scale = 0 AND k >= $min_crimes),
buckets AS (
  SELECT DISTINCT r.plate, r.camera_id, s.scale, floor(epoch(r.read_at) / greatest(2 * $window_s * s.share, 1)) b,
    greatest(2 * $window_s * s.share, 1) bucket_s
  FROM reads r SEMI JOIN candidates USING (plate) CROSS JOIN scales s),
exposure AS (
  SELECT plate, scale, sum(coalesce(rate, 0) * coalesce(factor, 1)) mu FROM buckets
  LEFT JOIN rates USING (camera_id, scale) LEFT JOIN factors ON factors.hour = (b * bucket_s / 3600 % 24)::INT
  GROUP BY ALL)
SELECT e.plate, e.scale, coalesce(o.k, 0) k, e.mu FROM exposure e LEFT JOIN observed o USING (plate, scale)
"""


def duckdb_vehicles_near_crimes(con: Any, params: VehicleNearCrimesParams) -> int:
    """Plates the vehicles-near-crimes rule flags, by DuckDB over the landing files (crimes taken as exact)."""
    import pandas as pd

    from jobs.detectors.vehicle_near_crimes import crime_occasions, hour_factors, scale_column, surprise

    crimes = con.execute(
        "SELECT crime_id, x easting, y northing, epoch(t) t0, epoch(coalesce(t_to, t)) t1 FROM crimes "
        "WHERE t IS NOT NULL AND epoch(coalesce(t_to, t)) - epoch(t) BETWEEN 0 AND $max_s",
        {"max_s": params.max_window_hours * 3600},
    ).df()
    if crimes.empty:
        return 0
    table = crime_occasions(crimes, params).rename(columns={"easting": "x", "northing": "y"})
    con.register("occasions", table)
    con.register("factors", hour_factors(table["t0"]))
    con.register("scales", pd.DataFrame({"scale": range(len(params.closeness_scales)),
                                         "share": params.closeness_scales}))  # fmt: skip
    baseline_h = max(params.min_baseline_hours, (table["t1"].max() - table["t0"].min()) / 3600.0)
    long = con.execute(
        DUCKDB_VEHICLES_NEAR_CRIMES,
        {"radius": params.radius_m, "window_s": params.window_min * 60.0, "baseline_h": baseline_h,
         "min_crimes": params.min_crimes},
    ).df()  # fmt: skip
    if long.empty:
        return 0
    wide = long.pivot(index="plate", columns="scale", values=["k", "mu"]).fillna(0.0)
    candidates = pd.DataFrame({"plate": wide.index})
    for i in range(len(params.closeness_scales)):
        candidates[scale_column("k", i)] = wide[("k", i)].to_numpy()
        candidates[scale_column("mu", i)] = wide[("mu", i)].to_numpy()
    plates_seen = con.execute("SELECT count(DISTINCT plate) FROM reads").fetchall()[0][0]
    return int(surprise(candidates, plates_seen, params)["keep"].sum())
