"""A thousand nasty files through `das run`: it exits 0, every good row is published, every bad file and record is
quarantined with a reason, and every file's counts reconcile; PostGIS holds exactly the silver reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg2

from das.config import Settings
from das.lake import DeltaRsLake
from schemas.tables import INGEST_RUNS, QUARANTINE, SILVER_ANPR_READS
from tests.integration.jobs.nasty_corpus import write_corpus
from tests.postgres_fixtures import own_database


def test_a_thousand_nasty_files_lose_nothing(pg_settings: Settings, tmp_path: Path, spark) -> None:  # type: ignore[no-untyped-def]
    landing = tmp_path / "landing"
    written = write_corpus(landing, files=1000)
    assert sum(written.values()) >= 1000
    with own_database(pg_settings, "das_nasty_corpus", load_boundaries=False) as db:
        env = {
            **os.environ,
            "DAS_HOME": str(db.home_abs),  # the test cluster's home: `das run` finds it running
            "DAS_LAKE_ROOT": str(tmp_path / "lake"),
            "DAS_PG_PORT": str(db.pg_port),
            "DAS_PG_DATABASE": db.pg_database,
            "DAS_SPARK_DRIVER_MEMORY": "2g",
        }
        das = str(Path(sys.executable).with_name("das"))
        done = subprocess.run(
            [das, "run", "--landing", str(landing), "--json"], env=env, capture_output=True, text=True, timeout=1800
        )
        assert done.returncode == 0, done.stderr[-3000:]
        summary = json.loads(done.stdout)
        with psycopg2.connect(db.libpq_dsn) as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM das.anpr_reads")
            (postgis_reads,) = cur.fetchone()  # type: ignore[misc]

    for source, files in written.items():
        ingest = summary["ingests"][source]
        assert ingest["files"] == files, source
        assert ingest["rows_landed"] == ingest["rows_published"] + ingest["rows_quarantined"] + ingest["rows_duplicate"]
    lake = DeltaRsLake(spark, str(tmp_path / "lake"))
    ledger = lake.read(INGEST_RUNS).collect()
    assert ledger and all(r["status"] == "succeeded" for r in ledger)
    for run in ledger:
        assert run["rows_landed"] == run["rows_published"] + run["rows_quarantined"] + run["rows_duplicate"], run
    anpr = [r for r in ledger if r["source"] == "anpr"]
    silver_reads = lake.read(SILVER_ANPR_READS).count()
    assert silver_reads == sum(r["rows_published"] for r in anpr) > 0
    assert postgis_reads == silver_reads
    quarantine = lake.read(QUARANTINE).where("source = 'anpr'")
    assert quarantine.where("reason_code IS NULL OR reason_detail IS NULL").count() == 0
    whole_files = quarantine.where("whole_file").count()
    record_rows = quarantine.where("NOT whole_file").count()
    assert whole_files >= 150 and record_rows > 0  # many unreadable files, and bad records in readable ones
    reasons = {r["reason_code"] for r in quarantine.select("reason_code").distinct().collect()}
    assert {"unreadable_file", "malformed_row", "invalid_plate", "missing_required_columns"} <= reasons
