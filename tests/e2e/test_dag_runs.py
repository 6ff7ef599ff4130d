"""DAG runs end to end through Airflow's ``dag.test()`` against real services (PostGIS, Spark, Delta).

Each run happens in a child process whose Airflow metadata database is the ``airflow`` database of the test
PostGIS cluster (as in production, not SQLite): Airflow reads its configuration once per process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from das.config import SAMPLES_DIR, Settings
from das.notify import SIGNATURE_HEADER, signature
from das_tools.localstack.airflow import airflow_environment, prepare_airflow
from das_tools.localstack.postgres import connect
from tests.postgres_fixtures import elsewhere

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def airflow_env(pg_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    landing = tmp_path_factory.mktemp("e2e_landing")
    home = Path(tmp_path_factory.mktemp("e2e_home"))
    settings = elsewhere(pg_settings, home, landing_dir=landing)
    env = {
        **os.environ,
        **airflow_environment(settings),
        "DAS_LANDING_DIR": str(landing),
        "DAS_SPARK_DRIVER_MEMORY": "2g",
        "DAS_SPARK_SHUFFLE_PARTITIONS": "2",
    }
    prepare_airflow(env)  # as `das airflow standalone` does: metadata migrated, the das pools created
    return env


def _dag_test(env: dict[str, str], *dag_ids: str) -> str:
    # A script file, not ``python -c``: pyspark.sql.connect exits when __main__ has no file (doctest guard).
    script = textwrap.dedent(
        f"""
        from das import postgis
        from das.config import get_settings
        postgis.migrate(get_settings())
        from airflow.dag_processing.dagbag import DagBag
        bag = DagBag(dag_folder={env["AIRFLOW__CORE__DAGS_FOLDER"]!r})
        for dag_id in {list(dag_ids)!r}:
            run = bag.dags[dag_id].test()
            print("STATE", dag_id, run.state)
        """
    )
    script_file = Path(env["DAS_HOME"]) / f"dag_test_{'_'.join(dag_ids)}.py"
    script_file.write_text(script)
    done = subprocess.run([sys.executable, str(script_file)], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-4000:])
    return done.stdout


def test_ingest_cameras_dag_builds_postgis_cameras_from_real_jamcams(
    airflow_env: dict[str, str], pg_settings: Settings
) -> None:
    landing = Path(airflow_env["DAS_LANDING_DIR"]) / "cameras"
    landing.mkdir(parents=True, exist_ok=True)
    shutil.copy(SAMPLES_DIR / "tfl_jamcams_2024-04.geojson", landing)
    out = _dag_test(airflow_env, "ingest_cameras")
    assert "STATE ingest_cameras success" in out, out[-2000:]
    with connect(pg_settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*), count(*) FILTER (WHERE available) FROM das.cameras WHERE is_current")
        assert cur.fetchone() == (900, 739)
        cur.execute(
            "SELECT count(*) FROM pg_indexes WHERE schemaname = 'das' AND tablename = 'cameras' "
            "AND indexdef ILIKE '%USING gist%'"
        )
        assert cur.fetchone()[0] >= 1
        cur.execute("SELECT count(*) FROM das.ingest_runs WHERE source = 'cameras' AND rows_landed = 900")
        assert cur.fetchone()[0] >= 1
    # Re-running the DAG is a no-op: the file is recognised by its checksum.
    assert "STATE ingest_cameras success" in _dag_test(airflow_env, "ingest_cameras")
    with connect(pg_settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM das.cameras")
        assert cur.fetchone()[0] == 900


def test_the_lfr_alerts_dag_first_ingests_the_deployments_that_landed_with_them(
    airflow_env: dict[str, str], pg_settings: Settings
) -> None:
    from das_tools.simulator.lfr import write_met_published_fixture

    write_met_published_fixture(Path(airflow_env["DAS_LANDING_DIR"]))
    out = _dag_test(airflow_env, "ingest_lfr_alerts", "ingest_lfr_deployments")  # the alerts' DAG runs first
    assert "STATE ingest_lfr_deployments success" in out and "STATE ingest_lfr_alerts success" in out, out[-2000:]
    with connect(pg_settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT (SELECT count(*) FROM das.lfr_deployments), (SELECT count(*) FROM das.lfr_alerts)")
        assert cur.fetchone() == (203, 2077)
        cur.execute(
            "SELECT source, rows_landed, rows_published FROM das.ingest_runs WHERE source LIKE 'lfr%%' ORDER BY source"
        )
        assert cur.fetchall() == [("lfr_alerts", 2077, 2077), ("lfr_deployments", 203, 203)]


def test_anpr_hotlist_and_build_flags_dags_produce_flags_with_evidence(
    airflow_env: dict[str, str], pg_settings: Settings
) -> None:
    """Reads of a hotlisted plate at two real JamCam sites flow through three DAGs into a flag with evidence."""
    landing = Path(airflow_env["DAS_LANDING_DIR"])
    if not (landing / "cameras").exists():
        (landing / "cameras").mkdir(parents=True)
        shutil.copy(SAMPLES_DIR / "tfl_jamcams_2024-04.geojson", landing / "cameras")
    (landing / "hotlist").mkdir(exist_ok=True)
    (landing / "hotlist" / "stolen.csv").write_text(
        "plate,list_name,reason,priority,valid_from,valid_to\nLB07 SEO,stolen,Stolen vehicle,high,,\n"
    )
    (landing / "anpr").mkdir(exist_ok=True)
    today = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
    (landing / "anpr" / "reads.csv").write_text(
        "read_id,camera_id,plate,read_at,confidence\n"
        f"e2e-1,00001.07450,LB07SEO,{today.isoformat()},0.95\n"
        f"e2e-2,00001.03553,LB07 SEO,{(today + timedelta(minutes=20)).isoformat()},0.93\n"
        f"e2e-3,00001.03553,XY12ABC,{today.isoformat()},0.91\n"
    )
    out = _dag_test(airflow_env, "ingest_cameras", "ingest_hotlist", "ingest_anpr", "build_flags")
    for dag_id in ("ingest_hotlist", "ingest_anpr", "build_flags"):
        assert f"STATE {dag_id} success" in out, out[-3000:]
    with connect(pg_settings) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT flag_id, score, summary FROM das.flags WHERE flag_type = 'hotlist_hit' AND subject = 'LB07SEO'"
        )
        flags = cur.fetchall()
        assert len(flags) == 1 and 0 < flags[0][1] <= 1
        cur.execute(
            "SELECT kind, ref_id, camera_id FROM das.flag_evidence WHERE flag_id = %s ORDER BY at", (flags[0][0],)
        )
        evidence = cur.fetchall()
        assert {(k, r) for k, r, _ in evidence if k == "read"} == {("read", "e2e-1"), ("read", "e2e-2")}
        cur.execute("SELECT count(*) FROM das.anpr_reads WHERE read_id LIKE 'e2e-%'")
        assert cur.fetchone()[0] == 3


def test_with_nothing_new_landed_no_silver_asset_is_emitted(airflow_env: dict[str, str]) -> None:
    """An ingest run that changes nothing skips its announce task: no Asset event, so build_flags is not queued."""
    landing = Path(airflow_env["DAS_LANDING_DIR"]) / "crimes"
    landing.mkdir(parents=True, exist_ok=True)

    def events() -> int:
        script = (
            "from airflow.utils.session import create_session\n"
            "from sqlalchemy import text\n"
            "with create_session() as s:\n"
            "    print('EVENTS', s.execute(text(\"SELECT count(*) FROM asset_event e JOIN asset a ON a.id = e.asset_id "
            "WHERE a.uri = 'das://silver/crimes'\")).scalar())\n"
        )
        path = Path(airflow_env["DAS_HOME"]) / "count_events.py"
        path.write_text(script)
        done = subprocess.run([sys.executable, str(path)], env=airflow_env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        return int(next(line for line in done.stdout.splitlines() if line.startswith("EVENTS")).split()[1])

    before = events()
    out = _dag_test(airflow_env, "ingest_crimes")
    assert "STATE ingest_crimes success" in out, out[-2000:]
    assert events() == before  # nothing landed: no event
    shutil.copy(SAMPLES_DIR / "met_street_2023-01_sample.csv", landing)
    assert "STATE ingest_crimes success" in _dag_test(airflow_env, "ingest_crimes")
    assert events() == before + 1  # new crimes: one event


def test_a_failing_task_posts_a_signed_alert_to_the_webhook(airflow_env: dict[str, str]) -> None:
    """The failure callback every DAG uses, fired by Airflow itself, reaches a real HTTP receiver."""
    from tests.integration.das.test_notify import SECRET, Receiver

    receiver = Receiver()
    probe_dags = Path(airflow_env["DAS_HOME"]) / "probe_dags"
    probe_dags.mkdir(exist_ok=True)
    (probe_dags / "alert_probe.py").write_text(
        textwrap.dedent(
            """
            from airflow.sdk import dag, task
            from jobs.orchestration import DEFAULT_ARGS

            @dag(dag_id="das_alert_probe", schedule=None, default_args={**DEFAULT_ARGS, "retries": 0})
            def probe():
                @task
                def explode():
                    raise RuntimeError("landing folder missing: create it or set DAS_LANDING_DIR")
                explode()

            probe()
            """
        )
    )
    env = {
        **airflow_env,
        "AIRFLOW__CORE__DAGS_FOLDER": str(probe_dags),
        "DAS_ALERTS__WEBHOOK_URL": receiver.url,
        "DAS_ALERTS__WEBHOOK_SECRET": SECRET,
    }
    runner = Path(env["DAS_HOME"]) / "run_alert_probe.py"
    runner.write_text(
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(probe_dags)!r})\n"
        "print('STATE', bag.dags['das_alert_probe'].test().state)\n"
    )
    try:
        done = subprocess.run([sys.executable, str(runner)], env=env, capture_output=True, text=True, timeout=600)
    finally:
        receiver.close()
    assert "STATE failed" in done.stdout, (done.stdout[-2000:], done.stderr[-3000:])
    assert len(receiver.requests) == 1, "the failure callback did not post to the webhook exactly once"
    headers, body = receiver.requests[0]
    payload = json.loads(body)
    assert payload["dag_id"] == "das_alert_probe" and payload["task_id"] == "explode"
    assert "landing folder missing" in payload["error"]
    assert headers[SIGNATURE_HEADER] == signature(SECRET, body)
    alerts_log = (Path(env["DAS_HOME"]) / "logs" / "alerts.log").read_text()
    assert "das_alert_probe" in alerts_log and "not delivered" not in alerts_log


def test_tasks_reach_postgis_through_the_airflow_connection(
    airflow_env: dict[str, str], pg_settings: Settings, tmp_path: Path
) -> None:
    """With AIRFLOW_CONN_DAS_POSTGIS naming another database than DAS_PG_DATABASE, the DAG publishes there."""
    from tests.postgres_fixtures import own_database

    landing = tmp_path / "landing"
    (landing / "hotlist").mkdir(parents=True)
    (landing / "hotlist" / "wanted.csv").write_text(
        "plate,list_name,reason,priority,valid_from,valid_to\nCN55AAA,wanted,Connection probe,low,,\n"
    )
    (tmp_path / "home").mkdir()
    with own_database(pg_settings, "das_connection_test", load_boundaries=False) as db:
        env = {
            **airflow_env,
            "DAS_HOME": str(tmp_path / "home"),
            "DAS_LANDING_DIR": str(landing),
            "AIRFLOW_CONN_DAS_POSTGIS": db.libpq_dsn,
        }
        out = _dag_test(env, "ingest_hotlist")
        assert "STATE ingest_hotlist success" in out, out[-2000:]
        with connect(db) as conn, conn.cursor() as cur:
            cur.execute("SELECT plate FROM das.hotlist")
            assert cur.fetchall() == [("CN55AAA",)]
    with connect(pg_settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM das.hotlist WHERE plate = 'CN55AAA'")
        assert cur.fetchone()[0] == 0  # DAS_PG_DATABASE's database was not used
