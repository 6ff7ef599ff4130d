"""`das bench publish`: one day of reads into PostGIS with the production publish, beside a plain COPY.

The simulated day is bulk-loaded into DuckDB (untimed; `das bench ingest` measures the ingest), then:
- das: ``publish_day_partition`` of the day into ``das.anpr_reads`` (served rows with pseudonyms, COPY through
  CSV into a fresh loading table created in the same transaction, ATTACH as the day's partition, which builds
  the partition's seven indexes: primary key, BRIN on the time, two GiST on the points, three btrees);
- reference: the same served rows, already written as one CSV file (untimed), COPYed into an unindexed table
  with the same columns (the generated points too), created in the same transaction: a plain load.

So the ratio is what das adds to a plain load: encoding Arrow to CSV, the index builds and the partition swap.
Both get the server's settings (at ``wal_level = minimal`` both skip the WAL).
"""

from __future__ import annotations

import shutil
from contextlib import closing
from pathlib import Path

import pyarrow.csv as pacsv

from das.config import Settings, get_settings
from das_tools.bench.analyst import (
    START,
    _day_arrow,
    _drop_bench_database,
    _load_reads_into_duckdb,
    bench_workspace,
    postgis_connection,
)
from das_tools.bench.scenario import Measurement, measured, to_markdown
from schemas.tables import SILVER_ANPR_READS

REFERENCE_TABLE = "bench_plain_copy"


def server_settings(settings: Settings) -> dict[str, str]:
    """The server settings that decide a bulk load's cost, as the server reports them."""
    names = ("wal_level", "maintenance_work_mem", "max_wal_size", "synchronous_commit")
    with closing(postgis_connection(settings)) as conn, conn.cursor() as cur:
        cur.execute("SELECT name, setting, unit FROM pg_settings WHERE name = ANY(%s) ORDER BY name", (list(names),))
        return {name: f"{setting}{' × ' + unit if unit else ''}" for name, setting, unit in cur.fetchall()}


def _plain_copy(settings: Settings, csv_path: Path, like: str) -> int:
    """COPY one CSV file into an unindexed table with the served table's columns (its generated geometry
    too), created in the same transaction, as the publish's loading table is; returns rows copied."""
    with closing(postgis_connection(settings)) as conn:
        with conn.cursor() as cur, csv_path.open("rb") as handle:
            cur.execute(f"DROP TABLE IF EXISTS {REFERENCE_TABLE}")
            cur.execute(f"CREATE TABLE {REFERENCE_TABLE} (LIKE {like} INCLUDING DEFAULTS INCLUDING GENERATED)")
            columns = handle.readline().decode().strip()
            cur.copy_expert(f"COPY {REFERENCE_TABLE} ({columns}) FROM STDIN WITH (FORMAT csv)", handle)
            rows = int(cur.rowcount)
            cur.execute(f"DROP TABLE {REFERENCE_TABLE}")
        conn.commit()
        return rows


def bench_publish(reads: int, out: Path | None = None, settings: Settings | None = None) -> str:
    """Simulate one day of ``reads``, then publish it to PostGIS beside a plain COPY of the same rows."""
    import duckdb

    from das import postgis
    from das.postgis.copy import csv_ready
    from das.postgis.publish import served_rows
    from das_tools.localstack import postgres as local_postgres
    from das_tools.simulator import SimulationParams, run_simulation
    from jobs import tasks

    base = settings or get_settings()
    work, settings = bench_workspace(base, "publish")
    results: list[Measurement] = []
    try:
        landing = work / "landing"
        with measured("simulate (landing files)", results, rows=reads):
            run_simulation(SimulationParams(seed=11, reads=reads, start_date=START), landing, progress=False)
        local_postgres.up(settings)
        postgis.migrate(settings)
        tasks.publish("cameras", tasks.ingest("cameras", landing / "cameras", settings=settings), settings=settings)
        con = duckdb.connect()
        _load_reads_into_duckdb(con, landing)
        day = _day_arrow(con, START)
        # The reference's input: the very rows das serves, as one CSV file with a header (untimed).
        served = csv_ready(served_rows(settings, SILVER_ANPR_READS, day))
        csv_path = work / "served.csv"
        pacsv.write_csv(served, str(csv_path))
        with measured("publish one day of reads -> das.anpr_reads (COPY, indexes, partition swap)", results) as m:
            m.rows = postgis.publish_day_partition(settings, SILVER_ANPR_READS, day, START)
        reference: list[Measurement] = []
        with measured("plain COPY of the same CSV into an unindexed table", reference) as r:
            r.rows = _plain_copy(settings, csv_path, "das.anpr_reads")
        m.reference_seconds, m.reference_peak_bytes = r.seconds, r.peak_bytes
        if r.rows != m.rows:
            raise RuntimeError(f"the plain COPY loaded {r.rows:,} rows and the publish {m.rows:,}: not the same rows")
        server = server_settings(settings)
        report = to_markdown(
            f"Publish to PostGIS, one day of {reads:,} ANPR reads", f"das bench publish --reads {reads}", results
        )
        report = report.replace(
            "| DuckDB s | DuckDB peak MiB | das/DuckDB |", "| plain COPY s | plain COPY peak MiB | das/plain COPY |"
        )
        rate = r.rows / r.seconds if r.seconds else 0.0
        report += (
            f"\n- reference: plain COPY {r.rows:,} rows in {r.seconds:.1f} s ({rate:,.0f} rows/s)\n"
            f"- server: {', '.join(f'{k} = {v}' for k, v in server.items())}\n"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        _drop_bench_database(base)
    if out:
        out.write_text(report)
    return report
