from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import pytest

from das.config import CameraSilentParams
from jobs.detectors.camera_silent import detect as detect_camera_silence
from tests.unit.jobs.detectors.builders import MONDAY, at, camera, detector_inputs, flags_of, read

pytestmark = pytest.mark.unit

CAMERAS = [camera(f"CAM{i}", 1000 * i, 0) for i in range(1, 5)]
NOW = MONDAY + timedelta(days=5)
PER_HOUR = 10


def steady(camera_id: str, days: Iterable[int], hours: Iterable[int], per_hour: int = PER_HOUR) -> list[dict]:  # type: ignore[type-arg]
    return [
        read(f"P{camera_id}{d}{h}{k}", camera_id, at(h, days=d, minutes=k * 60 / per_hour), cameras=CAMERAS)
        for d in days
        for h in hours
        for k in range(per_hour)
    ]


def run(spark, reads, cameras=CAMERAS, params=None):  # type: ignore[no-untyped-def]
    inputs = detector_inputs(spark, reads=reads, cameras=cameras)
    return flags_of(detect_camera_silence(inputs, params or CameraSilentParams(), NOW))


def test_one_day_silence_fires_and_a_one_hour_gap_does_not(spark) -> None:
    all_day = range(24)
    reads = (
        steady("CAM1", [0], [h for h in all_day if h not in (10, 11, 12)])  # silent 10:00-13:00
        + steady("CAM2", [0], [h for h in all_day if h != 15])  # silent for one hour only
        + steady("CAM3", [0], all_day)
        + steady("CAM4", [0], all_day)
    )
    flags = run(spark, reads)
    assert [f["subject"] for f in flags] == ["CAM1"]
    flag = flags[0]
    assert flag["window_start"] == at(10).replace(tzinfo=None) and flag["window_end"] == at(13).replace(tzinfo=None)
    assert [e["at"] for e in flag["evidence"] if e["at"] is not None] == [
        at(h).replace(tzinfo=None) for h in (10, 11, 12)
    ]
    assert flag["evidence"][-1]["kind"] == "camera" and any(e["at"] is None for e in flag["evidence"])
    # Expected in a silent hour = CAM1's share of all reads x the network's reads then:
    # share = 210 / (210 + 230 + 240 + 240) and the network saw 30 reads -> 6.8 per hour.
    share = 210 / (210 + 230 + 240 + 240)
    assert f"{3 * 30 * share:.1f} expected" in flag["summary"]
    assert flag["score"] == pytest.approx(1 - 0.5**1.5, abs=1e-6)


def test_drop_to_half_is_not_silence(spark) -> None:
    reads = (
        steady("CAM1", [0], range(10))
        + steady("CAM1", [0], range(10, 14), PER_HOUR // 2)
        + steady("CAM2", [0], range(14))
    )
    assert run(spark, reads) == []


def test_multi_day_uses_own_hour_of_day_baseline(spark) -> None:
    days = [0, 1, 2]
    reads = (
        steady("CAM1", days, range(24))
        + steady("CAM2", days, range(8, 18))  # a daytime-only camera: quiet nights are normal for it
        + [
            r
            for r in steady("CAM3", days, range(24))
            if not (r["read_at"].day == at(0, days=2).day and 9 <= r["read_at"].hour < 12)
        ]
    )
    flags = run(spark, reads)
    assert [(f["subject"], f["window_start"], f["window_end"]) for f in flags] == [
        ("CAM3", at(9, days=2).replace(tzinfo=None), at(12, days=2).replace(tzinfo=None))
    ]


def test_network_wide_gap_and_inactive_camera_are_not_blamed(spark) -> None:
    hours = [h for h in range(24) if h not in (10, 11, 12)]
    reads = steady("CAM1", [0], hours) + steady("CAM2", [0], hours)
    assert run(spark, reads) == []
    reads = steady("CAM1", [0], hours) + steady("CAM2", [0], range(24))
    inactive = [camera("CAM1", status="inactive"), *CAMERAS[1:]]
    assert run(spark, reads, inactive) == []
    assert [f["subject"] for f in run(spark, reads)] == ["CAM1"]


def test_degenerate_inputs(spark) -> None:
    assert run(spark, []) == []
    # All reads at one camera: its silence is indistinguishable from a feed gap, so it is not judged.
    assert run(spark, steady("CAM1", [0], [0, 1, 5, 6])) == []
    assert run(spark, [read("AB12CDE", "CAM1", at(8), cameras=CAMERAS)]) == []
