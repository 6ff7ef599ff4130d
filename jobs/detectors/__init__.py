"""Pattern detectors: Spark jobs over silver frames that produce investigator flags (gold/flags).

Each flag type in ``schemas.tables.FLAG_TYPES`` has one module here, named after it, whose pure function
``detect(inputs, params, now) -> DataFrame`` returns exactly ``GOLD_FLAGS.spark_schema()``. ``DETECTORS`` is
derived from ``FLAG_TYPES``; ``run_detectors`` runs all (or some) of them with the parameters from
``settings.<flag_type>``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from importlib import import_module
from typing import Any

from pyspark.sql import DataFrame

from das.config import Settings
from jobs.detectors.common import DetectorInputs, to_flags_frame
from schemas.tables import FLAG_TYPES

Detector = Callable[[DetectorInputs, Any, datetime], DataFrame]

DETECTORS: dict[str, Detector] = {t: import_module(f"{__name__}.{t}").detect for t in FLAG_TYPES}


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
