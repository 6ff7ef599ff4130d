"""`das bench stream`: latency of the streaming hotlist path, from a file landing to its flag row in PostGIS.

A throwaway lake gets a few cameras and a hotlist through the real ingest; the stream is started on a
throwaway landing folder; then N small ANPR files land one by one (written as ``.name.tmp``, renamed: the
rename is the landing time), each with one read of a hotlisted plate of its own, so each makes a new flag.
PostGIS is polled until the flag row exists; latency = first seen - landed. On the local cluster the
benchmark works in a database of its own (dropped afterwards), so the user's flags and hotlist stay as they are.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import psycopg2

from das.config import Settings, get_settings
from das_tools.bench.scenario import Measurement, measured, to_markdown
from das_tools.simulator.landing_writer import ANPR_COLUMNS

BENCH_DATABASE = "das_bench_stream"
CAMERAS = ("BENCHCAM1", "BENCHCAM2", "BENCHCAM3")
READS_PER_FILE = 10  # one hotlisted read plus filler traffic
POLL_S = 0.05
WAIT_PER_FILE_S = 120.0


def _plate(i: int) -> str:
    return f"LAT{i:04d}X"


def _seed_landing(seed: Path, plates: list[str]) -> None:
    (seed / "cameras").mkdir(parents=True)
    (seed / "hotlist").mkdir(parents=True)
    cameras = [
        f"{cam},{-0.12 + 0.01 * i:.4f},{51.50 + 0.005 * i:.4f},bench camera {i}" for i, cam in enumerate(CAMERAS)
    ]
    (seed / "cameras" / "cameras.csv").write_text("camera_id,longitude,latitude,name\n" + "\n".join(cameras) + "\n")
    entries = [f"{plate},bench,latency benchmark,high" for plate in plates]
    (seed / "hotlist" / "hotlist.csv").write_text("plate,list_name,reason,priority\n" + "\n".join(entries) + "\n")


def _anpr_file(file_no: int, plate: str, read_at: datetime) -> str:
    at = read_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [",".join(ANPR_COLUMNS)]
    for n in range(READS_PER_FILE):
        vrm = plate if n == 0 else f"FIL{file_no:03d}{n:02d}"
        lines.append(f"BENCH-{file_no:05d}-{n:02d},{CAMERAS[n % len(CAMERAS)]},{vrm},{at},0.93,GB,N,1,")
    return "\n".join(lines) + "\n"


def _land(path: Path, content: str) -> float:
    """Write atomically (hidden .tmp, then rename); return the landing time (just after the rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(content)
    os.replace(tmp, path)
    return time.perf_counter()


def _wait_for_flag(conn: psycopg2.extensions.connection, plate: str, landed: float) -> float | None:
    deadline = landed + WAIT_PER_FILE_S
    with conn.cursor() as cur:
        while time.perf_counter() < deadline:
            cur.execute("SELECT flag_id FROM das.flags WHERE subject = %s", (plate,))
            if cur.fetchone() is not None:
                return time.perf_counter() - landed
            time.sleep(POLL_S)
    return None


def _bench_settings(work: Path) -> Settings:
    base = get_settings()
    update: dict[str, object] = {"lake_root": str(work / "lake")}
    if base.uses_local_postgres:
        update["pg_database"] = BENCH_DATABASE
    return base.model_copy(update=update)


def _forget_flags(settings: Settings, plates: list[str]) -> None:
    conn = psycopg2.connect(settings.libpq_dsn)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "DELETE FROM das.flag_evidence WHERE flag_id IN "
                "(SELECT flag_id FROM das.flags WHERE subject = ANY(%s))",
                (plates,),
            )
            cur.execute("DELETE FROM das.flags WHERE subject = ANY(%s)", (plates,))
    finally:
        conn.close()


def _drop_bench_database(settings: Settings) -> None:
    from das_tools.localstack.postgres import connect

    admin = connect(settings, "postgres")
    try:
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
    finally:
        admin.close()


