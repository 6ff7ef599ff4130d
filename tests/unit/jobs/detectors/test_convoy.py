from __future__ import annotations

from datetime import timedelta

import pytest

from das.config import ConvoyParams
from jobs.detectors.convoy import detect as detect_convoys
from jobs.detectors.convoy import flagged_pairs
from tests.unit.jobs.detectors.builders import MONDAY, at, camera, detector_inputs, flags_of, read

pytestmark = pytest.mark.unit

ROUTE = [camera(f"C{i}", 2000 * i, 0) for i in range(1, 5)]
ELSEWHERE = [camera(f"X{i}", 0, 5000 * i) for i in range(1, 5)]
MIDDAY_ROUTE = [camera(f"M{i}", 2000 * i, 20_000) for i in range(1, 5)]
CAMERAS = ROUTE + ELSEWHERE + MIDDAY_ROUTE
NOW = MONDAY + timedelta(days=3)


def trip(plate: str, day: int, offset_s: float, cameras=ROUTE, hour: int = 8) -> list[dict]:  # type: ignore[no-untyped-def]
    """The plate passes the route cameras 5 minutes apart from ``hour``:00 on the given day."""
    return [
        read(plate, cam["camera_id"], at(hour, days=day, minutes=5 * i, seconds=offset_s), cameras=CAMERAS)
        for i, cam in enumerate(cameras)
    ]


def background(day: int, count: int = 40, hour: int = 8) -> list[dict]:  # type: ignore[no-untyped-def]
    """Ordinary traffic in the same hour, a minute apart, at cameras off the route (one read per plate)."""
    return [
        read(f"BG{day}X{hour}{k:03d}", ELSEWHERE[k % 4]["camera_id"], at(hour, days=day, minutes=k), cameras=CAMERAS)
        for k in range(count)
    ]


def run(spark, reads, params=None):  # type: ignore[no-untyped-def]
    inputs = detector_inputs(spark, reads=reads, cameras=CAMERAS)
    return flags_of(detect_convoys(inputs, params or ConvoyParams(), NOW))


def test_three_vehicles_travelling_together_fire_once_as_a_group(spark) -> None:
    reads = (
        [
            r
            for day in (0, 1)
            for plate, offset in (("AA11AAA", 0), ("BB22BBB", 10), ("CC33CCC", 20))
            for r in trip(plate, day, offset)
        ]
        + background(0)
        + background(1)
    )
    flags = run(spark, reads)
    assert len(flags) == 1
    flag = flags[0]
    assert flag["subject"] == "AA11AAA" and flag["related"] == ["BB22BBB", "CC33CCC"]
    # Per day and pair: S_p = 4 reads x 2 window-mates / 52 network reads; expected = 4 x S_p = 32/52.
    # Two days: observed 8 vs 64/52 expected, lift 6.5; score = lift / (lift + 5).
    assert "lift 6.5" in flag["summary"]
    assert flag["score"] == pytest.approx(6.5 / 11.5, abs=1e-6)
    assert flag["window_start"] == at(8).replace(tzinfo=None)
    assert flag["window_end"] == at(8, days=1, minutes=15, seconds=20).replace(tzinfo=None)
    assert len(flag["evidence"]) == 24 and {e["kind"] for e in flag["evidence"]} == {"read"}


def test_rush_hour_queue_does_not_fire(spark) -> None:
    # Thirty vehicles crawl past the same four cameras together on two mornings: everyone co-reads with
    # everyone, so co-reading is what chance predicts (lift about 1.2).
    reads = [r for day in (0, 1) for k in range(30) for r in trip(f"Q{k:03d}", day, 2 * k)]
    reads += background(0, 24) + background(1, 24)
    assert run(spark, reads) == []


def test_busy_window_guard_skips_pairing(spark) -> None:
    reads = (
        [r for day in (0, 1) for plate, offset in (("AA11AAA", 0), ("BB22BBB", 10)) for r in trip(plate, day, offset)]
        + background(0)
        + background(1)
    )
    assert len(run(spark, reads)) == 1
    assert run(spark, reads, ConvoyParams(max_plates_per_camera_window=1)) == []


