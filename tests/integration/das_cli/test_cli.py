"""The `das` command's edges, as a user meets them: a version, plain help, enumerations checked before any work,
and a status that fails when the database is down."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.postgres_fixtures import free_port

DAS = str(Path(sys.executable).with_name("das"))


def das(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DAS_HOME": str(home), "DAS_PG_PORT": str(free_port())}
    return subprocess.run([DAS, *args], env=env, capture_output=True, text=True, timeout=120)


def test_version(tmp_path: Path) -> None:
    from importlib.metadata import version

    done = das("--version", home=tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == f"das {version('das')}"


@pytest.mark.parametrize("command", [["flags"], ["ingest"], ["users", "add"], ["search", "plate"], ["runs"]])
def test_help_is_plain_text_and_flags_take_no_value(tmp_path: Path, command: list[str]) -> None:
    done = das(*command, "--help", home=tmp_path)
    assert done.returncode == 0
    assert "<bool>" not in done.stdout and "╭" not in done.stdout and "[bold" not in done.stdout


@pytest.mark.parametrize(
    ("args", "option", "valid"),
    [
        (["flags", "--type", "nonsense"], "--type", "hotlist_hit, cloned_plate"),
        (["flags", "--status", "closed"], "--status", "new, acknowledged, dismissed, escalated"),
        (["ingest", "videos", "/tmp"], "source", "cameras, hotlist, crimes, anpr"),
        (["runs", "--source", "videos"], "--source", "cameras, hotlist, crimes, anpr"),
        (["quarantine", "--reason", "bad"], "--reason", "unreadable_file"),
    ],
)
def test_an_invalid_enumeration_is_refused_before_any_work_listing_the_valid_values(
    tmp_path: Path, args: list[str], option: str, valid: str
) -> None:
    done = das(*args, home=tmp_path)
    assert done.returncode == 2
    assert f"{option} " in done.stderr and valid in done.stderr
    assert not (tmp_path / "spark-tmp").exists()  # Spark never started


def test_status_fails_when_the_database_is_down(tmp_path: Path) -> None:
    done = das("status", home=tmp_path)
    assert done.returncode == 1 and "not running" in done.stderr and "das up" in done.stderr
