"""Environment that points the Airflow CLI and DAGs at the local (or configured) setup."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from das.config import Settings
from das.credentials import pseudonym_key


def dags_folder() -> Path:
    """The installed ``dags`` package's folder (a checkout's ``dags/`` when installed editable)."""
    spec = importlib.util.find_spec("dags")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the das DAG files are not installed: reinstall das (pip install das-*.whl)")
    return Path(next(iter(spec.submodule_search_locations)))


def airflow_environment(settings: Settings) -> dict[str, str]:
    """Airflow settings as environment variables: metadata DB in the das cluster, DAGs from the ``dags`` package.

    The PostGIS Connection (``das_postgis``, what the tasks read through the providers-postgres hook) comes from
    the environment too (AIRFLOW_CONN_*), so no secret lives in the metadata database.
    """
    settings.airflow_home.mkdir(parents=True, exist_ok=True)
    return {
        "AIRFLOW_HOME": str(settings.airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder()),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": settings.airflow_sqlalchemy_url,
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(settings.logs_dir / "airflow"),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW_CONN_DAS_POSTGIS": settings.libpq_dsn,
        "DAS_HOME": str(settings.home_abs),
        "DAS_PG_PORT": str(settings.pg_port),
        # Secrets reach task processes through their environment only (never a file in the DAG folder).
        **({"DAS_PG_PASSWORD": password} if (password := settings.local_password(settings.pg_user)) else {}),
        **({"DAS_AIRFLOW_DATABASE_URL": settings.airflow_database_url} if settings.airflow_database_url else {}),
        "DAS_PSEUDONYM_KEY": pseudonym_key(settings).decode(),
    }


def prepare_airflow(env: dict[str, str]) -> None:
    """Migrate Airflow's metadata database and create the das pools (both idempotent)."""
    from jobs.orchestration import pools  # here: it imports Airflow, which reads its configuration once

    airflow = str(Path(sys.executable).with_name("airflow"))
    for step in (["db", "migrate"], ["pools", "import"]):
        with tempfile.NamedTemporaryFile("w", suffix=".json") as pool_file:
            json.dump(pools(), pool_file)
            pool_file.flush()
            args = [*step, pool_file.name] if step[0] == "pools" else step
            done = subprocess.run([airflow, *args], env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(step)} failed: {done.stderr.strip()[-2000:]}")