def test_too_few_cameras_or_occasions_do_not_fire(spark) -> None:
    three_cameras = (
        [
            r
            for day in (0, 1)
            for plate, offset in (("AA11AAA", 0), ("BB22BBB", 10))
            for r in trip(plate, day, offset, ROUTE[:3])
        ]
        + background(0)
        + background(1)
    )
    assert run(spark, three_cameras) == []
    one_occasion = [r for plate, offset in (("AA11AAA", 0), ("BB22BBB", 10)) for r in trip(plate, 0, offset)]
    assert run(spark, one_occasion + background(0) + background(1)) == []


def test_too_far_apart_in_time_is_not_a_co_read(spark) -> None:
    reads = (
        [r for day in (0, 1) for plate, offset in (("AA11AAA", 0), ("BB22BBB", 120)) for r in trip(plate, day, offset)]
        + background(0)
        + background(1)
    )
    assert run(spark, reads) == []


def test_degenerate_inputs(spark) -> None:
    assert run(spark, []) == []
    assert run(spark, [read("AA11AAA", "C1", at(8), cameras=CAMERAS)]) == []
    # All reads at one camera, at the same instant.
    same = [read(p, "C1", at(8), cameras=CAMERAS) for p in ("AA11AAA", "BB22BBB", "CC33CCC")]
    assert run(spark, same) == []


def test_vehicles_that_only_cross_paths_do_not_fire(spark) -> None:
    # Two fleet vans co-read along the route on two mornings, but that is 8 of their 48 reads each: they
    # cross paths in a day of driving apart (each alone at the other cameras), not travel together.
    together = [
        r for day in (0, 1) for plate, offset in (("VAN1AAA", 0), ("VAN2BBB", 10)) for r in trip(plate, day, offset)
    ]
    apart = [
        read(plate, ELSEWHERE[k % 4]["camera_id"], at(10 + (k % 8), days=day, minutes=3 * k + shift), cameras=CAMERAS)
        for day in (0, 1)
        for plate, shift in (("VAN1AAA", 0), ("VAN2BBB", 30))
        for k in range(20)
    ]
    reads = together + apart + background(0) + background(1)
    assert run(spark, reads) == []
    # The same reads fire once the together share is not required: the share is what stops them.
    assert len(run(spark, reads, ConvoyParams(min_together=0.0))) == 1


def test_a_chain_of_pairs_is_one_group(spark) -> None:
    # AA travels with BB in the mornings and BB with CC at midday; AA and CC never meet. One convoy
    # group of three (connected component), not a flag per pair.
    reads = (
        [r for day in (0, 1) for plate, offset in (("AA11AAA", 0), ("BB22BBB", 10)) for r in trip(plate, day, offset)]
        + [
            r
            for day in (0, 1)
            for plate, offset in (("BB22BBB", 0), ("CC33CCC", 10))
            for r in trip(plate, day, offset, MIDDAY_ROUTE, hour=12)
        ]
        + [r for day in (0, 1) for hour in (8, 12) for r in background(day, hour=hour)]
    )
    flags = run(spark, reads)
    assert [(f["subject"], f["related"]) for f in flags] == [("AA11AAA", ["BB22BBB", "CC33CCC"])]
    plates = {e["plate"] for e in flags[0]["evidence"]}
    assert plates == {"AA11AAA", "BB22BBB", "CC33CCC"}
    assert "% of their reads together" in flags[0]["summary"]


def test_vehicles_that_meet_one_camera_at_a_time_do_not_fire(spark) -> None:
    # Two plates co-read at four cameras on two days, but every time at one camera only, two hours after
    # the last meeting: they keep turning up at the same places, they do not move together.
    meetings = [
        read(plate, ROUTE[k]["camera_id"], at(8 + 2 * k, days=day, seconds=offset), cameras=CAMERAS)
        for day in (0, 1)
        for k in range(4)
        for plate, offset in (("AA11AAA", 0), ("BB22BBB", 10))
    ]
    reads = meetings + [r for day in (0, 1) for k in range(4) for r in background(day, hour=8 + 2 * k)]
    assert run(spark, reads) == []
    # Allowing three hours between cameras (and a day as one occasion), they fire: moving together is what
    # stops them.
    assert len(run(spark, reads, ConvoyParams(segment_max_s=3 * 3600, occasion_gap_s=4 * 3600))) == 1


