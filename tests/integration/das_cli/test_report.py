"""`das report` as a user runs it: a bad date is refused before any work, a good one prints the page's path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from das.config import Settings, reset_settings_cache
from das_cli.main import app
from tests.postgres_fixtures import own_database

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def db(pg_settings: Settings) -> Iterator[Settings]:
    with own_database(pg_settings, "das_report_cli_test") as settings:
        yield settings


@pytest.mark.parametrize("bad", ["2026-13-01", "02/12/2026", "yesterday"])
def test_a_bad_date_is_refused_naming_the_format(bad: str, tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["report", "--date", bad, "--out", str(tmp_path / "out")])
    assert done.exit_code == 2
    assert "--date" in done.output and "YYYY-MM-DD" in done.output and repr(bad) in done.output
    assert not (tmp_path / "out").exists()


def test_report_writes_the_page_and_prints_its_path(
    db: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAS_HOME", str(db.home_abs))  # the cluster's home: das up finds it running
    monkeypatch.setenv("DAS_PG_PORT", str(db.pg_port))
    monkeypatch.setenv("DAS_PG_DATABASE", db.pg_database)
    reset_settings_cache()
    try:
        done = CliRunner().invoke(app, ["report", "--date", "2026-12-02", "--out", str(tmp_path / "briefing")])
    finally:
        reset_settings_cache()
    assert done.exit_code == 0, done.output
    index = tmp_path / "briefing" / "index.html"
    assert done.stdout.strip().splitlines()[-1] == str(index)
    page = index.read_text()
    assert "Wednesday 2 December 2026" in page and "No ANPR reads on this day" in page
    assert {p.name for p in index.parent.iterdir()} == {
        "index.html",
        "map.png",
        "reads_per_hour.png",
        "crimes_per_borough.png",
    }
