"""Simulation parameters, validated up front so a bad value fails with one clear sentence."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from das.config import SAMPLES_DIR
from das.errors import DasError

DEFAULT_CAMERAS_FILE = SAMPLES_DIR / "tfl_jamcams_2024-04.geojson"


class SimulationConfigError(DasError):
    """A simulation parameter is out of range or of the wrong type."""


@dataclass(frozen=True)
class PlantedCounts:
    """How many of each planted pattern (and of each planted trap) the scenario contains."""

    hotlist_exact: int = 8  # hotlisted vehicles read with their true plate
    hotlist_fuzzy: int = 3  # hotlisted vehicles only ever read with an OCR-confusable misread
    hotlist_expired: int = 3  # trap: entry expired before the vehicle was read
    clones: int = 6  # one plate on two vehicles far apart at the same time
    clone_traps: int = 6  # trap: reads 300-900 m apart seconds apart
    convoys: int = 6  # groups of 2-3 vehicles travelling together on two occasions
    convoy_traps: int = 4  # trap: co-reads at only 3 cameras, or on only one occasion
    offenders: int = 8  # series offenders read near 3+ of their crimes
    near_repeat_clusters: int = 8  # clusters of 3-4 burglaries within 150 m and 14 days
    hotspots: int = 2  # H3 cells with a burst of crimes in the latest week
    silent_cameras: int = 3  # cameras silent from late afternoon to the end of the reads


@dataclass(frozen=True)
class SimulationParams:
    """What to simulate. Every count is per day unless its name says otherwise."""

    seed: int = 42
    reads: int = 50_000  # target ANPR reads per day (background traffic; planted reads come on top)
    days_of_reads: int = 1
    crime_days: int = 35  # crimes cover this many days, ending with the last reads day
    crimes_per_day: int = 100  # background crimes per day
    cameras_file: Path | None = None  # JamCam GeoJSON or generic cameras CSV; None = bundled JamCams
    cameras: int | None = None  # how many ANPR sites to use (a seeded sample); None = all available
    start_date: dt.date | None = None  # first reads day; None = so that the reads end at today 00:00 UTC
    files_per_day: int = 6  # ANPR reads of a day are split into this many time-window files
    malformed_share: float = 0.001  # extra malformed rows, as a share of reads
    misread_share: float = 0.02  # reads with one OCR-confusable character wrong
    double_capture_share: float = 0.01  # passes read twice by the same camera within 1-2 s
    capture_rate: float = 0.95  # share of camera passes that produce a read
    skewed_camera_share: float = 0.05  # cameras whose clock is 10-30 s off
    outage_camera_share: float = 0.10  # cameras with one short (10-90 min) outage per day
    hotlist_background: int = 200  # hotlist entries for vehicles that are never read
    planted: PlantedCounts = field(default_factory=PlantedCounts)
    chunk_vehicles: int = 50_000  # vehicles generated per chunk: bounds memory at any scale
    # Reads kept (20 bytes each) for the chance checks of cloned plates and convoys; above it they are skipped.
    incidental_reads_limit: int = 50_000_000

    def __post_init__(self) -> None:
        _check_int(self, "seed", minimum=None)
        for name in ("reads", "hotlist_background"):
            _check_int(self, name, minimum=0)
        for name in ("days_of_reads", "crime_days", "files_per_day", "chunk_vehicles"):
            _check_int(self, name, minimum=1)
        _check_int(self, "crimes_per_day", minimum=0)
        _check_int(self, "incidental_reads_limit", minimum=0)
        if self.cameras is not None:
            _check_int(self, "cameras", minimum=10)
        if self.crime_days < 14 + self.days_of_reads:
            raise SimulationConfigError(
                f"crime_days must be at least days_of_reads + 14 (the hotspot baseline needs it); "
                f"got crime_days={self.crime_days}, days_of_reads={self.days_of_reads}"
            )
        if self.files_per_day > 96:
            raise SimulationConfigError(f"files_per_day must be at most 96; got {self.files_per_day}")
        for name in (
            "malformed_share",
            "misread_share",
            "double_capture_share",
            "skewed_camera_share",
            "outage_camera_share",
        ):
            _check_share(self, name, maximum=0.5)
        _check_share(self, "capture_rate", maximum=1.0)
        if self.capture_rate < 0.5:
            raise SimulationConfigError(f"capture_rate must be at least 0.5; got {self.capture_rate}")
        if self.cameras_file is not None:
            object.__setattr__(self, "cameras_file", Path(self.cameras_file))
        if self.start_date is not None and not isinstance(self.start_date, dt.date):
            try:
                object.__setattr__(self, "start_date", dt.date.fromisoformat(str(self.start_date)))
            except ValueError:
                raise SimulationConfigError(
                    f"start_date must be a date like 2026-11-20; got {self.start_date!r}"
                ) from None
        if isinstance(self.planted, dict):
            try:
                object.__setattr__(self, "planted", PlantedCounts(**self.planted))
            except TypeError as exc:
                raise SimulationConfigError(f"planted has an unknown field: {exc}") from None
        for f in fields(PlantedCounts):
            _check_int(self.planted, f.name, minimum=0, owner="planted.")

    @property
    def cameras_path(self) -> Path:
        return self.cameras_file or DEFAULT_CAMERAS_FILE

    def resolved_start_date(self, today: dt.date | None = None) -> dt.date:
        if self.start_date is not None:
            return self.start_date
        today = today or dt.datetime.now(dt.UTC).date()
        return today - dt.timedelta(days=self.days_of_reads)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["cameras_file"] = str(self.cameras_path)
        out["start_date"] = self.start_date.isoformat() if self.start_date else None
        return out


def default_small_scenario(seed: int = 42, start_date: dt.date | None = None) -> SimulationParams:
    """A CI-sized scenario: ~50k reads over one day at 300 cameras, 35 days of crimes, every pattern."""
    return SimulationParams(
        seed=seed,
        reads=50_000,
        days_of_reads=1,
        crime_days=35,
        crimes_per_day=90,
        cameras=300,
        start_date=start_date,
        files_per_day=4,
    )


def _check_int(obj: object, name: str, minimum: int | None, owner: str = "") -> None:
    value = getattr(obj, name)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
        object.__setattr__(obj, name, value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SimulationConfigError(f"{owner}{name} must be a whole number; got {value!r}")
    if minimum is not None and value < minimum:
        raise SimulationConfigError(f"{owner}{name} must be at least {minimum}; got {value}")


def _check_share(obj: object, name: str, maximum: float) -> None:
    value = getattr(obj, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SimulationConfigError(f"{name} must be a number between 0 and {maximum}; got {value!r}")
    if not 0.0 <= float(value) <= maximum:
        raise SimulationConfigError(f"{name} must be between 0 and {maximum}; got {value}")
