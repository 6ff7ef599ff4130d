"""Shared fixtures. Tests use throwaway state: a temporary DAS_HOME, never the user's."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from das.config import Settings, reset_settings_cache

# pyspark.sql.connect exits the process at import when __main__ has neither a spec nor a file (it takes that for
# its own doctest run, and skips for want of grpc): an xdist worker's __main__ is such a module.
_main = sys.modules["__main__"]
if getattr(_main, "__spec__", None) is None and not hasattr(_main, "__file__"):
    _main.__file__ = "<pytest worker>"

TESTS = Path(__file__).resolve().parent
REPO_ROOT = TESTS.parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by its folder (unit | integration | e2e), and ``spark`` when it needs the JVM session."""
    for item in items:
        item.add_marker(Path(str(item.fspath)).resolve().relative_to(TESTS).parts[0])
        if "spark" in getattr(item, "fixturenames", ()):
            item.add_marker("spark")


@pytest.fixture(scope="session")
def session_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("das_home")
    os.environ["DAS_HOME"] = str(home)
    reset_settings_cache()
    return home


@pytest.fixture(scope="session")
def spark(session_home: Path):  # type: ignore[no-untyped-def]
    """One Spark session for the whole test run (start-up costs seconds)."""
    from das.spark import build_spark

    settings = Settings(home=session_home, spark_shuffle_partitions=2, spark_driver_memory="2g")
    session = build_spark(settings, app_name="das-tests")
    yield session
    session.stop()


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings pointing at a fresh temporary DAS_HOME (lake, landing, logs)."""
    monkeypatch.setenv("DAS_HOME", str(tmp_path / "home"))
    reset_settings_cache()
    yield Settings(home=tmp_path / "home")
    reset_settings_cache()


# Real PostGIS fixtures (pg_settings, pg_conn) shared by integration and e2e tests.
from tests.postgres_fixtures import pg_conn, pg_settings  # noqa: E402,F401
