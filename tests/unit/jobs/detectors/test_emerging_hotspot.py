from __future__ import annotations

from datetime import timedelta

import h3
import numpy as np
import pytest

from das.config import EmergingHotspotParams
from jobs.detectors.emerging_hotspot import detect as detect_emerging_hotspots
from jobs.detectors.statistics import benjamini_hochberg, getis_ord_gi_star
from tests.unit.jobs.detectors.builders import MONDAY, at, crime, detector_inputs, flags_of, position, position_of_cell

pytestmark = pytest.mark.unit

RES = 8
PARAMS = EmergingHotspotParams(h3_resolution=RES)
CURRENT_WEEK = 4  # weeks 0-3 are the baseline
NOW = MONDAY + timedelta(days=7 * CURRENT_WEEK + 6)


def cell_at(dx: float, dy: float) -> str:
    p = position(dx, dy)
    return h3.latlng_to_cell(p["latitude"], p["longitude"], RES)


EMERGING = cell_at(0, 0)
PERSISTENT = cell_at(10_000, -10_000)
BACKGROUND_SITES = [(2500 * (k % 6), 20_000 + 2500 * (k // 6)) for k in range(30)]


def cluster(prefix: str, centre: str, week: int) -> list[dict]:  # type: ignore[no-untyped-def]
    """Six crimes in the centre cell and one in each ring cell, during the given week."""
    cells = [centre] * 6 + list(h3.grid_ring(centre, 1))
    return [
        crime(f"{prefix}{week}-{i}", at(10 + i % 8, days=7 * week + i % 5), **position_of_cell(c))
        for i, c in enumerate(cells)
    ]


def week_of_background(week: int) -> list[dict]:  # type: ignore[no-untyped-def]
    return [
        crime(f"BG{week}-{k}", at(12, days=7 * week + k % 7), dx, dy) for k, (dx, dy) in enumerate(BACKGROUND_SITES)
    ]


def run(spark, crimes, params=PARAMS):  # type: ignore[no-untyped-def]
    return flags_of(detect_emerging_hotspots(detector_inputs(spark, crimes=crimes), params, NOW))


def test_new_cluster_fires_and_persistent_hotspot_does_not(spark) -> None:
    crimes = [c for week in range(CURRENT_WEEK + 1) for c in week_of_background(week) + cluster("P", PERSISTENT, week)]
    crimes += cluster("E", EMERGING, CURRENT_WEEK)
    flags = run(spark, crimes)
    assert [f["subject"] for f in flags] == [EMERGING]
    flag = flags[0]
    week_start = MONDAY + timedelta(days=7 * CURRENT_WEEK)
    assert flag["window_start"] == week_start.replace(tzinfo=None)
    assert flag["window_end"] == (week_start + timedelta(days=7)).replace(tzinfo=None)
    assert flag["evidence"][0]["kind"] == "cell" and flag["evidence"][0]["ref_id"] == EMERGING
    assert sorted(flag["related"]) == [f"E{CURRENT_WEEK}-{i}" for i in range(6)]
    assert "6 crimes" in flag["summary"] and "0.00/week" in flag["summary"]
    assert 0.9 < flag["score"] <= 1.0


def test_quiet_week_or_small_count_does_not_fire(spark) -> None:
    background_only = [c for week in range(CURRENT_WEEK + 1) for c in week_of_background(week)]
    assert run(spark, background_only) == []
    crimes = background_only + cluster("E", EMERGING, CURRENT_WEEK)
    assert run(spark, crimes, EmergingHotspotParams(h3_resolution=RES, min_count=7)) == []


def test_degenerate_inputs(spark) -> None:
    assert run(spark, []) == []
    unusable = [
        crime("M1", at(0), 0, 0, time_precision="month"),
        crime("U1", None, 0, 0),
        crime("X1", at(1), 0, 0, easting=None, northing=None, longitude=None, latitude=None, location_precision="none"),
    ]
    assert run(spark, unusable) == []
    # Every crime in one cell: no variation across the study area beyond that cell's disk; nothing divides by 0.
    one_cell = [crime(f"S{i}", at(10, days=7 * CURRENT_WEEK), 0, 0) for i in range(2)]
    assert run(spark, one_cell) == []


def test_gi_star_and_bh_by_hand() -> None:
    values = np.array([3.0, 0.0, 0.0])
    neighbours = [np.array([0, 1]), np.array([0, 1, 2]), np.array([1, 2])]
    # n=3, mean=1, s=sqrt(2): cell 0 (1)/(sqrt2*1); cell 1 0; cell 2 (-2)/(sqrt2*1).
    assert getis_ord_gi_star(values, neighbours) == pytest.approx([1 / np.sqrt(2), 0.0, -2 / np.sqrt(2)])
    assert getis_ord_gi_star(np.zeros(3), neighbours).tolist() == [0.0, 0.0, 0.0]
    assert benjamini_hochberg(np.array([0.01, 0.04, 0.03])) == pytest.approx([0.03, 0.04, 0.04])


def test_hotspots_are_in_the_cells_ingest_gives_crimes_at_the_one_resolution(spark) -> None:
    import pandas as pd

    from das.config import Settings
    from jobs.detectors import run_detectors
    from jobs.ingest.geo import lonlat_to_h3

    settings = Settings()  # DAS_H3_RESOLUTION, the only H3 setting that counts
    p = position(0, 0)
    centre = h3.latlng_to_cell(p["latitude"], p["longitude"], settings.h3_resolution)
    crimes = [c for week in range(CURRENT_WEEK + 1) for c in week_of_background(week)] + cluster(
        "E", centre, CURRENT_WEEK
    )
    frame = run_detectors(detector_inputs(spark, crimes=crimes), settings, NOW, only=["emerging_hotspot"])
    flags = flags_of(frame["emerging_hotspot"])
    assert [f["subject"] for f in flags] == [centre]
    # The cell of each crime as ingest computes silver h3_cell (what crimes_per_cell_week groups by).
    ingested = lonlat_to_h3(
        pd.Series([c["longitude"] for c in crimes]), pd.Series([c["latitude"] for c in crimes]), settings.h3_resolution
    )
    assert set(flags[0]["related"]) <= {
        c["crime_id"] for c, cell in zip(crimes, ingested, strict=True) if cell == centre
    }
    assert h3.get_resolution(flags[0]["subject"]) == settings.h3_resolution


def test_the_hotspot_resolution_is_the_platform_resolution() -> None:
    from das.config import Settings
    from jobs.detectors import detector_params

    params = detector_params(Settings(h3_resolution=7), "emerging_hotspot")
    assert isinstance(params, EmergingHotspotParams) and params.h3_resolution == 7
    assert detector_params(Settings(h3_resolution=7), "convoy") == Settings().convoy
    agreeing = Settings(h3_resolution=7, emerging_hotspot=EmergingHotspotParams(h3_resolution=7))
    assert detector_params(agreeing, "emerging_hotspot").model_dump()["h3_resolution"] == 7
    with pytest.raises(ValueError, match=r"DAS_H3_RESOLUTION is 7.*unset DAS_EMERGING_HOTSPOT__H3_RESOLUTION"):
        detector_params(
            Settings(h3_resolution=7, emerging_hotspot=EmergingHotspotParams(h3_resolution=8)), "emerging_hotspot"
        )
