"""das as a force would deploy it: a built wheel in a fresh virtualenv, run outside the checkout.

The wheel is built from this checkout, installed with its dependencies into a new venv, and run from a folder
with no checkout in sight: ``das up`` makes its own PostgreSQL cluster and migrates it from the migrations shipped
as package data, and an ingest DAG is found through the installed ``dags`` package and run by ``dag.test()``
(``das airflow dags test``), reading the bundled sample that ships with the package.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.postgres_fixtures import free_port

pytestmark = pytest.mark.e2e

UV = Path(sys.executable).with_name("uv")


def run(args: list[str], *, env: dict[str, str], cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-4000:])
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str], Path]]:
    if not UV.exists():
        pytest.skip(f"uv is not installed next to {sys.executable} (make setup installs it)")
    root = tmp_path_factory.mktemp("installed")
    wheels, venv, work = root / "wheels", root / "venv", root / "work"
    work.mkdir()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DAS_", "AIRFLOW", "VIRTUAL_ENV", "PYTHONPATH"))}
    run([str(UV), "build", "--wheel", "--out-dir", str(wheels), str(REPO_ROOT)], env=clean, cwd=root)
    [wheel] = wheels.glob("das-*.whl")
    run([str(UV), "venv", "-q", "--python", sys.executable, str(venv)], env=clean, cwd=root)
    run([str(UV), "pip", "install", "-q", "--python", str(venv / "bin" / "python"), str(wheel)], env=clean, cwd=root)
    env = {
        **clean,
        "PATH": f"{venv / 'bin'}:{clean.get('PATH', '')}",
        "DAS_HOME": str(work / "home"),
        "DAS_PG_PORT": str(free_port()),
        "DAS_LANDING_DIR": str(work / "landing"),
        "DAS_SPARK_DRIVER_MEMORY": "2g",
        "DAS_SPARK_SHUFFLE_PARTITIONS": "2",
    }
    try:
        yield venv, env, work
    finally:
        subprocess.run([str(venv / "bin" / "das"), "down"], env=env, cwd=work, capture_output=True, timeout=300)


def test_the_wheel_runs_migrations_and_a_dag_without_the_checkout(installed: tuple[Path, dict[str, str], Path]) -> None:
    venv, env, work = installed
    das, python = str(venv / "bin" / "das"), str(venv / "bin" / "python")
    where = run(
        [
            python,
            "-c",
            "import das, dags, das.postgis.migrations as m; print(das.__file__, dags.__path__[0], m.ALEMBIC_INI)",
        ],
        env=env,
        cwd=work,
    ).stdout.split()
    site = str(venv / "lib")
    assert all(path.startswith(site) for path in where), where  # the package, not the checkout
    assert not any(str(REPO_ROOT) in path for path in where)

    up = run([das, "up"], env=env, cwd=work)
    assert "migrations: at head" in up.stdout, up.stdout

    samples = Path(where[0]).parent / "samples"
    (work / "landing" / "cameras").mkdir(parents=True)
    shutil.copy(samples / "tfl_jamcams_2024-04.geojson", work / "landing" / "cameras")
    dag_run = run([das, "airflow", "dags", "test", "ingest_cameras"], env=env, cwd=work, timeout=1200)
    assert "state=success" in dag_run.stdout + dag_run.stderr, dag_run.stdout[-3000:]

    count = run(
        [
            python,
            "-c",
            "from das.config import get_settings; from das.postgis.connection import transaction\n"
            "with transaction(get_settings()) as c, c.cursor() as cur:\n"
            "    cur.execute('SELECT count(*) FROM das.cameras WHERE is_current'); print(cur.fetchone()[0])",
        ],
        env=env,
        cwd=work,
    )
    assert count.stdout.strip() == "900"

    # The web app is in the wheel too: its page, its pinned Leaflet (no CDN) and the API answer from the install.
    port = free_port()
    server = subprocess.Popen([das, "serve", "--port", str(port), "--no-notifier"], env=env, cwd=work,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        base, deadline, pages = f"http://127.0.0.1:{port}", time.monotonic() + 90, {}
        while time.monotonic() < deadline and server.poll() is None:
            try:
                for path in ("/healthz", "/", "/static/vendor/leaflet.js", "/openapi.json"):
                    with urllib.request.urlopen(base + path, timeout=5) as answer:
                        pages[path] = answer.read()
                break
            except OSError:
                time.sleep(0.5)
        assert server.poll() is None, server.stderr.read().decode()[-3000:] if server.stderr else ""
        assert b"leaflet.js" in pages["/"] and b"Leaflet" in pages["/static/vendor/leaflet.js"][:2000]
        assert b"/api/search/stakeout" in pages["/openapi.json"]
    finally:
        server.terminate()
        server.wait(timeout=20)
