"""Pattern detectors: Spark jobs over silver frames that produce investigator flags (gold/flags).

Each detector is a pure function ``detect_<x>(inputs, params, now) -> DataFrame`` returning exactly
``GOLD_FLAGS.spark_schema()``. ``DETECTORS`` maps the flag_type name to the function;
``run_detectors`` runs all (or some) of them with the parameters from ``Settings``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pyspark.sql import DataFrame

from das.config import Settings
from jobs.detectors.camera_silence import detect_camera_silence
from jobs.detectors.cloned_plates import detect_cloned_plates
from jobs.detectors.common import DetectorInputs, to_flags_frame
from jobs.detectors.convoys import detect_convoys
from jobs.detectors.emerging_hotspots import detect_emerging_hotspots
from jobs.detectors.hotlist_hits import detect_hotlist_hits
from jobs.detectors.near_repeats import detect_near_repeats
from jobs.detectors.vehicles_near_crimes import detect_vehicles_near_crimes

Detector = Callable[[DetectorInputs, Any, datetime], DataFrame]

DETECTORS: dict[str, Detector] = {
    "hotlist_hit": detect_hotlist_hits,
    "cloned_plate": detect_cloned_plates,
    "convoy": detect_convoys,
    "vehicle_near_crimes": detect_vehicles_near_crimes,
    "near_repeat": detect_near_repeats,
    "emerging_hotspot": detect_emerging_hotspots,
    "camera_silent": detect_camera_silence,
}


def run_detectors(
    inputs: DetectorInputs, settings: Settings, now: datetime, only: list[str] | None = None
) -> dict[str, DataFrame]:
    """Flags per detector (lazy frames); the parameters of each come from ``settings.<flag_type>``."""
    names = list(DETECTORS) if only is None else list(only)
    unknown = [n for n in names if n not in DETECTORS]
    if unknown:
        raise ValueError(f"unknown detector(s) {unknown}; choose from {sorted(DETECTORS)}")
    return {name: DETECTORS[name](inputs, getattr(settings, name), now) for name in names}


__all__ = ["DETECTORS", "Detector", "DetectorInputs", "run_detectors", "to_flags_frame"]
