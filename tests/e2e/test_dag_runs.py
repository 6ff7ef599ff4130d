"""DAG runs end to end through Airflow's ``dag.test()`` against real services (PostGIS, Spark, Delta).

Each run happens in a child process whose Airflow metadata database is the ``airflow`` database of the test
PostGIS cluster (as in production, not SQLite): Airflow reads its configuration once per process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from das.airflow_env import airflow_environment
from das.config import SAMPLES_DIR, Settings
from das.local_postgres import connect

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def airflow_env(pg_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    landing = tmp_path_factory.mktemp("e2e_landing")
    home = Path(tmp_path_factory.mktemp("e2e_home"))
    settings = pg_settings.model_copy(update={"home": home, "landing_dir": landing})
    env = {
        **os.environ,
        **airflow_environment(settings),
        "DAS_LANDING_DIR": str(landing),
        "DAS_SPARK_DRIVER_MEMORY": "2g",
        "DAS_SPARK_SHUFFLE_PARTITIONS": "2",
    }
    airflow = str(Path(sys.executable).with_name("airflow"))
    migrated = subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True, text=True, timeout=600)
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    return env


def _dag_test(env: dict[str, str], dag_id: str) -> str:
    # A script file, not ``python -c``: pyspark.sql.connect exits when __main__ has no file (doctest guard).
    script = textwrap.dedent(
        f"""
        from das import postgis
        from das.config import get_settings
        postgis.migrate(get_settings())
        from airflow.dag_processing.dagbag import DagBag
        bag = DagBag(dag_folder={env["AIRFLOW__CORE__DAGS_FOLDER"]!r})
        run = bag.dags[{dag_id!r}].test()
        print("STATE", run.state)
        """
    )
    script_file = Path(env["DAS_HOME"]) / f"dag_test_{dag_id}.py"
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
    assert "STATE success" in out, out[-2000:]
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
    assert "STATE success" in _dag_test(airflow_env, "ingest_cameras")
    with connect(pg_settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM das.cameras")
        assert cur.fetchone()[0] == 900
