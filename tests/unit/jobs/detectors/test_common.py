from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from pyspark.sql import functions as F

from das.config import ClonedPlateParams, HotlistHitParams, Settings
from jobs.detectors import DETECTORS, run_detectors
from jobs.detectors.common import (
    READ_COLUMNS,
    content_from_rows,
    detector_version,
    evidence_entry,
    evidence_row,
    flag_id_value,
    shared_reads,
    to_flags_frame,
)
from schemas.tables import FLAG_TYPES, GOLD_FLAGS
from tests.unit.jobs.detectors.builders import MONDAY, at, camera, crime, detector_inputs, flags_of, hotlist_entry, read

pytestmark = pytest.mark.unit

NOW = MONDAY + timedelta(days=20)
CAMERAS = [camera("CAM1"), camera("CAM2", 3000, 0), camera("CAM_FAR", 40_000, 0), camera("CAM_TWIN")]


def test_registry_names_are_the_declared_flag_types() -> None:
    assert set(DETECTORS) == set(FLAG_TYPES)


def test_detector_version_changes_with_params_only() -> None:
    assert detector_version("hotlist_hit", HotlistHitParams()) == detector_version("hotlist_hit", HotlistHitParams())
    assert detector_version("hotlist_hit", HotlistHitParams()).startswith("hotlist_hit@")
    assert detector_version("hotlist_hit", HotlistHitParams()) != detector_version(
        "hotlist_hit", HotlistHitParams(fuzzy_score_factor=0.5)
    )


def test_flag_id_is_sha256_of_type_subject_window() -> None:
    start, end = datetime(2024, 5, 6, tzinfo=timezone.utc), datetime(2024, 5, 7, tzinfo=timezone.utc)
    expected = hashlib.sha256(b"hotlist_hit|AB12CDE|2024-05-06T00:00:00.000000|2024-05-07T00:00:00.000000").hexdigest()[
        :32
    ]
    assert flag_id_value("hotlist_hit", "AB12CDE", start, end) == expected
    salted = flag_id_value("hotlist_hit", "AB12CDE", start, end, salt="s3cr3t")
    assert salted != expected and salted == flag_id_value("hotlist_hit", "AB12CDE", start, end, salt="s3cr3t")


def test_to_flags_frame_conforms_clamps_and_ids_match_python(spark) -> None:
    start, end = datetime(2024, 5, 6, tzinfo=timezone.utc), datetime(2024, 5, 7, tzinfo=timezone.utc)
    rows: list[dict[str, Any]] = [
        {
            "subject": "AB12CDE",
            "score": 1.7,
            "related": ["r1"],
            "summary": "s",
            "window_start": start,
            "window_end": end,
            "longitude": None,
            "latitude": None,
            "evidence": [evidence_row("read", ref_id="r1", at=datetime(2024, 5, 6, 8, tzinfo=timezone.utc))],
        }
    ]
    flags = flags_of(to_flags_frame(content_from_rows(spark, rows), "hotlist_hit", HotlistHitParams(), NOW))
    assert flags[0]["score"] == 1.0 and flags[0]["status"] == "new"
    assert flags[0]["flag_id"] == flag_id_value("hotlist_hit", "AB12CDE", start, end)
    with pytest.raises(ValueError, match="lacks flag columns"):
        to_flags_frame(spark.range(1).select(F.lit("x").alias("subject")), "hotlist_hit", HotlistHitParams(), NOW)
    with pytest.raises(ValueError, match="unknown evidence fields"):
        evidence_row("read", colour="red")


def test_evidence_entry_has_the_declared_struct(spark) -> None:
    frame = spark.range(1).select(evidence_entry("cell", ref_id=F.lit("x")).alias("e"))
    declared = GOLD_FLAGS.column("evidence").spark_type().elementType  # type: ignore[attr-defined]
    assert [(f.name, f.dataType) for f in frame.schema["e"].dataType.fields] == [
        (f.name, f.dataType) for f in declared.fields
    ]


def test_every_detector_on_empty_inputs_returns_the_exact_schema(spark) -> None:
    outputs = run_detectors(detector_inputs(spark), Settings(), NOW)
    assert set(outputs) == set(FLAG_TYPES)
    for name, frame in outputs.items():
        assert flags_of(frame) == [], name


def test_run_detectors_only_and_unknown_names(spark) -> None:
    inputs = detector_inputs(spark)
    assert list(run_detectors(inputs, Settings(), NOW, only=["convoy"])) == ["convoy"]
    with pytest.raises(ValueError, match="unknown detector"):
        run_detectors(inputs, Settings(), NOW, only=["ufo_sighting"])


def test_flag_ids_are_stable_across_runs_and_independent_of_now(spark) -> None:
    inputs = detector_inputs(
        spark,
        cameras=CAMERAS,
        reads=[
            read("AB12CDE", "CAM1", at(10, minutes=5), cameras=CAMERAS),
            read("AB12CDE", "CAM_FAR", at(10, minutes=10), cameras=CAMERAS),
            read("AB12CDE", "CAM2", at(11, minutes=5), cameras=CAMERAS),
            read("XY34ZZZ", "CAM_TWIN", at(9), cameras=CAMERAS),
        ],
        crimes=[crime("K1", at(10), 50, 0), crime("K2", at(11), 3050, 0), crime("K3", at(9, days=2), 120, 0)],
        hotlist=[hotlist_entry("AB12CDE"), hotlist_entry("AB12CDE", hotlist_entry_id="dup")],
    )
    only = ["hotlist_hit", "cloned_plate", "vehicle_near_crimes", "near_repeat"]
    settings = Settings(cloned_plate=ClonedPlateParams(max_speed_kmh=160))

    def ids(now: datetime) -> list[tuple[str, str, str]]:
        out = run_detectors(inputs, settings, now, only=only)
        return sorted((f["flag_type"], f["subject"], f["flag_id"]) for frame in out.values() for f in flags_of(frame))

    first, later = ids(NOW), ids(NOW + timedelta(days=3))
    assert {t for t, _, _ in first} == set(only)
    assert first == later


def test_detectors_share_one_cached_projection_of_the_reads_and_it_is_released(spark) -> None:
    reads = [
        read("AB12CDE", "CAM1", at(9, days=19), cameras=CAMERAS),
        read("AB12CDE", "CAM_FAR", at(9.1, days=19), cameras=CAMERAS),
    ]
    inputs = detector_inputs(spark, reads=reads, cameras=CAMERAS)
    assert tuple(inputs.reads.columns) == READ_COLUMNS
    with shared_reads(inputs) as shared:
        assert shared.reads.storageLevel.useMemory and shared.reads.storageLevel.useDisk
        outputs = run_detectors(shared, Settings(), NOW)
        assert {name: flags_of(frame) for name, frame in outputs.items()} == {
            name: flags_of(frame) for name, frame in run_detectors(inputs, Settings(), NOW).items()
        }
    assert not shared.reads.storageLevel.useMemory  # released when the block ends
