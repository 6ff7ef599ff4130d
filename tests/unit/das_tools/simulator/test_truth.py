"""The simulator's chance truth: the convoy co-travel rule on hand-built reads, and the narrow read store."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from das_tools.simulator.truth import co_travel_groups

pytestmark = pytest.mark.unit

DELTA_S, SEGMENT_MAX_S, MIN_CAMERAS, MIN_OCCASIONS, GAP_S = 95.0, 1320.0, 4, 2, 3540.0
HOUR = 3600


def reads(*trips: tuple[int, list[int], int, int]) -> pd.DataFrame:
    """(plate, cameras in order, start second, seconds between cameras) -> one read per camera."""
    rows = [(cam, start + i * step, plate) for plate, cams, start, step in trips for i, cam in enumerate(cams)]
    cam, t, plate = (np.array(column) for column in zip(*rows, strict=True))
    return pd.DataFrame(
        {"cam": cam.astype(np.int32), "t": t.astype(np.int64), "plate": plate.astype(np.int32),
         "confidence": np.full(len(rows), 0.9, np.float32)}
    )  # fmt: skip


def pairs(frame: pd.DataFrame) -> list[tuple[int, int]]:
    return co_travel_groups(frame, DELTA_S, SEGMENT_MAX_S, MIN_CAMERAS, MIN_OCCASIONS, GAP_S)


def test_two_vehicles_travelling_together_on_two_trips_are_listed() -> None:
    route = [1, 2, 3, 4]
    frame = reads((7, route, 0, 300), (9, route, 20, 300), (7, route, 5 * HOUR, 300), (9, route, 5 * HOUR + 30, 300))
    assert pairs(frame) == [(7, 9)]


def test_one_trip_together_or_three_cameras_is_not_enough() -> None:
    route = [1, 2, 3, 4]
    once = reads((7, route, 0, 300), (9, route, 20, 300), (7, route, 5 * HOUR, 300), (9, route, 8 * HOUR, 300))
    assert pairs(once) == []
    short = [1, 2, 3]
    three = reads((7, short, 0, 300), (9, short, 20, 300), (7, short, 5 * HOUR, 300), (9, short, 5 * HOUR + 30, 300))
    assert pairs(three) == []


def test_vehicles_meeting_one_camera_at_a_time_never_moved_together() -> None:
    # 7 and 9 are co-read at cameras 1..4 on separate occasions, but each time they come from and go to
    # different cameras: no segment is shared.
    trips = []
    for n, cam in enumerate([1, 2, 3, 4]):
        start = n * 3 * HOUR
        trips += [(7, [10 + n, cam, 20 + n], start, 300), (9, [30 + n, cam, 40 + n], start + 10, 300)]
    assert pairs(reads(*trips)) == []


def test_a_vehicle_going_the_other_way_between_two_sites_still_counts() -> None:
    # Cameras 1 and 2 at one site: 9 reads them in the opposite order within delta at each end.
    trips = []
    for start in (0, 5 * HOUR):
        trips += [(7, [1, 2, 3, 4], start, 30), (9, [2, 1], start + 20, 10), (9, [3, 4], start + 70, 30)]
    assert pairs(reads(*trips)) == [(7, 9)]


def test_far_apart_in_time_at_either_end_is_no_pair() -> None:
    route = [1, 2, 3, 4]
    # Together at each camera's start, but 9 is slower: beyond delta at the next camera.
    frame = reads((7, route, 0, 300), (9, route, 20, 450), (7, route, 5 * HOUR, 300), (9, route, 5 * HOUR, 450))
    assert pairs(frame) == []


def frame_of(rows: list[tuple[int, int, int]]) -> pd.DataFrame:
    """(plate, camera, second) rows."""
    plate, cam, t = (np.array(column) for column in zip(*rows, strict=True))
    return pd.DataFrame(
        {"cam": cam.astype(np.int32), "t": t.astype(np.int64), "plate": plate.astype(np.int32),
         "confidence": np.full(len(rows), 0.9, np.float32)}
    )  # fmt: skip


def test_reads_in_busy_windows_are_left_out_of_the_segments_as_the_detector_leaves_them_out() -> None:
    # p passes X and Y, two very busy cameras, between A and B; the detector drops those reads before it
    # numbers p's reads, so for it p and q pass A then B together, twice. Their other co-reads (C, D) are
    # not successive for both, not even with one read skipped.
    a, b, c, d, x, y = 1, 2, 3, 4, 50, 51
    rows: list[tuple[int, int, int]] = []
    filler = 1000
    for start in (0, 5 * HOUR):
        p_route = [
            (a, 0),
            (x, 150),
            (y, 300),
            (b, 450),
            (60, 550),
            (61, 650),
            (c, 750),
            (64, 850),
            (65, 950),
            (d, 1050),
        ]
        q_route = [(a, 10), (b, 460), (62, 560), (63, 660), (c, 760), (66, 860), (67, 960), (d, 1060)]
        rows += [(7, cam, start + s) for cam, s in p_route] + [(9, cam, start + s) for cam, s in q_route]
        for cam, s in ((x, 150), (y, 300)):
            rows += [(filler + n, cam, start + s - 40 + n % 80) for n in range(250)]
            filler += 250
    frame = frame_of(rows)
    assert pairs(frame) == []  # every read numbered: no segment is shared
    assert co_travel_groups(frame, DELTA_S, SEGMENT_MAX_S, MIN_CAMERAS, MIN_OCCASIONS, GAP_S, busy=(90, 200)) == [
        (7, 9)
    ]


def test_a_co_read_the_detector_does_not_see_never_merges_its_two_occasions() -> None:
    # Two trips together 3,700 s apart, and between them a meeting 93 s apart at Z: a co-read within the
    # truth's wider margin (95 s) but not the detector's (90 s). Splitting at gaps would see one occasion.
    together = [(cam, s) for cam, s in [(1, 0), (2, 300), (3, 600), (1, 4300), (2, 4600), (4, 4900)]]
    rows = [(7, cam, s) for cam, s in together] + [(9, cam, s + 10) for cam, s in together]
    rows += [(7, 5, 2000), (9, 5, 2093)]
    assert pairs(frame_of(rows)) == [(7, 9)]