def latency_table(latencies: list[float], warm_up: float | None, missed: int) -> str:
    values = np.array(latencies)
    stats = (
        [("p50", np.percentile(values, 50)), ("p95", np.percentile(values, 95)), ("max", values.max())]
        if len(values)
        else []
    )
    lines = [
        "",
        "| file landed -> flag row in PostGIS | seconds |",
        "|---|---:|",
        *[f"| {name} over {len(values)} files | {value:.2f} |" for name, value in stats],
        f"| warm-up file (first batch of the query, not counted) | {'' if warm_up is None else f'{warm_up:.2f}'} |",
    ]
    if missed:
        lines.append(f"| files whose flag did not appear within {WAIT_PER_FILE_S:.0f} s | {missed} |")
    lines += [
        "",
        "Target: p95 <= 10 s. No DuckDB reference: DuckDB has no streaming file source or trigger, so there is",
        "no like-for-like path to compare with; the latency includes the trigger interval and the PostGIS poll"
        f" ({POLL_S * 1000:.0f} ms).",
    ]
    return "\n".join(lines) + "\n"


def bench_stream_latency(files: int = 20, out: Path | None = None, trigger_seconds: float = 1.0) -> str:
    """Land ``files`` ANPR files one by one into a running hotlist stream; p50/p95/max landing -> flag row."""
    from das import postgis
    from das_tools.localstack import postgres as local_postgres
    from jobs import tasks
    from jobs.streaming import start_hotlist_stream

    if files < 1:
        raise ValueError(f"--files must be at least 1, got {files}")
    work = Path(tempfile.mkdtemp(prefix="das-bench-stream-"))
    settings = _bench_settings(work)
    plates = [_plate(i) for i in range(files + 1)]  # plates[0] is the warm-up file's
    results: list[Measurement] = []
    query = None
    try:
        local_postgres.up(settings)
        postgis.migrate(settings, load_boundaries=False)
        _forget_flags(settings, plates)
        _seed_landing(work / "seed", plates)
        for source in ("cameras", "hotlist"):
            summary = tasks.ingest(source, work / "seed" / source, settings=settings)
            if settings.uses_local_postgres:  # our own database; a managed one keeps its cameras and hotlist
                tasks.publish(source, summary, settings=settings)
        rt = tasks.runtime(settings)
        landing = work / "landing"
        query = start_hotlist_stream(
            rt.spark, rt.lake, settings, landing=landing, trigger_seconds=trigger_seconds, checkpoint=work / "ckpt"
        )
        conn = psycopg2.connect(settings.libpq_dsn)
        conn.autocommit = True
        read_at = datetime.now(timezone.utc) - timedelta(minutes=1)
        try:
            landed = _land(landing / "anpr" / "warmup.csv", _anpr_file(0, plates[0], read_at))
            warm_up = _wait_for_flag(conn, plates[0], landed)
            latencies: list[float] = []
            missed = 0
            with measured(f"stream: {files} files landed one by one, each waited for", results, rows=files) as m:
                for i in range(1, files + 1):
                    landed = _land(landing / "anpr" / f"reads-{i:05d}.csv", _anpr_file(i, plates[i], read_at))
                    latency = _wait_for_flag(conn, plates[i], landed)
                    if latency is None:
                        missed += 1
                    else:
                        latencies.append(latency)
                m.note = f"{READS_PER_FILE} reads per file, trigger {trigger_seconds:g} s"
        finally:
            conn.close()
        if query.exception() is not None:
            raise RuntimeError(f"the hotlist stream failed: {query.exception()}")
        report = to_markdown(
            f"Streaming hotlist latency, {files} files", f"das bench stream --files {files}", results
        ) + latency_table(latencies, warm_up, missed)
    finally:
        if query is not None:
            query.stop()
        with contextlib.suppress(Exception):
            if settings.uses_local_postgres:
                _drop_bench_database(settings)
            else:
                _forget_flags(settings, plates)
        shutil.rmtree(work, ignore_errors=True)
    if out:
        out.write_text(report)
    return report
