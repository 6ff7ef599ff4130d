"""`das bench analyst`: latency of the analyst functions in PostGIS at tens of millions of reads.

Data: `das simulate` traffic over several days (the real JamCam camera network, fleets, commuters and
visitors), so plates have realistic read counts and cameras realistic volumes. Cameras go through the
real ingest and publish. Reads are bulk-loaded by this benchmark (DuckDB reads the landing CSVs, pyproj
adds British National Grid coordinates) and published with the production ``publish_day_partition`` (COPY,
one day partition at a time); running the Spark ingest over 30M reads would take about an hour and is
measured by `das bench ingest` instead.

Queries are what an analyst runs, with random arguments from a fixed seed:
- ``plate_history(plate, first day, last day + 1)`` for plates drawn from random reads;
- ``vehicles_near(lon, lat, radius, t, t + 1 h)`` at points within 300 m of random cameras;
- ``cameras_covering(lon, lat)`` at spots within 20 m of random cameras.
Each function runs ``warmup`` untimed queries first, then ``queries`` timed ones, one at a time over one
connection (an analyst's session). The reference is DuckDB on the same rows, in memory, with the same
predicates (it has no spatial or btree index, so it scans); ratios are das p95 / DuckDB p95.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from das.config import Settings, get_settings
from das.errors import DasError
from das_tools.bench.scenario import Measurement, machine_description, measured
from schemas.tables import SILVER_ANPR_READS

BENCH_DATABASE = "das_bench"


def bench_workspace(base: Settings, name: str) -> tuple[Path, Settings]:
    """A scratch folder under DAS_HOME and settings that point the lake there and PostGIS at the bench database.

    Only on the project-local server: these benchmarks replace day partitions and drop their database, which
    must never happen to a managed one.
    """
    if not base.uses_local_postgres:
        raise DasError(
            f"das bench {name} publishes simulated reads and drops its database: it runs on the project-local "
            "PostGIS only; unset DAS_DATABASE_URL to run it"
        )
    base.home_abs.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"das-bench-{name}-", dir=base.home_abs))
    return work, base.model_copy(update={"lake_root": str(work / "lake"), "pg_database": BENCH_DATABASE})


def postgis_connection(settings: Settings) -> Any:
    import psycopg2

    return psycopg2.connect(settings.libpq_dsn)


START = date(2026, 1, 5)  # a Monday: the days are fixed so the run is reproducible


PG_PLATE_HISTORY = "SELECT * FROM das.plate_history(%s, %s, %s)"
PG_VEHICLES_NEAR = "SELECT * FROM das.vehicles_near(%s, %s, %s, %s, %s)"
PG_CAMERAS_COVERING = "SELECT * FROM das.cameras_covering(%s, %s)"
DUCKDB_PLATE_HISTORY = "SELECT * FROM reads WHERE plate = ? AND read_at >= ? AND read_at < ? ORDER BY read_at, read_id"
DUCKDB_VEHICLES_NEAR = """
SELECT plate, read_id, camera_id, read_at, sqrt((easting - ?) ^ 2 + (northing - ?) ^ 2) AS distance_m
FROM reads WHERE read_at >= ? AND read_at < ? AND (easting - ?) ^ 2 + (northing - ?) ^ 2 <= ?
ORDER BY 5, read_at, read_id
"""


@dataclass
class Latencies:
    function: str
    das_ms: list[float] = field(default_factory=list)
    reference_ms: list[float] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)

    @staticmethod
    def _pct(values: list[float], q: float) -> float:
        return float(np.percentile(values, q)) if values else float("nan")

    def row(self) -> str:
        das_p95, ref_p95 = self._pct(self.das_ms, 95), self._pct(self.reference_ms, 95)
        ratio = f"{das_p95 / ref_p95:.2f}×" if self.reference_ms and ref_p95 > 0 else ""
        ref = f"{self._pct(self.reference_ms, 50):.1f} | {ref_p95:.1f}" if self.reference_ms else " | "
        return (
            f"| `{self.function}` | {len(self.das_ms)} | {np.mean(self.rows):,.1f} | "
            f"{self._pct(self.das_ms, 50):.1f} | {das_p95:.1f} | {max(self.das_ms):.1f} | {ref} | {ratio} |"
        )


def _load_reads_into_duckdb(con: Any, landing: Path) -> None:
    """Landing CSVs -> one DuckDB table shaped like das.anpr_reads (served columns), plus x/y in BNG."""
    from pyproj import Transformer

    con.sql(f"""
        CREATE TABLE cams AS SELECT camera_id, longitude::DOUBLE AS longitude, latitude::DOUBLE AS latitude
        FROM read_csv('{landing / "cameras" / "*.csv"}', header=true, all_varchar=true)""")
    con.sql(f"""
        CREATE TABLE reads AS
        SELECT r.read_id, r.camera_id, upper(regexp_replace(r.plate, '[^A-Za-z0-9]', '', 'g')) AS plate,
               r.plate AS plate_raw, try_cast(r.read_at AS TIMESTAMPTZ) AS read_at,
               try_cast(r.confidence AS DOUBLE) AS confidence, coalesce(r.country, 'GB') AS country,
               r.direction, try_cast(r.lane AS SMALLINT) AS lane, r.image_uri, c.longitude, c.latitude
        FROM read_csv('{landing / "anpr" / "*.csv"}', header=true, all_varchar=true) AS r
        JOIN cams AS c USING (camera_id)
        WHERE try_cast(r.read_at AS TIMESTAMPTZ) IS NOT NULL
          AND length(regexp_replace(coalesce(r.plate, ''), '[^A-Za-z0-9]', '', 'g')) >= 2
        QUALIFY row_number() OVER (PARTITION BY r.read_id ORDER BY r.read_at) = 1""")
    to_bng = Transformer.from_crs(4326, 27700, always_xy=True)
    cams = con.sql("SELECT camera_id, longitude, latitude FROM cams").fetchnumpy()
    easting, northing = to_bng.transform(cams["longitude"], cams["latitude"])
    con.register("cam_bng", pa.table({"camera_id": cams["camera_id"], "easting": easting, "northing": northing}))
    con.sql("CREATE TABLE reads_bng AS SELECT r.*, b.easting, b.northing FROM reads r JOIN cam_bng b USING (camera_id)")
    con.sql("DROP TABLE reads")
    con.sql("ALTER TABLE reads_bng RENAME TO reads")


def _day_arrow(con: Any, day: date) -> pa.Table:
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    end = start + timedelta(days=1)
    arrow: pa.Table = con.sql(
        f"""SELECT read_id, camera_id, plate, plate_raw, read_at, confidence, country, direction, lane,
                  image_uri, longitude, latitude, easting, northing, NULL::VARCHAR AS h3_cell,
                  'bench' AS source_file, 'bench' AS ingest_run_id
           FROM reads
           WHERE read_at >= TIMESTAMPTZ '{start.isoformat()}' AND read_at < TIMESTAMPTZ '{end.isoformat()}'"""
    ).to_arrow_table()
    return arrow


def _record(latencies: Latencies, timed: bool, reference: bool, run: Any, sql: str, args: Any) -> None:
    """Run one query (``run`` is a cursor's or DuckDB connection's execute), time it to the last row."""
    started = time.perf_counter()
    rows = len(run(sql, args).fetchall())
    ms = (time.perf_counter() - started) * 1000.0
    if not timed:
        return
    if reference:
        latencies.reference_ms.append(ms)
    else:
        latencies.das_ms.append(ms)
        latencies.rows.append(rows)


def bench_analyst(
    reads: int,
    days: int = 3,
    queries: int = 200,
    warmup: int = 20,
    out: Path | None = None,
    keep: bool = False,
    settings: Settings | None = None,
) -> str:
    """Simulate ``reads`` over ``days``, publish them to PostGIS and time the analyst functions."""
    import duckdb
    from pyproj import Transformer

    from das import postgis
    from das_tools.localstack import postgres as local_postgres
    from das_tools.simulator import SimulationParams, run_simulation
    from jobs import tasks

    if reads < days or days < 1 or queries < 1:
        raise DasError(f"das bench analyst needs reads >= days >= 1 and queries >= 1; got {reads=}, {days=}")
    base = settings or get_settings()
    work, settings = bench_workspace(base, "analyst")
    stages: list[Measurement] = []
    try:
        landing = work / "landing"
        params = SimulationParams(
            seed=11, reads=reads // days, days_of_reads=days, crime_days=days + 14, start_date=START
        )
        with measured("simulate (landing files)", stages, rows=reads):
            run_simulation(params, landing, progress=False)
        local_postgres.up(settings)
        postgis.migrate(settings)
        with measured("ingest + publish cameras (Spark, COPY)", stages) as m:
            summary = tasks.ingest("cameras", landing / "cameras", settings=settings)
            m.rows = tasks.publish("cameras", summary, settings=settings).get("cameras", 0)
        con = duckdb.connect()
        with measured("load landing CSVs into DuckDB (reference copy)", stages) as m:
            _load_reads_into_duckdb(con, landing)
            m.rows = con.sql("SELECT count(*) FROM reads").fetchall()[0][0]
        with measured("publish reads -> PostGIS (COPY, one day partition at a time)", stages) as m:
            published = 0
            for offset in range(days):
                published += postgis.publish_day_partition(
                    settings, SILVER_ANPR_READS, _day_arrow(con, START + timedelta(offset)), START + timedelta(offset)
                )
            m.rows = published
        with closing(postgis_connection(settings)) as conn, conn.cursor() as cur:
            conn.autocommit = True
            cur.execute("VACUUM ANALYZE das.anpr_reads")
            cur.execute("VACUUM ANALYZE das.cameras")
        latencies = _run_queries(
            con, settings, days, queries, warmup, Transformer.from_crs(4326, 27700, always_xy=True)
        )
        report = _report(reads, days, queries, warmup, published, stages, latencies)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
            _drop_bench_database(base)
    if out:
        out.write_text(report)
    return report


def _run_queries(con: Any, settings: Settings, days: int, queries: int, warmup: int, to_bng: Any) -> list[Latencies]:
    rng = np.random.default_rng(2026)
    total = warmup + queries
    plates = [row[0] for row in con.sql(f"SELECT plate FROM reads USING SAMPLE {total} ROWS (reservoir, 7)").fetchall()]
    cams = con.sql("SELECT longitude, latitude FROM cams ORDER BY camera_id").fetchnumpy()
    picks = rng.integers(0, len(cams["longitude"]), total)
    # Points within ~300 m of a camera: metres -> degrees at London's latitude.
    lons = cams["longitude"][picks] + rng.uniform(-300, 300, total) / 69_440
    lats = cams["latitude"][picks] + rng.uniform(-300, 300, total) / 111_320
    # cameras_covering asks about spots in front of cameras (within ~20 m), where coverage exists.
    spot_lons = cams["longitude"][picks] + rng.uniform(-20, 20, total) / 69_440
    spot_lats = cams["latitude"][picks] + rng.uniform(-20, 20, total) / 111_320
    first = datetime(START.year, START.month, START.day, tzinfo=timezone.utc)
    last = first + timedelta(days=days)
    starts = [first + timedelta(seconds=float(s)) for s in rng.uniform(0, days * 86_400 - 3600, total)]
    radius = 500.0
    history, near, covering = Latencies("plate_history"), Latencies("vehicles_near"), Latencies("cameras_covering")

    with closing(postgis_connection(settings)) as conn, conn.cursor() as cur:

        def pg(sql: str, args: Any) -> Any:
            cur.execute(sql, args)
            return cur

        for i in range(total):
            near_args = (float(lons[i]), float(lats[i]), radius, starts[i], starts[i] + timedelta(hours=1))
            _record(history, i >= warmup, False, pg, PG_PLATE_HISTORY, (plates[i], first, last))
            _record(near, i >= warmup, False, pg, PG_VEHICLES_NEAR, near_args)
            _record(covering, i >= warmup, False, pg, PG_CAMERAS_COVERING, (float(spot_lons[i]), float(spot_lats[i])))
        conn.rollback()

    # DuckDB reference: the same predicates on the same rows (no index: it scans).
    x, y = to_bng.transform(lons, lats)
    for i in range(total):
        window = (starts[i], starts[i] + timedelta(hours=1))
        _record(history, i >= warmup, True, con.execute, DUCKDB_PLATE_HISTORY, [plates[i], first, last])
        reference_args = [x[i], y[i], *window, x[i], y[i], radius**2]
        _record(near, i >= warmup, True, con.execute, DUCKDB_VEHICLES_NEAR, reference_args)
    return [history, near, covering]


def _report(
    reads: int, days: int, queries: int, warmup: int, published: int, stages: list[Measurement], lat: list[Latencies]
) -> str:
    loaded = next(m.rows or 0 for m in stages if m.stage.startswith("load landing CSVs"))
    lines = [
        f"### Analyst functions, {published:,} reads in PostGIS over {days} days",
        "",
        f"- When: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {machine_description()}",
        f"- Command: `das bench analyst --reads {reads} --days {days} --queries {queries}`",
        f"- {queries} timed queries per function after {warmup} untimed, one at a time on one connection; "
        "plate_history over all days, vehicles_near 500 m and 1 h at points within 300 m of a camera",
        f"- Loaded {loaded:,} reads, published {published:,}: the rest fall outside the {days} days "
        "(skewed camera clocks at the edges)",
        "",
        "| function | queries | rows returned (mean) | das p50 ms | das p95 ms | das max ms | DuckDB p50 ms | "
        "DuckDB p95 ms | das/DuckDB (p95) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *[item.row() for item in lat],
        "",
        "Set-up stages of this run:",
        "",
        "| stage | rows | s | peak MiB |",
        "|---|---:|---:|---:|",
        *[f"| {m.stage} | {m.rows or 0:,} | {m.seconds:.1f} | {m.peak_bytes / 2**20:,.0f} |" for m in stages],
    ]
    return "\n".join(lines) + "\n"


def _drop_bench_database(settings: Settings) -> None:
    from das_tools.localstack import postgres as local_postgres

    if not settings.uses_local_postgres:
        return
    try:
        with closing(local_postgres.connect(settings, database="postgres")) as conn, conn.cursor() as cur:
            conn.autocommit = True
            cur.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
    except Exception:  # clean-up must not hide the benchmark's own error
        pass
