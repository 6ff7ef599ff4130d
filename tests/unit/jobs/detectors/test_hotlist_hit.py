from __future__ import annotations

from datetime import timedelta

import pytest

from das.config import HotlistHitParams
from jobs.detectors.hotlist_hit import detect as detect_hotlist_hits
from tests.unit.jobs.detectors.builders import MONDAY, at, camera, detector_inputs, flags_of, hotlist_entry, read

pytestmark = pytest.mark.unit

CAMERAS = [camera("CAM1"), camera("CAM2", 2000, 0)]
NOW = MONDAY + timedelta(days=10)


def run(spark, reads, hotlist, params=None, now=NOW):  # type: ignore[no-untyped-def]
    inputs = detector_inputs(spark, reads=reads, cameras=CAMERAS, hotlist=hotlist)
    return flags_of(detect_hotlist_hits(inputs, params or HotlistHitParams(), now))


def test_exact_hit_fires_with_priority_score_and_day_window(spark) -> None:
    flags = run(
        spark,
        [
            read("AB12CDE", "CAM1", at(8), cameras=CAMERAS),
            read("AB12CDE", "CAM2", at(9), cameras=CAMERAS),
            read("ZZ99ZZZ", "CAM1", at(8), cameras=CAMERAS),
        ],
        [hotlist_entry("AB12CDE", priority="medium", reason="stolen")],
    )
    assert len(flags) == 1
    flag = flags[0]
    assert flag["flag_type"] == "hotlist_hit" and flag["subject"] == "AB12CDE"
    assert flag["score"] == pytest.approx(0.75)
    assert flag["related"] == ["r1", "r2"]
    assert flag["window_start"] == MONDAY.replace(tzinfo=None) and flag["window_end"] == (
        MONDAY + timedelta(days=1)
    ).replace(tzinfo=None)
    assert [e["kind"] for e in flag["evidence"]] == ["read", "read"]
    assert all("exact" in e["detail"] for e in flag["evidence"])
    assert (
        "fuzzy" not in flag["summary"] and flag["status"] == "new" and flag["detected_at"] == NOW.replace(tzinfo=None)
    )


def test_expired_and_not_yet_valid_entries_do_not_hit(spark) -> None:
    flags = run(
        spark,
        [read("AB12CDE", "CAM1", at(8), cameras=CAMERAS)],
        [
            hotlist_entry("AB12CDE", valid_from=at(-48), valid_to=at(7)),  # expired an hour before the read
            hotlist_entry("AB12CDE", hotlist_entry_id="later", valid_from=at(9)),
        ],  # starts after it
    )
    assert flags == []


def test_valid_to_is_exclusive_and_open_ended_entries_hit(spark) -> None:
    flags = run(
        spark,
        [read("AB12CDE", "CAM1", at(8), cameras=CAMERAS), read("XY34ZZZ", "CAM1", at(8), cameras=CAMERAS)],
        [hotlist_entry("AB12CDE", valid_to=at(8)), hotlist_entry("XY34ZZZ", valid_from=at(7), valid_to=None)],
    )
    assert [f["subject"] for f in flags] == ["XY34ZZZ"]


def test_fuzzy_hit_is_marked_and_scored_lower(spark) -> None:
    flags = run(spark, [read("AB12C0E", "CAM1", at(8), cameras=CAMERAS)], [hotlist_entry("AB12CDE")])
    assert len(flags) == 1
    assert flags[0]["subject"] == "AB12CDE"
    assert flags[0]["score"] == pytest.approx(0.6)  # high priority 1.0 x fuzzy factor 0.6
    assert "fuzzy" in flags[0]["summary"] and "fuzzy" in flags[0]["evidence"][0]["detail"]
    assert flags[0]["evidence"][0]["plate"] == "AB12C0E"  # the plate as read


def test_exact_hit_takes_precedence_over_fuzzy(spark) -> None:
    # AB12CDE is hotlisted and AB12C0E is too: a read of AB12C0E hits its own entry exactly, not AB12CDE fuzzily.
    flags = run(
        spark,
        [read("AB12C0E", "CAM1", at(8), cameras=CAMERAS)],
        [hotlist_entry("AB12CDE"), hotlist_entry("AB12C0E", priority="low")],
    )
    assert [(f["subject"], f["score"]) for f in flags] == [("AB12C0E", pytest.approx(0.5))]


def test_fuzzy_can_be_switched_off(spark) -> None:
    flags = run(
        spark,
        [read("AB12C0E", "CAM1", at(8), cameras=CAMERAS)],
        [hotlist_entry("AB12CDE")],
        params=HotlistHitParams(fuzzy_enabled=False),
    )
    assert flags == []


def test_retro_hit_new_entry_matches_past_reads(spark) -> None:
    # The entry was added days after the read, but is valid for the read's time (valid_from null).
    flags = run(
        spark,
        [read("AB12CDE", "CAM1", at(8), cameras=CAMERAS)],
        [hotlist_entry("AB12CDE")],
        now=MONDAY + timedelta(days=30),
    )
    assert len(flags) == 1 and flags[0]["window_start"] == MONDAY.replace(tzinfo=None)
    too_old = run(
        spark,
        [read("AB12CDE", "CAM1", at(8), cameras=CAMERAS)],
        [hotlist_entry("AB12CDE")],
        params=HotlistHitParams(retro_days=5),
        now=MONDAY + timedelta(days=30),
    )
    assert too_old == []


def test_duplicate_and_overlapping_entries_give_one_flag_per_plate_and_day(spark) -> None:
    flags = run(
        spark,
        [read("AB12CDE", "CAM1", at(8), cameras=CAMERAS), read("AB12CDE", "CAM1", at(8, days=1), cameras=CAMERAS)],
        [
            hotlist_entry("AB12CDE", priority="low"),
            hotlist_entry("AB12CDE", priority="low"),  # exact duplicate
            hotlist_entry("AB12CDE", hotlist_entry_id="overlap", list_name="ops", priority="high", valid_from=at(-1)),
        ],
    )
    assert [(f["window_start"].day, f["score"], f["related"]) for f in flags] == [(6, 1.0, ["r1"]), (7, 1.0, ["r2"])]
    assert len({f["flag_id"] for f in flags}) == 2


def test_skeleton_maps_confusable_characters() -> None:
    # Pure column expression, checked through its translation table rather than Spark.
    from jobs.detectors import hotlist_hit as hotlist_hits

    table = str.maketrans(hotlist_hits._CONFUSABLE_FROM, hotlist_hits._CONFUSABLE_TO)
    assert "OD0I1B8S5Z2G6".translate(table) == "0001188552266"


def test_empty_inputs_give_empty_conforming_frame(spark) -> None:
    assert run(spark, [], []) == []
    assert run(spark, [read("AB12CDE", "CAM1", at(8), cameras=CAMERAS)], []) == []