def test_passing_successive_cameras_together_once_is_not_enough(spark) -> None:
    # Together along the route on the first morning; on the second they meet at the four cameras one at a
    # time, two hours apart: they moved together on one occasion only.
    first = [r for p, o in (("AA11AAA", 0), ("BB22BBB", 10)) for r in trip(p, 0, o)]
    second = [
        read(plate, ROUTE[k]["camera_id"], at(8 + 2 * k, days=1, seconds=offset), cameras=CAMERAS)
        for k in range(4)
        for plate, offset in (("AA11AAA", 0), ("BB22BBB", 10))
    ]
    reads = first + second + background(0) + [r for k in range(4) for r in background(1, hour=8 + 2 * k)]
    assert run(spark, reads) == []
    assert len(run(spark, reads, ConvoyParams(min_occasions=1))) == 1


def test_a_convoy_in_formation_ranks_above_company_that_drifts_and_overtakes(spark) -> None:
    # AA and BB keep 10 s apart at every camera. DR1 and DR2 meet every threshold too, but the gap between
    # them drifts by 30 s a camera and the lead changes hands: chance company on one road, not a convoy.
    convoy = [r for day in (0, 1) for p, o in (("AA11AAA", 0), ("BB22BBB", 10)) for r in trip(p, day, o)]
    drifting = [
        read(plate, cam["camera_id"], at(16, days=day, minutes=5 * i, seconds=off), cameras=CAMERAS)
        for day in (0, 1)
        for i, cam in enumerate(ELSEWHERE)
        for plate, off in (("DR1AAA", 45), ("DR2BBB", 30 * i))
    ]
    reads = convoy + drifting + background(0) + background(1) + background(0, hour=16) + background(1, hour=16)
    inputs = detector_inputs(spark, reads=reads, cameras=CAMERAS)
    pairs = {(r.plate_1, r.plate_2): r for r in flagged_pairs(inputs, ConvoyParams())[1].collect()}
    kept, drift = pairs[("AA11AAA", "BB22BBB")], pairs[("DR1AAA", "DR2BBB")]
    assert (kept.steps, kept.steps_in_formation, kept.formation) == (6, 6, 1.0)
    # Per morning the gap goes -45, -15, 15, 45 s: it changes by 30 s a camera (DR2 overtakes). None held.
    assert (drift.steps, drift.steps_in_formation, drift.formation) == (6, 0, 0.0)
    assert drift.together == kept.together == 1.0 and drift.pair_score < kept.pair_score
    flags = {f["subject"]: f for f in run(spark, reads)}
    assert set(flags) == {"AA11AAA", "DR1AAA"}
    assert flags["AA11AAA"]["score"] > flags["DR1AAA"]["score"]
    assert (
        "in formation (the gap between them steady within 20 s from camera to camera) at 6 of 6"
        in flags["AA11AAA"]["summary"]
    )
    assert "at 0 of 6 successive cameras" in flags["DR1AAA"]["summary"]


def test_segment_longer_than_an_occasion_gap_is_refused() -> None:
    with pytest.raises(ValueError, match="segment_max_s"):
        ConvoyParams(segment_max_s=3600, occasion_gap_s=3600)


def test_segment_candidates_find_every_pair_the_exact_pairing_finds(spark) -> None:
    # No lift or share threshold: every pair that meets the camera, occasion and moved-together rule.
    params = ConvoyParams(min_lift=0.0, min_together=0.0)
    convoy = [r for day in (0, 1) for p, o in (("AA11AAA", 0), ("BB22BBB", 10)) for r in trip(p, day, o)]
    queue = [r for day in (0, 1) for k in range(12) for r in trip(f"Q{k:03d}", day, 7 * k, MIDDAY_ROUTE, hour=12)]
    overtaking = [  # BB passes AA between the second and third camera: the order flips at one end
        read(plate, cam["camera_id"], at(16, days=day, minutes=5 * i, seconds=off), cameras=CAMERAS)
        for day in (0, 1)
        for i, cam in enumerate(ELSEWHERE)
        for plate, off in (("OV1AAA", 0 if i < 2 else 60), ("OV2BBB", 60 if i < 2 else 0))
    ]
    reads = convoy + queue + overtaking + background(0) + background(1)
    inputs = detector_inputs(spark, reads=reads, cameras=CAMERAS)

    def pairs(exact: bool) -> dict:
        frame = flagged_pairs(inputs, params, exact=exact)[1]
        return {(r.plate_1, r.plate_2): r.pair_score for r in frame.collect()}

    exact = pairs(True)
    assert ("AA11AAA", "BB22BBB") in exact and ("OV1AAA", "OV2BBB") in exact and len(exact) > 40
    assert pairs(False) == pytest.approx(exact)
