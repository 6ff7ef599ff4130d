"""Exactly once from landing to PostGIS, across crashes and concurrent runs.

A real ingest and publish runs in a child process that is killed with SIGKILL at a step boundary
(``DAS_FAULT_INJECT``); the rerun must finish what is missing and repeat nothing: exact counts in bronze, silver,
quarantine, the ledger and PostGIS. Two runs started at once on the same landing give the result of one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2
import pytest

from das.config import Settings
from das.lake import DeltaRsLake
from jobs import tasks
from jobs.ingest.journal import Journal
from schemas.tables import BRONZE_ANPR, INGEST_RUNS, QUARANTINE, SILVER_ANPR_READS
from tests.postgres_fixtures import child_env, elsewhere, own_database

REPO = Path(__file__).resolve().parents[4]
GOOD_READS = 40
CRASH_POINTS = [
    "ingest:anpr:after-journal",
    "ingest:anpr:after-bronze",
    "ingest:anpr:after-silver",
    "ingest:anpr:after-quarantine",
    "ingest:anpr:after-ledger",
    "publish:anpr:after-postgis",
]
# A script file, not ``python -c``: pyspark's Connect module exits at import when __main__ has no file.
CHILD = """
import sys
from das.config import Settings
from jobs import tasks
settings = Settings()
summary = tasks.ingest("anpr", sys.argv[1], settings=settings)
tasks.publish("anpr", summary, settings=settings)
"""


def _landing(root: Path) -> Path:
    """Cameras, and one ANPR file: good reads, a repeat, an unknown camera and a malformed line."""
    (root / "cameras").mkdir(parents=True)
    (root / "cameras" / "cams.csv").write_text("camera_id,longitude,latitude\nCAM1,-0.1276,51.5072\n")
    at = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    lines = ["read_id,camera_id,plate,read_at"]
    lines += [f"r{i},CAM1,AB{i:02d}CDE,{(at + timedelta(seconds=i)).isoformat()}" for i in range(GOOD_READS)]
    lines += [f"r0,CAM1,AB00CDE,{at.isoformat()}", f"rx,NOPE,XY12ZZZ,{at.isoformat()}", "broken,line"]
    (root / "anpr").mkdir()
    (root / "anpr" / "reads.csv").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture
def scene(pg_settings: Settings, tmp_path: Path, spark) -> Iterator[tuple[Settings, Path]]:  # type: ignore[no-untyped-def]
    """A fresh database, lake and landing, with the cameras already ingested and published."""
    name = "das_crash_" + os.urandom(4).hex()
    with own_database(pg_settings, name, load_boundaries=False) as db:
        settings = elsewhere(db, tmp_path / "home", lake_root=str(tmp_path / "lake"))
        landing = _landing(tmp_path / "landing")
        tasks.publish("cameras", tasks.ingest("cameras", landing / "cameras", settings=settings), settings=settings)
        yield settings, landing


def _child_env(settings: Settings, **extra: str) -> dict[str, str]:
    return {**child_env(settings), "DAS_SPARK_DRIVER_MEMORY": "1g", **extra}


def _run_child(settings: Settings, landing: Path, **extra: str) -> subprocess.Popen[bytes]:
    script = landing.parent / "child.py"
    script.write_text(CHILD)
    return subprocess.Popen(
        [sys.executable, str(script), str(landing / "anpr")],
        env=_child_env(settings, **extra),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _counts(settings: Settings, spark) -> dict[str, int]:  # type: ignore[no-untyped-def]
    lake = DeltaRsLake(spark, settings.lake)
    ledger = lake.read(INGEST_RUNS).where("source = 'anpr'")
    with psycopg2.connect(settings.libpq_dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*), count(DISTINCT read_id) FROM das.anpr_reads")
        postgis_reads, distinct_reads = cur.fetchone()  # type: ignore[misc]
        cur.execute("SELECT count(*) FROM das.ingest_runs WHERE source = 'anpr'")
        (postgis_runs,) = cur.fetchone()  # type: ignore[misc]
    return {
        "bronze": lake.read(BRONZE_ANPR).count(),
        "silver": lake.read(SILVER_ANPR_READS).count(),
        "quarantine": lake.read(QUARANTINE).where("source = 'anpr'").count(),
        "ledger_succeeded": ledger.where("status = 'succeeded'").count(),
        "ledger_rows": ledger.count(),
        "postgis_reads": postgis_reads,
        "postgis_distinct_reads": distinct_reads,
        "postgis_runs": postgis_runs,
        "journal_entries": len(Journal(settings.lake).entries("anpr")),
    }


EXPECTED = {
    "bronze": GOOD_READS + 2,  # every parsed record once (the malformed line is not a record)
    "silver": GOOD_READS,
    "quarantine": 2,  # the unknown camera and the malformed line
    "ledger_succeeded": 1,
    "ledger_rows": 1,
    "postgis_reads": GOOD_READS,
    "postgis_distinct_reads": GOOD_READS,
    "postgis_runs": 1,
    "journal_entries": 0,
}


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_run_killed_at_any_step_is_finished_by_the_next_run_exactly_once(scene, spark, point: str) -> None:  # type: ignore[no-untyped-def]
    settings, landing = scene
    child = _run_child(settings, landing, DAS_FAULT_INJECT=point)
    _, stderr = child.communicate(timeout=600)
    assert child.returncode == -signal.SIGKILL, stderr.decode()[-2000:]
    summary = tasks.ingest("anpr", landing / "anpr", settings=settings)  # the next scheduled run
    tasks.publish("anpr", summary, settings=settings)
    assert _counts(settings, spark) == EXPECTED


def test_two_runs_started_at_once_give_the_result_of_one(scene, spark) -> None:  # type: ignore[no-untyped-def]
    settings, landing = scene
    children = [_run_child(settings, landing) for _ in range(2)]
    for child in children:
        _, stderr = child.communicate(timeout=600)
        assert child.returncode == 0, stderr.decode()[-2000:]
    assert _counts(settings, spark) == EXPECTED
