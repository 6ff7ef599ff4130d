from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from das.config import NearRepeatParams
from jobs.detectors.near_repeat import _band_index, band_labels
from jobs.detectors.near_repeat import detect as detect_near_repeats
from tests.unit.jobs.detectors.builders import MONDAY, at, crime, detector_inputs, flags_of

pytestmark = pytest.mark.unit

NOW = MONDAY + timedelta(days=370)
PARAMS = NearRepeatParams(lookback_days=400)  # a year of data, so "within 14 days" is rare by chance
# Thirty burglaries across a 25 km x 30 km area (>= 5 km apart), spread over the year: no spatial pairs.
BACKGROUND = [crime(f"B{k:02d}", at(12, days=(k * 47) % 360), 5000 * (k % 5), 5000 * (k // 5)) for k in range(30)]
CLUSTER = [
    crime("N1", at(10, days=1), 10_000 + 0, 2_500 + 0),
    crime("N2", at(10, days=4), 10_000 + 80, 2_500 + 50),  # 94 m, 3 days after N1
    crime("N3", at(10, days=9), 10_000 + 150, 2_500 + 0),  # 86 m, 5 days after N2; 150 m, 8 days after N1
]
OTHERS = [
    crime("LATER", at(10, days=200), 10_000, 2_530),  # same spot, months later: not linked
    crime("ROB1", at(11, days=2), 10_010, 2_500, crime_type="robbery"),  # not a configured type
    crime("MONTH", at(0, days=0), 10_020, 2_500, time_precision="month", occurred_to=at(0, days=30)),
    crime(
        "NOLOC",
        at(10, days=3),
        0,
        0,
        easting=None,
        northing=None,
        longitude=None,
        latitude=None,
        location_precision="none",
    ),
]


def run(spark, crimes, params=None):  # type: ignore[no-untyped-def]
    inputs = detector_inputs(spark, crimes=crimes)
    return flags_of(detect_near_repeats(inputs, params or PARAMS, NOW))


def test_cluster_fires_once_at_latest_crime_with_knox_test(spark) -> None:
    flags = run(spark, BACKGROUND + CLUSTER + OTHERS)
    assert len(flags) == 1
    flag = flags[0]
    assert flag["subject"] == "N3" and flag["related"] == ["N1", "N2", "N3"]
    assert flag["window_start"] == at(10, days=1).replace(tzinfo=None)
    assert flag["window_end"] == at(10, days=9).replace(tzinfo=None)
    assert "3 burglary crimes" in flag["summary"] and "Knox" in flag["summary"]
    knox_detail = next(e["detail"] for e in flag["evidence"] if e["ref_id"] == "N3")
    # The three cluster pairs: 94 m/3 d and 86 m/5 d in the first cell, 150 m/8 d in the next time band.
    assert "[0, 200) m x [0, 7) days: obs 2," in knox_detail
    assert "[0, 200) m x [7, 14) days: obs 1," in knox_detail
    assert "[200, 400) m x [0, 7) days: obs 0," in knox_detail
    # By hand: 6 spatial pairs among the 4 crimes at the spot, each within 14 days by chance with
    # probability about 2 x 14 / 360, so about 0.5 expected against 3 observed: p well under 0.05.
    p_value = float(flag["summary"].split("p=")[1][:5])
    assert p_value < 0.05
    assert flag["score"] == pytest.approx((1 - p_value) * 0.75, abs=1e-3)


def test_knox_is_seeded_and_flag_ids_are_stable(spark) -> None:
    first = run(spark, BACKGROUND + CLUSTER)
    second = run(spark, BACKGROUND + CLUSTER)
    assert [(f["flag_id"], f["score"], f["summary"]) for f in first] == [
        (f["flag_id"], f["score"], f["summary"]) for f in second
    ]


def test_crimes_far_apart_in_time_or_space_do_not_fire(spark) -> None:
    spread_in_time = [
        {**c, "occurred_from": at(10, days=20 * i), "occurred_to": at(10, days=20 * i)} for i, c in enumerate(CLUSTER)
    ]
    assert run(spark, BACKGROUND + spread_in_time) == []
    assert run(spark, BACKGROUND) == []


def test_degenerate_inputs(spark) -> None:
    assert run(spark, []) == []
    assert run(spark, CLUSTER[:1]) == []
    no_time = [crime("T1", None, 0, 0), crime("T2", None, 10, 0)]
    assert run(spark, no_time) == []
    # Two crimes at the same point and instant are a (tiny) cluster; no division by zero anywhere.
    same = [crime("S1", at(10, days=1), 0, 0), crime("S2", at(10, days=1), 0, 0)]
    assert [f["subject"] for f in run(spark, same)] == ["S2"]


def test_band_labels_and_half_open_bands() -> None:
    assert band_labels([0, 200, 400], "m") == ["[0, 200) m", "[200, 400) m"]
    edges = np.array([0.0, 200.0, 400.0])
    assert _band_index(np.array([0.0, 199.9, 200.0, 399.9, 400.0]), edges).tolist() == [0, 0, 1, 1, -1]
