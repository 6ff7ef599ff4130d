"""Locks across processes: exclusive, visible with their holder, and free again when the holder dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from das.config import Settings
from das.locks import LockTimeout, held, list_locks

HOLDER = """
import sys, time
from das.config import Settings
from das.locks import held
with held(Settings(home=sys.argv[1]), "ingest-anpr", purpose="a test holder"):
    print("holding", flush=True)
    time.sleep(600)
"""


def _holder(home: Path) -> subprocess.Popen[str]:
    script = home / "holder.py"
    script.write_text(HOLDER)
    child = subprocess.Popen([sys.executable, str(script), str(home)], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "holding"
    return child


def test_a_held_lock_shows_its_holder_blocks_others_and_is_free_once_its_process_is_killed(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    child = _holder(tmp_path)
    try:
        (lock,) = list_locks(settings)
        assert (lock.name, lock.held, lock.pid, lock.purpose) == ("ingest-anpr", True, child.pid, "a test holder")
        assert lock.age_s is not None and lock.age_s >= 0
        with pytest.raises(LockTimeout, match=f"held by pid {child.pid}"), held(settings, "ingest-anpr", "me", 0.5):
            pass
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    started = time.monotonic()
    with held(settings, "ingest-anpr", "me", timeout_s=5):  # the dead holder's lock is taken over at once
        assert time.monotonic() - started < 2
        assert [(lock.held, lock.pid) for lock in list_locks(settings)] == [(True, os.getpid())]
    assert [lock.held for lock in list_locks(settings)] == [False]


def test_different_names_do_not_block_each_other(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    with held(settings, "ingest-anpr", "a", 0.1), held(settings, "ingest-cameras", "b", 0.1):
        assert sorted(lock.name for lock in list_locks(settings) if lock.held) == ["ingest-anpr", "ingest-cameras"]
