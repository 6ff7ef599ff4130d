"""Shared PostGIS fixtures: one throwaway local cluster for the whole test session.

``pg_settings`` starts it (on a free port, in its own DAS_HOME) and stops it at the end; ``pg_conn`` is a
connection to the das database whose work is rolled back after each test. When PostgreSQL cannot be found
or installed the fixture fails under CI (the suite must not go green without its database) and skips
elsewhere, giving the reason either way.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2.extensions
import pytest

from das.config import Settings, reset_settings_cache
from das.errors import ServiceError
from das_tools.localstack.postgres import PostgresMissingError, connect, down, enable_postgis, up


def free_port() -> int:
    """A TCP port nothing listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_pg_home(prefix: str = "das-pg-") -> Path:
    """A temporary DAS_HOME the postgres service user can reach when we run as root.

    pytest's own tmp dirs sit under a 0700 root-owned directory that the service user cannot traverse.
    """
    home = Path(tempfile.mkdtemp(prefix=prefix))
    home.chmod(0o755)
    return home


def start_or_give_up(settings: Settings) -> None:
    """``up``; without binaries, fail under CI and skip elsewhere, both with the ServiceError message."""
    try:
        up(settings)
    except PostgresMissingError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL/PostGIS unavailable: {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL/PostGIS unavailable: {exc}")


@pytest.fixture(scope="session")
def pg_settings() -> Iterator[Settings]:
    """Settings for a running local PostGIS cluster (databases das and airflow exist, postgis enabled)."""
    home = make_pg_home()
    port = free_port()
    # Code that calls get_settings() itself should reach this cluster too.
    previous_port = os.environ.get("DAS_PG_PORT")
    os.environ["DAS_PG_PORT"] = str(port)
    reset_settings_cache()
    settings = Settings(home=home, pg_port=port)
    try:
        start_or_give_up(settings)
        yield settings
    finally:
        # A failure here was already reported by the test that broke the cluster; the temp dir goes anyway.
        with contextlib.suppress(ServiceError):
            down(settings)
        if previous_port is None:
            os.environ.pop("DAS_PG_PORT", None)
        else:
            os.environ["DAS_PG_PORT"] = previous_port
        reset_settings_cache()
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def pg_conn(pg_settings: Settings) -> Iterator[psycopg2.extensions.connection]:
    """A connection to the das database; everything the test did is rolled back afterwards."""
    conn = connect(pg_settings)
    try:
        yield conn
    finally:
        conn.rollback()
        conn.close()


@contextlib.contextmanager
def own_database(pg_settings: Settings, name: str, *, load_boundaries: bool = True) -> Iterator[Settings]:
    """Settings for a fresh, migrated database ``name`` on the shared cluster, dropped afterwards."""
    admin = connect(pg_settings, "postgres", admin=True)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {name} OWNER {pg_settings.pg_user}")
    settings = pg_settings.model_copy(update={"pg_database": name})
    enable_postgis(settings, name)
    from das import postgis

    postgis.migrate(settings, load_boundaries=load_boundaries)
    try:
        yield settings
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


def elsewhere(settings: Settings, home: Path, **update: object) -> Settings:
    """The same database from another DAS_HOME (its own lake, locks, journal): the credentials come along."""
    from pydantic import SecretStr

    password = settings.local_password(settings.pg_user)
    return settings.model_copy(
        update={
            "home": home,
            "pg_password": SecretStr(password) if password else None,
            "airflow_database_url": settings.airflow_database_url or settings.airflow_sqlalchemy_url,
            **update,
        }
    )


def child_env(settings: Settings) -> dict[str, str]:
    """Environment for a `das` child process that reaches ``settings``' database and lake."""
    password = settings.local_password(settings.pg_user)
    return {
        **os.environ,
        "DAS_HOME": str(settings.home_abs),
        "DAS_LAKE_ROOT": settings.lake,
        "DAS_PG_PORT": str(settings.pg_port),
        "DAS_PG_DATABASE": settings.pg_database,
        **({"DAS_PG_PASSWORD": password} if password else {}),
    }


@contextlib.contextmanager
def autocommit(settings: Settings) -> Iterator[Any]:
    """A psycopg2 connection to ``settings``' database in autocommit, closed afterwards."""
    connection = psycopg2.connect(settings.libpq_dsn)
    connection.autocommit = True
    try:
        yield connection
    finally:
        connection.close()


def query(conn: Any, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` (none for a statement without a result)."""
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall()) if cur.description else []


def login_env(settings: Settings, user: str, password: str) -> dict[str, str]:
    """Environment for a `das` child process that logs in to ``settings``' database as ``user``."""
    return {
        **os.environ,
        "DAS_HOME": str(settings.home_abs),
        "DAS_PG_PORT": str(settings.pg_port),
        "DAS_PG_DATABASE": settings.pg_database,
        "DAS_PG_USER": user,
        "DAS_PG_PASSWORD": password,
    }
