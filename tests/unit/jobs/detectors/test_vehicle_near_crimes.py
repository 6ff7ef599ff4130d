from __future__ import annotations

from datetime import timedelta

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


def test_plate_near_two_crimes_fires_with_a_chance_figure_and_a_bus_that_passes_everywhere_does_not(spark) -> None:
    reads = [
        read("SUS1", "CAM1", at(10, minutes=5), cameras=CAMERAS),
        read("SUS1", "CAM2", at(11, minutes=5), cameras=CAMERAS),
        # A bus loops the route all day, so it passes both crime scenes in time, by its sheer exposure.
        *[
            read("BUS1", c["camera_id"], at(6 + loop, minutes=12 * i), cameras=CAMERAS)
            for loop in range(16)
            for i, c in enumerate(CAMERAS)
        ],
    ]
    flags = {f["subject"]: f for f in run(spark, reads)}
    assert set(flags) == {"SUS1"}
    sus = flags["SUS1"]
    assert sus["related"] == ["K1", "K2"]
    kinds = sorted(e["kind"] for e in sus["evidence"])
    assert kinds == ["crime", "crime", "read", "read"]
    assert "near 2 separate crimes" in sus["summary"] and "robbery" in sus["summary"]
    assert "expected by chance for a vehicle with its 2 reads" in sus["summary"]
    assert "2 of them within 125 m and 7.5 min, where about" in sus["summary"]  # read minutes from each scene
    assert sus["window_start"] == at(10, minutes=5).replace(tzinfo=None)
    assert 0 < sus["score"] <= 1


def test_a_tight_cluster_is_one_occasion_and_passers_by_never_outrank_a_serial_offender(spark) -> None:
    """Three crimes within minutes at one spot, 30 vehicles passing it then; an offender seen near three crimes
    on three days at three places."""
    cameras = [camera(f"C{i}", 2000 * i, 0) for i in range(8)]
    cluster = [crime(f"T{i}", at(20, minutes=2 * i), 20, 10 * i) for i in range(3)]  # at C0, 20:00-20:04 Monday
    series = [crime(f"S{d}", at(14, days=d), 2000 * (d + 2) + 60, 0) for d in range(3)]  # C2, C3, C4 on 3 days
    # Four weeks of crimes before, about one a week near each camera: the local rates chance is judged by.
    background = [crime(f"B{i}", at(i % 24, days=-(i % 28)), 2000 * (i % 8) + 300, 200) for i in range(32)]
    reads = [read(f"PASS{i:02d}", "C0", at(20, minutes=i % 5), cameras=cameras) for i in range(30)]
    reads += [read("OFFENDR", f"C{d + 2}", at(14, days=d, minutes=5), cameras=cameras) for d in range(3)]
    # Ordinary traffic, so the test counts many plates (the multiple-testing control sees them all).
    reads += [read(f"CAR{i:03d}", f"C{i % 8}", at(8 + i % 10, days=i % 3), cameras=cameras) for i in range(300)]
    inputs = detector_inputs(spark, reads=reads, cameras=cameras, crimes=cluster + series + background)
    flags = flags_of(detect_vehicles_near_crimes(inputs, VehicleNearCrimesParams(), NOW))
    ranked = sorted(flags, key=lambda f: -f["score"])
    assert ranked and ranked[0]["subject"] == "OFFENDR"
    assert "near 3 separate crimes" in ranked[0]["summary"] and "on 3 day(s)" in ranked[0]["summary"]
    offender = ranked[0]["score"]
    assert all(f["score"] < offender for f in flags if f["subject"].startswith("PASS"))
    assert not [f for f in flags if f["subject"].startswith("PASS")]  # one occasion each: below min_crimes


def test_a_plate_read_minutes_from_each_scene_outranks_one_read_at_the_edge_of_the_window(spark) -> None:
    """Same cameras, same hours, same two crimes: CLOSE passes 2 min after each, LATE 25 min after; by chance a
    read that close is about four times rarer, so CLOSE's p is the smaller."""
    cameras = [camera(f"C{i}", 3000 * i, 0) for i in range(4)]
    crimes = [crime("KA", at(10), 3050, 0), crime("KB", at(12), 6050, 0)]
    background = [crime(f"B{i}", at(i % 24, days=-(i % 20)), 3000 * (i % 4) + 200, 100) for i in range(40)]
    reads = [
        *[read("CLOSE", f"C{c}", at(h, minutes=2), cameras=cameras) for c, h in ((1, 10), (2, 12))],
        *[read("LATE", f"C{c}", at(h, minutes=25), cameras=cameras) for c, h in ((1, 10), (2, 12))],
        *[read(f"CAR{i:03d}", f"C{i % 4}", at(7 + i % 12, minutes=i % 60), cameras=cameras) for i in range(200)],
    ]
    inputs = detector_inputs(spark, reads=reads, cameras=cameras, crimes=crimes + background)
    flags = {f["subject"]: f for f in flags_of(detect_vehicles_near_crimes(inputs, VehicleNearCrimesParams(), NOW))}
    assert "CLOSE" in flags
    assert "2 of them within 125 m and 7.5 min" in flags["CLOSE"]["summary"]
    assert "LATE" not in flags or flags["LATE"]["score"] < flags["CLOSE"]["score"]
    # Without the closer scales both are the same evidence.
    whole_window = VehicleNearCrimesParams(closeness_scales=[1.0], fdr_alpha=1.0)
    plain = {f["subject"]: f for f in flags_of(detect_vehicles_near_crimes(inputs, whole_window, NOW))}
    assert plain["CLOSE"]["score"] == pytest.approx(plain["LATE"]["score"])
    assert "of them within" not in plain["CLOSE"]["summary"]


@pytest.mark.parametrize("scales", [[0.5, 0.25], [1.0, 0.0], [1.0, 1.5], []])
def test_closeness_scales_are_shares_of_the_window_including_the_whole(scales: list[float]) -> None:
    with pytest.raises(ValueError, match="closeness_scales must be shares"):
        VehicleNearCrimesParams(closeness_scales=scales)


def test_snapped_crime_locations_never_count(spark) -> None:
    snapped = [{**c, "location_precision": "snapped"} for c in CRIMES[:2]]
    reads = [read("SUS1", "CAM1", at(10, minutes=10), cameras=CAMERAS), read("SUS1", "CAM2", at(11, minutes=20),
                                                                               cameras=CAMERAS)]  # fmt: skip
    assert run(spark, reads, snapped) == []


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
        crime("D1", at(14), 100, 0, time_precision="day", occurred_to=at(16)),
        crime("D2", at(14), 3100, 0, time_precision="day", occurred_to=at(16)),
    ]
    reads = [read("P4", "CAM1", at(15), cameras=CAMERAS), read("P4", "CAM2", at(15.5), cameras=CAMERAS)]
    assert [f["subject"] for f in run(spark, reads, day_precision)] == ["P4"]
    assert run(spark, reads, day_precision, VehicleNearCrimesParams(max_window_hours=1)) == []


def test_degenerate_inputs(spark) -> None:
    assert run(spark, [], []) == []
    assert run(spark, [read("SUS1", "CAM1", at(10), cameras=CAMERAS)], []) == []
    no_time = [crime("N1", None, 100, 0), crime("N2", None, 3100, 0)]
    assert run(spark, [read("SUS1", "CAM1", at(10), cameras=CAMERAS)], no_time) == []
