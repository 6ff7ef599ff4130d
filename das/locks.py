"""Named locks across processes: one writer per source and per gold table at a time.

A lock is an exclusive ``flock`` on ``DAS_HOME/locks/<name>.lock``, held for the duration of the block. The kernel
releases it when its process dies, so a crashed holder never leaves a stale lock behind: the next taker simply
gets it, and finds the dead holder's note (pid, host, purpose, since) in the file, which it replaces. ``das locks``
lists each lock, whether it is held, by whom and for how long.

The lock directory must be shared by every process that writes the lake: on one machine ``DAS_HOME`` is; on a
cluster point ``DAS_LOCKS_DIR`` at a shared file system. Delta's optimistic concurrency (``das.lake``) remains the
safety net underneath.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from das.config import Settings
from das.errors import DasError


class LockTimeout(DasError):
    """Another process held the lock for longer than we were willing to wait."""


@dataclass(frozen=True)
class LockInfo:
    name: str
    held: bool
    pid: int | None
    host: str | None
    purpose: str | None
    since: datetime | None

    @property
    def age_s(self) -> float | None:
        return None if self.since is None else (datetime.now(UTC) - self.since).total_seconds()


def lock_path(settings: Settings, name: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return settings.locks_dir / f"{safe}.lock"


def _note(handle: IO[str]) -> dict[str, object]:
    handle.seek(0)
    try:
        note = json.loads(handle.read() or "{}")
    except json.JSONDecodeError:
        return {}
    return note if isinstance(note, dict) else {}


@contextmanager
def held(settings: Settings, name: str, purpose: str, timeout_s: float | None = None) -> Iterator[None]:
    """Hold lock ``name`` for the block; wait up to ``timeout_s`` (default ``DAS_LOCK_TIMEOUT_S``) for it."""
    path = lock_path(settings, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    timeout_s = settings.lock_timeout_s if timeout_s is None else timeout_s
    deadline = time.monotonic() + timeout_s
    with path.open("a+", encoding="utf-8") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    note = _note(handle)
                    raise LockTimeout(
                        f"lock {name!r} is held by pid {note.get('pid')} on {note.get('host')} for "
                        f"{note.get('purpose')} since {note.get('since')}; waited {timeout_s:g} s "
                        "(DAS_LOCK_TIMEOUT_S). `das locks` shows every lock"
                    ) from None
                time.sleep(0.2)
        try:
            handle.seek(0)
            handle.truncate()
            since = datetime.now(UTC).isoformat()
            handle.write(
                json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "purpose": purpose, "since": since})
            )
            handle.flush()
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)


def list_locks(settings: Settings) -> list[LockInfo]:
    """Every lock file, whether it is held now, and the holder's note."""
    found = []
    for path in sorted(settings.locks_dir.glob("*.lock")):
        with path.open("a+", encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
                is_held = False
                fcntl.flock(handle, fcntl.LOCK_UN)
            except BlockingIOError:
                is_held = True
            note = _note(handle) if is_held else {}
        since = note.get("since")
        found.append(
            LockInfo(
                name=path.stem,
                held=is_held,
                pid=int(str(note["pid"])) if "pid" in note else None,
                host=str(note["host"]) if "host" in note else None,
                purpose=str(note["purpose"]) if "purpose" in note else None,
                since=datetime.fromisoformat(str(since)) if since else None,
            )
        )
    return found
