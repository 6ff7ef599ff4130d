from __future__ import annotations

from datetime import timedelta

import pytest

from das.config import ClonedPlateParams
from jobs.detectors.cloned_plate import detect as detect_cloned_plates
from tests.unit.jobs.detectors.builders import MONDAY, at, camera, detector_inputs, flags_of, read

pytestmark = pytest.mark.unit

# CAM_A and CAM_FAR are 30 km apart; CAM_NEXT is 300 m from CAM_A; CAM_TWIN stands at CAM_A's point.
CAMERAS = [camera("CAM_A"), camera("CAM_FAR", 30_000, 0), camera("CAM_NEXT", 300, 0), camera("CAM_TWIN")]
NOW = MONDAY + timedelta(days=2)


def run(spark, reads, params=None):  # type: ignore[no-untyped-def]
    inputs = detector_inputs(spark, reads=reads, cameras=CAMERAS)
    return flags_of(detect_cloned_plates(inputs, params or ClonedPlateParams(), NOW))


def test_impossible_speed_fires_with_score_from_speed(spark) -> None:
    # 30 km in 5 min: gap + 60 s skew = 360 s -> 300 km/h; score = 1 - 160/300.
    flags = run(
        spark,
        [
            read("AB12CDE", "CAM_A", at(8), cameras=CAMERAS),
            read("AB12CDE", "CAM_FAR", at(8, minutes=5), cameras=CAMERAS),
        ],
    )
    assert len(flags) == 1
    flag = flags[0]
    assert flag["subject"] == "AB12CDE" and flag["related"] == ["r1", "r2"]
    assert flag["score"] == pytest.approx(1 - 160 / 300, abs=1e-6)
    assert "300 km/h" in flag["summary"] and "cloned" in flag["summary"]
    assert [e["ref_id"] for e in flag["evidence"]] == ["r1", "r2"]


def test_possible_speed_does_not_fire(spark) -> None:
    # 30 km in 20 min = 90 km/h.
    assert (
        run(
            spark,
            [
                read("AB12CDE", "CAM_A", at(8), cameras=CAMERAS),
                read("AB12CDE", "CAM_FAR", at(8, minutes=20), cameras=CAMERAS),
            ],
        )
        == []
    )


def test_neighbouring_cameras_seconds_apart_do_not_fire(spark) -> None:
    # 300 m in 2 s is 540 km/h on the raw clock, but below min_separation and within clock skew.
    assert (
        run(
            spark,
            [
                read("AB12CDE", "CAM_A", at(8), cameras=CAMERAS),
                read("AB12CDE", "CAM_NEXT", at(8, seconds=2), cameras=CAMERAS),
            ],
        )
        == []
    )
    # Even with min_separation lowered, the 60 s skew allowance makes it 300 m / 62 s = 17 km/h.
    assert (
        run(
            spark,
            [
                read("AB12CDE", "CAM_A", at(8), cameras=CAMERAS),
                read("AB12CDE", "CAM_NEXT", at(8, seconds=2), cameras=CAMERAS),
            ],
            ClonedPlateParams(min_separation_m=100),
        )
        == []
    )


def test_two_cameras_at_the_same_point_same_instant(spark) -> None:
    assert (
        run(
            spark,
            [read("AB12CDE", "CAM_A", at(8), cameras=CAMERAS), read("AB12CDE", "CAM_TWIN", at(8), cameras=CAMERAS)],
            ClonedPlateParams(clock_skew_s=0, min_separation_m=0),
        )
        == []
    )


def test_zero_skew_same_instant_far_apart_is_unbounded_speed(spark) -> None:
    flags = run(
        spark,
        [read("AB12CDE", "CAM_A", at(8), cameras=CAMERAS), read("AB12CDE", "CAM_FAR", at(8), cameras=CAMERAS)],
        ClonedPlateParams(clock_skew_s=0),
    )
    assert len(flags) == 1 and flags[0]["score"] == 1.0 and "unbounded" in flags[0]["summary"]


def test_low_confidence_reads_are_ignored(spark) -> None:
    assert (
        run(
            spark,
            [
                read("AB12CDE", "CAM_A", at(8), cameras=CAMERAS),
                read("AB12CDE", "CAM_FAR", at(8, minutes=5), cameras=CAMERAS, confidence=0.4),
            ],
        )
        == []
    )


def test_compares_consecutive_reads_and_keeps_each_read_once(spark) -> None:
    # A -> FAR -> A every 5 minutes: two impossible pairs share r2; one flag, three reads of evidence.
    flags = run(
        spark,
        [
            read("AB12CDE", "CAM_A", at(8), cameras=CAMERAS),
            read("AB12CDE", "CAM_FAR", at(8, minutes=5), cameras=CAMERAS),
            read("AB12CDE", "CAM_A", at(8, minutes=10), cameras=CAMERAS),
            read("ZZ11ZZZ", "CAM_A", at(8), cameras=CAMERAS),
        ],
    )
    assert len(flags) == 1
    assert flags[0]["related"] == ["r1", "r2", "r3"]
    assert [e["ref_id"] for e in flags[0]["evidence"]] == ["r1", "r2", "r3"]
    assert "2 impossible pair" in flags[0]["summary"]


def test_single_read_and_empty_inputs(spark) -> None:
    assert run(spark, [read("AB12CDE", "CAM_A", at(8), cameras=CAMERAS)]) == []
    assert run(spark, []) == []
