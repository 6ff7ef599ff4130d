"""What an ingest run found per file, and its reconciliation: rows landed = published + quarantined + duplicates."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas.tables import INGEST_RUNS

SUCCEEDED, FAILED, SKIPPED = "succeeded", "failed", "skipped_duplicate_file"
FAILED_EARLIER = "failed_earlier"  # a file of a run that did not reconcile: skipped, not re-appended


@dataclass
class FileOutcome:
    source: str
    source_file: str
    checksum: str
    source_format: str | None
    rows_landed: int = 0
    rows_published: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    rows_updated: int = 0  # of the published: new versions of records already held (corrections)
    rows_conflicting: int = 0  # of the quarantined: the same key with other content
    status: str = SUCCEEDED
    messages: list[str] = field(default_factory=list)

    @property
    def reconciles(self) -> bool:
        return self.rows_landed == self.rows_published + self.rows_quarantined + self.rows_duplicate

    def count(self, status: str, rows: int) -> None:
        """Add ``rows`` classified as published, duplicate or quarantined."""
        if status == "published":
            self.rows_published += rows
        elif status == "duplicate":
            self.rows_duplicate += rows
        else:
            self.rows_quarantined += rows


@dataclass
class IngestResult:
    run_id: str
    source: str
    files: list[FileOutcome] = field(default_factory=list)
    quarantine_reasons: Counter[str] = field(default_factory=Counter)
    quality_reports: list[Any] = field(default_factory=list)
    data_docs: list[str] = field(default_factory=list)
    published_partitions: list[str] = field(default_factory=list)  # silver partition values the run added rows to
    recovered_runs: list[str] = field(default_factory=list)  # interrupted runs this call finished first
    rows_withdrawn: int = 0  # snapshot sources: held entries the new snapshot no longer lists

    def total(self, attribute: str) -> int:
        return sum(getattr(f, attribute) for f in self.files)

    def unreconciled(self) -> list[FileOutcome]:
        return [f for f in self.files if not f.reconciles]


def new_run_id(source: str, now: datetime) -> str:
    return f"{source}-{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


def ledger_rows(result: IngestResult, started: datetime, finished: datetime) -> list[tuple[Any, ...]]:
    """One ``ops/ingest_runs`` row per file; a file that does not reconcile is recorded as failed."""
    return [
        INGEST_RUNS.row(
            {
                "ingest_run_id": result.run_id,
                "source": f.source,
                "source_file": f.source_file,
                "source_checksum": f.checksum,
                "source_format": f.source_format,
                "started_at": started,
                "finished_at": finished,
                "rows_landed": f.rows_landed,
                "rows_published": f.rows_published,
                "rows_quarantined": f.rows_quarantined,
                "rows_duplicate": f.rows_duplicate,
                "rows_updated": f.rows_updated,
                "rows_conflicting": f.rows_conflicting,
                "status": f.status if f.reconciles or f.status != SUCCEEDED else FAILED,
                "message": "; ".join(f.messages)[:4000] or None,
            }
        )
        for f in result.files
        if f.status not in (SKIPPED, FAILED_EARLIER)  # already in the ledger
    ]
