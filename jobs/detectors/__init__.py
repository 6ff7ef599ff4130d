"""Pattern detectors: Spark jobs over silver frames that produce investigator flags (gold/flags).

Each flag type in ``schemas.tables.FLAG_TYPES`` has one module here, named after it, whose pure function
``detect(inputs, params, now) -> DataFrame`` returns exactly ``GOLD_FLAGS.spark_schema()``. ``DETECTORS`` is
derived from ``FLAG_TYPES``; ``run_detectors`` runs all (or some) of them with the parameters from
``settings.<flag_type>`` (see ``detector_params``).

H3 cells have one resolution everywhere, ``DAS_H3_RESOLUTION``: ingest computes ``h3_cell`` with it and
emerging_hotspot counts crimes in cells of it, so hotspot cells join ``crimes_per_cell_week`` and ``das.h3_cells``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from importlib import import_module
from typing import Any

from pydantic import BaseModel
from pyspark.sql import DataFrame

from das.config import Settings
from jobs.detectors.common import DetectorInputs, to_flags_frame
from schemas.tables import FLAG_TYPES

Detector = Callable[[DetectorInputs, Any, datetime], DataFrame]

DETECTORS: dict[str, Detector] = {t: import_module(f"{__name__}.{t}").detect for t in FLAG_TYPES}


def detector_params(settings: Settings, name: str) -> BaseModel:
    """The parameters detector ``name`` runs with: ``settings.<name>``, with H3 cells at ``settings.h3_resolution``.

    A different ``DAS_EMERGING_HOTSPOT__H3_RESOLUTION`` would make hotspot cells that join nothing, so it is refused.
    """
    params: BaseModel = getattr(settings, name)
    if "h3_resolution" not in type(params).model_fields:
        return params
    chosen = params.model_dump(include={"h3_resolution"})["h3_resolution"]
    if "h3_resolution" in params.model_fields_set and chosen != settings.h3_resolution:
        raise ValueError(
            f"{name}.h3_resolution is {chosen} but DAS_H3_RESOLUTION is {settings.h3_resolution}: H3 cells have one "
            f"resolution (ingest's h3_cell, crimes_per_cell_week, hotspots); unset "
            f"DAS_{name.upper()}__H3_RESOLUTION and set DAS_H3_RESOLUTION only"
        )
    return params.model_copy(update={"h3_resolution": settings.h3_resolution})


def run_detectors(
    inputs: DetectorInputs, settings: Settings, now: datetime, only: list[str] | None = None
) -> dict[str, DataFrame]:
    """Flags per detector (lazy frames); the parameters of each come from ``settings.<flag_type>``."""
    names = list(DETECTORS) if only is None else list(only)
    unknown = [n for n in names if n not in DETECTORS]
    if unknown:
        raise ValueError(f"unknown detector(s) {unknown}; choose from {sorted(DETECTORS)}")
    return {name: DETECTORS[name](inputs, detector_params(settings, name), now) for name in names}


__all__ = ["DETECTORS", "Detector", "DetectorInputs", "detector_params", "run_detectors", "to_flags_frame"]
