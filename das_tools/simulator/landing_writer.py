"""Landing files, written atomically: a hidden ``.name.tmp`` first, renamed only when complete.

The ingest ignores dot-files and ``*.tmp``, so a run that is killed or raises leaves nothing it would
take as a complete file; ``AtomicFiles`` also deletes its temporary files when the block raises.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np
import polars as pl

from das_tools.simulator.traffic import (
    MALFORMED_BAD_CONF,
    MALFORMED_BAD_TIME,
    MALFORMED_EMPTY_PLATE,
    MALFORMED_UNKNOWN_CAMERA,
    UNKNOWN_CAMERA_ID,
    ReadBatch,
)
from schemas import landing

ANPR_COLUMNS = landing.ANPR_CSV.fields
CAMERA_COLUMNS = landing.CAMERA_CSV.fields[:12]  # no image or video URLs: simulated cameras have none
CRIME_COLUMNS = tuple(f for f in landing.INCIDENT_CSV.fields if f != "occurred_at")
HOTLIST_COLUMNS = landing.HOTLIST_CSV.fields
_BAD_TIMES = ("2024-13-45T25:61:00Z", "not a time", "", "31/02/2026 25:00")


def temp_path(final: Path) -> Path:
    return final.with_name(f".{final.name}.tmp")


class AtomicFiles:
    """Temporary files that become their final names together on success, or vanish on failure."""

    def __init__(self) -> None:
        self._open: dict[Path, IO[bytes]] = {}
        self._pending: list[Path] = []

    def handle(self, final: Path) -> IO[bytes]:
        """An append handle on the temporary file for ``final`` (created on first use)."""
        if final not in self._open:
            final.parent.mkdir(parents=True, exist_ok=True)
            self._open[final] = temp_path(final).open("wb")
            self._pending.append(final)
        return self._open[final]

    def is_new(self, final: Path) -> bool:
        return final not in self._open

    def commit(self) -> list[Path]:
        for handle in self._open.values():
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
        for final in self._pending:
            os.replace(temp_path(final), final)
        done, self._pending, self._open = self._pending, [], {}
        return done

    def abort(self) -> None:
        for handle in self._open.values():
            handle.close()
        for final in self._pending:
            temp_path(final).unlink(missing_ok=True)
        self._pending, self._open = [], {}


@contextmanager
def atomic_files() -> Iterator[AtomicFiles]:
    files = AtomicFiles()
    try:
        yield files
    except BaseException:
        files.abort()
        raise
    files.commit()


def iso(epoch_s: int | None) -> str:
    if epoch_s is None or epoch_s < 0:
        return ""
    return dt.datetime.fromtimestamp(int(epoch_s), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_csv(files: AtomicFiles, final: Path, columns: tuple[str, ...], rows: dict[str, Any]) -> None:
    frame = pl.DataFrame({c: rows[c] for c in columns})
    empty_as_null(frame).write_csv(files.handle(final), include_header=True)


def empty_as_null(frame: pl.DataFrame) -> pl.DataFrame:
    """Empty text becomes an empty *unquoted* field: CSV readers take it as missing, not as ''."""
    text = [c for c, t in frame.schema.items() if t == pl.Utf8]
    return frame.with_columns(pl.when(pl.col(c) == "").then(None).otherwise(pl.col(c)).alias(c) for c in text)


def write_json(files: AtomicFiles, final: Path, document: dict[str, Any]) -> None:
    files.handle(final).write(json.dumps(document, indent=1, sort_keys=False).encode("utf-8"))


class ReadsWriter:
    """Appends read batches to the day's time-window files (micro-batches), with unique read ids."""

    def __init__(self, files: AtomicFiles, anpr_dir: Path, camera_ids: np.ndarray, files_per_day: int) -> None:
        self.files = files
        self.anpr_dir = anpr_dir
        self.camera_ids = camera_ids
        self.files_per_day = files_per_day
        self.counter: dict[str, int] = {}
        self.rows_written = 0

    def window_file(self, day: dt.date, part: int) -> Path:
        minutes = part * 1440 // self.files_per_day
        return self.anpr_dir / f"anpr_{day:%Y%m%d}_{minutes // 60:02d}{minutes % 60:02d}.csv"

    def write(self, day: dt.date, day_start: int, batch: ReadBatch) -> None:
        if batch.size == 0:
            return
        order = np.argsort(batch.t, kind="stable")
        batch = batch.take(order)
        part = np.clip((batch.t - day_start) * self.files_per_day // 86_400, 0, self.files_per_day - 1)
        frame = self._frame(day, batch)
        for p in np.unique(part):
            final = self.window_file(day, int(p))
            header = self.files.is_new(final)
            empty_as_null(frame.filter(pl.Series(part == p))).write_csv(self.files.handle(final), include_header=header)
        self.rows_written += batch.size

    def ensure_all_files(self, day: dt.date) -> None:
        """Every window gets a file, even a window without reads (a header-only file)."""
        for p in range(self.files_per_day):
            final = self.window_file(day, p)
            if self.files.is_new(final):
                pl.DataFrame({c: [] for c in ANPR_COLUMNS}, schema=dict.fromkeys(ANPR_COLUMNS, pl.Utf8)).write_csv(
                    self.files.handle(final), include_header=True
                )

    def _frame(self, day: dt.date, b: ReadBatch) -> pl.DataFrame:
        key = day.isoformat()
        first = self.counter.get(key, 0)
        self.counter[key] = first + b.size
        # A bijective scramble of the row counter: unique ids that do not reveal generation order.
        serial = (
            np.arange(first, first + b.size, dtype=np.uint64) * np.uint64(0x9E3779B1) + np.uint64(0x5BD1E995)
        ) % np.uint64(1 << 40)
        camera_id = self.camera_ids[b.cam].astype(object)
        plate = b.plate.astype(object)
        read_at = pl.from_epoch(pl.Series(b.t), time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy()
        read_at = read_at.astype(object)
        confidence = np.round(b.confidence.astype(np.float64), 3).astype(object)
        bad = b.malformed
        plate[bad == MALFORMED_EMPTY_PLATE] = ""
        bad_time = np.flatnonzero(bad == MALFORMED_BAD_TIME)
        read_at[bad_time] = [_BAD_TIMES[i % len(_BAD_TIMES)] for i in range(bad_time.size)]
        camera_id[bad == MALFORMED_UNKNOWN_CAMERA] = UNKNOWN_CAMERA_ID
        confidence[bad == MALFORMED_BAD_CONF] = 1.7
        frame = pl.DataFrame(
            {
                "read_id": pl.Series(serial).cast(pl.Utf8),
                "camera_id": pl.Series(camera_id, dtype=pl.Utf8),
                "plate": pl.Series(plate, dtype=pl.Utf8),
                "read_at": pl.Series(read_at, dtype=pl.Utf8),
                "confidence": pl.Series(confidence.astype(np.float64)),
                "country": pl.Series(b.country, dtype=pl.Utf8),
                "direction": pl.Series(b.direction, dtype=pl.Utf8),
                "lane": pl.Series(b.lane.astype(np.int64)),
            }
        )
        return (
            frame.with_columns(
                pl.format("R{}-{}", pl.lit(f"{day:%Y%m%d}"), pl.col("read_id").str.zfill(13)).alias("read_id"),
            )
            .with_columns(
                pl.format("s3://anpr-evidence/{}/{}.jpg", pl.col("camera_id"), pl.col("read_id")).alias("image_uri"),
            )
            .select(ANPR_COLUMNS)
        )
