"""The run journal: what an ingest run set out to do, so a run killed at any point can be finished exactly once.

Before its first commit a run writes its entry (``<lake>/_journal/<source>/<run_id>.json``): the files, the run's
clock, and the silver version it classifies against. Every commit it then makes (bronze, silver, quarantine, the
ledger) carries the run id as a Delta application transaction, so "was this table's part done?" is answered by
the table itself. A rerun of the source first finishes each unfinished entry with the same files, clock and
silver version (so it classifies exactly as the killed run did), skipping the commits already made. Publishing
marks the entry published and removes it; an entry is also where a run that failed stays visible.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import pyarrow.fs as pafs

RUNNING, COMMITTED, FAILED = "running", "committed", "failed"


@dataclass
class JournalEntry:
    run_id: str
    source: str
    started_at: str  # ISO 8601, the run's clock: a rerun reuses it
    files: list[dict[str, Any]]  # {path, checksum}
    silver_version: int  # the silver version the run classifies against (-1: no table yet)
    reference_versions: dict[str, int] = field(default_factory=dict)  # tables conform reads, at run start
    status: str = RUNNING
    published_partitions: list[str] = field(default_factory=list)
    rows_published: int = 0
    ledger_published: bool = False
    message: str = ""
    quality: list[dict[str, Any]] = field(default_factory=list)  # each check of each batch, published with the run

    @property
    def now(self) -> datetime:
        return datetime.fromisoformat(self.started_at)

    @property
    def checksums(self) -> set[str]:
        return {f["checksum"] for f in self.files}


class Journal:
    """Entries as small JSON objects next to the lake (a local folder or an object store)."""

    def __init__(self, lake_root: str, storage_options: dict[str, str] | None = None):
        uri = lake_root.rstrip("/") + "/_journal"
        if "://" not in uri:
            self.fs: pafs.FileSystem = pafs.LocalFileSystem()
            self.root = uri
        else:
            self.fs, self.root = pafs.FileSystem.from_uri(uri)
        self.storage_options = storage_options or {}

    def _path(self, source: str, run_id: str) -> str:
        return f"{self.root}/{source}/{run_id}.json"

    def write(self, entry: JournalEntry) -> None:
        """Replace the entry atomically (written aside, then moved over the old one)."""
        folder = f"{self.root}/{entry.source}"
        self.fs.create_dir(folder, recursive=True)
        target = self._path(entry.source, entry.run_id)
        temporary = target + ".writing"
        with self.fs.open_output_stream(temporary) as out:
            out.write(json.dumps(asdict(entry), indent=1).encode())
        self.fs.move(temporary, target)

    def entries(self, source: str, status: str | None = None) -> list[JournalEntry]:
        selector = pafs.FileSelector(f"{self.root}/{source}", allow_not_found=True)
        found = []
        for info in sorted(self.fs.get_file_info(selector), key=lambda i: i.path):
            if not info.path.endswith(".json"):
                continue
            with self.fs.open_input_stream(info.path) as handle:
                entry = JournalEntry(**json.loads(handle.read()))
            if status is None or entry.status == status:
                found.append(entry)
        return found

    def remove(self, entry: JournalEntry) -> None:
        self.fs.delete_file(self._path(entry.source, entry.run_id))
