from __future__ import annotations

from datetime import timedelta
from math import log

import pytest

from das.config import VehicleNearCrimesParams
from jobs.detectors.vehicle_near_crimes import detect as detect_vehicles_near_crimes
from tests.unit.jobs.detectors.builders import MONDAY, at, camera, crime, detector_inputs, flags_of, read

pytestmark = pytest.mark.unit

CAMERAS = [camera("CAM1"), camera("CAM2", 3000, 0), camera("CAM3", 6000, 0), camera("CAM4", 9000, 0)]
CRIMES = [
    crime("K1", at(10), 100, 0),  # 100 m from CAM1
    crime("K2", at(11), 3100, 50, crime_type="robbery"),  # ~112 m from CAM2
    crime("K3", at(0), 6000, 0, time_precision="month", occurred_to=at(0, days=30)),  # month only: out
    crime(
        "K4", at(12), 9000, 0, easting=None, northing=None, longitude=None, latitude=None, location_precision="none"
    ),  # no point: out
]
NOW = MONDAY + timedelta(days=1)


def run(spark, reads, crimes=CRIMES, params=None):  # type: ignore[no-untyped-def]
    inputs = detector_inputs(spark, reads=reads, cameras=CAMERAS, crimes=crimes)
    return flags_of(detect_vehicles_near_crimes(inputs, params or VehicleNearCrimesParams(), NOW))


def test_plate_near_two_crimes_fires_and_bus_scores_low(spark) -> None:
    reads = [
        read("SUS1", "CAM1", at(10, minutes=10), cameras=CAMERAS),
        read("SUS1", "CAM2", at(11, minutes=20), cameras=CAMERAS),
        # A bus passes every camera, including both crime scenes in time.
        *[read("BUS1", c["camera_id"], at(10, minutes=5 + 30 * i), cameras=CAMERAS) for i, c in enumerate(CAMERAS)],
    ]
    flags = {f["subject"]: f for f in run(spark, reads)}
    assert set(flags) == {"SUS1", "BUS1"}
    sus, bus = flags["SUS1"], flags["BUS1"]
    assert sus["related"] == ["K1", "K2"]
    # 4 cameras active that day; SUS1 used 2, the bus all 4: rarity log((C+1)/d)/log(C+1); strength 0.5.
    assert sus["score"] == pytest.approx(0.5 * log(5 / 2) / log(5), abs=1e-6)
    assert bus["score"] == pytest.approx(0.5 * log(5 / 4) / log(5), abs=1e-6)
    assert bus["score"] < 0.1 < sus["score"]
    kinds = sorted(e["kind"] for e in sus["evidence"])
    assert kinds == ["crime", "crime", "read", "read"]
    assert "2 crimes" in sus["summary"] and "robbery" in sus["summary"]
    assert sus["window_start"] == at(10, minutes=10).replace(tzinfo=None)


def test_outside_time_window_or_radius_does_not_count(spark) -> None:
    reads = [
        read("LATE1", "CAM1", at(10, minutes=45), cameras=CAMERAS),  # 45 min after K1 (> 30)
        read("LATE1", "CAM2", at(11, minutes=20), cameras=CAMERAS),
    ]
    assert run(spark, reads) == []
    assert (
        run(
            spark,
            [*reads[1:], read("LATE1", "CAM1", at(10), cameras=CAMERAS)],
            params=VehicleNearCrimesParams(radius_m=50),
        )
        == []
    )


def test_month_precision_and_unlocated_crimes_take_no_part(spark) -> None:
    reads = [
        read("P3", "CAM1", at(10, minutes=10), cameras=CAMERAS),
        read("P3", "CAM3", at(10, minutes=20), cameras=CAMERAS),  # month-precision K3 nearby
        read("P3", "CAM4", at(12), cameras=CAMERAS),  # K4 has no point
    ]
    assert run(spark, reads) == []


def test_wide_crime_windows_are_excluded(spark) -> None:
    day_precision = [
        crime("D1", at(0), 100, 0, time_precision="day", occurred_to=at(24)),
        crime("D2", at(0), 3100, 0, time_precision="day", occurred_to=at(24)),
    ]
    reads = [read("P4", "CAM1", at(15), cameras=CAMERAS), read("P4", "CAM2", at(16), cameras=CAMERAS)]
    assert [f["subject"] for f in run(spark, reads, day_precision)] == ["P4"]
    two_days = [{**c, "occurred_to": at(48)} for c in day_precision]
    assert run(spark, reads, two_days) == []


def test_degenerate_inputs(spark) -> None:
    assert run(spark, [], []) == []
    assert run(spark, [read("SUS1", "CAM1", at(10), cameras=CAMERAS)], []) == []
    no_time = [crime("N1", None, 100, 0), crime("N2", None, 3100, 0)]
    assert run(spark, [read("SUS1", "CAM1", at(10), cameras=CAMERAS)], no_time) == []
