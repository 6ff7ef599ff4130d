"""Publishing reads the lake with delta-rs as Arrow: it starts no Spark JVM, so an ingest DAG run is one Spark app."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from das.config import Settings
from das_tools.localstack.postgres import connect
from jobs import tasks
from tests.postgres_fixtures import child_env, elsewhere, own_database

NOW = datetime(2024, 4, 2, 12, 0, tzinfo=timezone.utc)

PUBLISH_IN_A_FRESH_PROCESS = """
import json, sys
from jobs import tasks
published = tasks.publish(sys.argv[1], {})
from pyspark import SparkContext
print(json.dumps({"published": published, "jvm": SparkContext._gateway is not None,
                  "pyspark_session": "pyspark.sql.session" in sys.modules and
                  __import__("pyspark.sql").sql.SparkSession.getActiveSession() is not None}))
"""


def test_publish_starts_no_jvm_and_publishes_what_ingest_committed(
    spark: object, pg_settings: Settings, tmp_path: Path
) -> None:
    landing = tmp_path / "landing" / "hotlist"
    landing.mkdir(parents=True)
    (landing / "stolen.csv").write_text(
        "plate,list_name,reason,priority,valid_from,valid_to\n"
        "LB07SEO,stolen,Stolen vehicle,high,,\n"
        "AB12CDE,wanted,Wanted driver,medium,,\n"
    )
    with own_database(pg_settings, "das_publish_test", load_boundaries=False) as db:
        settings = elsewhere(db, tmp_path / "home")
        summary = tasks.ingest("hotlist", landing, settings=settings, now=NOW)
        assert summary["rows_published"] == 2
        script = tmp_path / "publish_child.py"  # a file, not -c: pyspark.sql.connect exits when __main__ has none
        script.write_text(PUBLISH_IN_A_FRESH_PROCESS)
        done = subprocess.run(
            [sys.executable, str(script), "hotlist"], env=child_env(settings), capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-3000:]
        result = json.loads(done.stdout.strip().splitlines()[-1])
        assert result["jvm"] is False and result["pyspark_session"] is False
        assert result["published"] == {"ingest_runs": 1, "hotlist": 2, "quality_results": 25}  # one per GX check
        with connect(settings) as conn, conn.cursor() as cur:
            cur.execute("SELECT plate FROM das.hotlist ORDER BY plate")
            assert [r[0] for r in cur.fetchall()] == ["AB12CDE", "LB07SEO"]
            cur.execute("SELECT rows_landed, rows_published FROM das.ingest_runs WHERE source = 'hotlist'")
            assert cur.fetchall() == [(2, 2)]
