"""The ANPR simulator: parameters, determinism, the landing contract, atomic writes and truth.json."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest

from das.errors import DasError
from das_tools.simulator import (
    PlantedCounts,
    SimulationConfigError,
    SimulationParams,
    default_small_scenario,
    landing_writer,
    run_simulation,
)
from das_tools.simulator.crimes import CRIME_MIX
from das_tools.simulator.landing_writer import atomic_files
from das_tools.simulator.plates import canonical, generate_plates, misread
from schemas.tables import FLAG_TYPES

pytestmark = pytest.mark.unit

START = dt.date(2026, 11, 18)
TINY_PLANTED = PlantedCounts(
    hotlist_exact=2,
    hotlist_fuzzy=1,
    hotlist_expired=1,
    clones=1,
    clone_traps=1,
    convoys=2,
    convoy_traps=2,
    offenders=1,
    near_repeat_clusters=2,
    hotspots=1,
    silent_cameras=1,
)
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
UK_PLATE = re.compile(
    r"^([A-Z]{2}\d{2}[A-Z]{3}"  # current AB12CDE
    r"|[A-Z]\d{1,3}[A-Z]{3}"  # prefix A123BCD
    r"|[A-Z]{3}\d{1,3}[A-Z]"  # suffix ABC123D
    r"|[A-Z]{1,3}\d{1,4}|\d{1,4}[A-Z]{1,3})$"  # dateless
)


def tiny_params(**overrides: object) -> SimulationParams:
    values: dict[str, object] = dict(
        seed=7,
        reads=3000,
        cameras=150,
        crime_days=21,
        crimes_per_day=20,
        start_date=START,
        files_per_day=3,
        planted=TINY_PLANTED,
        hotlist_background=5,
        malformed_share=0.01,
    )
    values.update(overrides)
    return SimulationParams(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "landing"
    run_simulation(tiny_params(), out, progress=False)
    return out


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def parses(text: str) -> bool:
    try:
        dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return bool(ISO_Z.match(text))


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# -- parameters --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"reads": -5}, "reads must be at least 0; got -5"),
        ({"seed": "abc"}, "seed must be a whole number"),
        ({"seed": 1.5}, "seed must be a whole number"),
        ({"days_of_reads": 0}, "days_of_reads must be at least 1"),
        ({"malformed_share": 0.9}, "malformed_share must be between 0 and 0.5"),
        ({"crime_days": 10}, "crime_days must be at least days_of_reads + 14"),
        ({"start_date": "yesterday"}, "start_date must be a date"),
        ({"planted": {"clones": -1}}, "planted.clones must be at least 0"),
    ],
)
def test_bad_parameters_fail_with_one_clear_das_error(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(SimulationConfigError) as caught:
        tiny_params(**overrides)
    assert isinstance(caught.value, DasError)
    assert not isinstance(caught.value, ValueError)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_seed_given_as_digits_is_accepted() -> None:
    assert tiny_params(seed="12").seed == 12


def test_cameras_file_without_cameras_is_a_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "cams.geojson"
    empty.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"available": "false", "imageUrl": "x/00001.1.jpg"},
                        "geometry": {"type": "Point", "coordinates": [-0.1, 51.5]},
                    }
                ],
            }
        )
    )
    with pytest.raises(SimulationConfigError, match="has no available cameras"):
        run_simulation(tiny_params(cameras_file=empty), tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_missing_cameras_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SimulationConfigError, match="does not exist"):
        run_simulation(tiny_params(cameras_file=tmp_path / "nope.csv"), tmp_path / "out", progress=False)


# -- plates ------------------------------------------------------------------------------------------
def test_plates_have_unique_canonical_forms_and_misreads_keep_them() -> None:
    rng = np.random.default_rng(1)
    plates, countries = generate_plates(rng, 5000)
    assert len({canonical(p) for p in plates}) == 5000
    gb = [p for p, c in zip(plates, countries, strict=True) if c == "GB"]
    assert sum(bool(UK_PLATE.match(p)) for p in gb) == len(gb)
    assert sum(bool(re.match(r"^[A-Z]{2}\d{2}[A-Z]{3}$", p)) for p in gb) / len(gb) > 0.7
    for plate in plates[:500]:
        wrong = misread(plate, rng)
        assert canonical(wrong) == canonical(plate)
    assert misread("AB12CDE", rng) != "AB12CDE"  # it has confusable characters, so one is swapped
    assert misread("XXX", rng) == "XXX"


# -- determinism -------------------------------------------------------------------------------------
def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(tiny_run: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    run_simulation(tiny_params(), again, progress=False)
    assert digest(again) == digest(tiny_run)
    other = tmp_path / "other"
    run_simulation(tiny_params(seed=8), other, progress=False)
    assert digest(other) != digest(tiny_run)


def test_refuses_to_overwrite_a_previous_run(tiny_run: Path) -> None:
    with pytest.raises(DasError, match="already holds a simulation"):
        run_simulation(tiny_params(), tiny_run, progress=False)


# -- landing contract --------------------------------------------------------------------------------
def test_anpr_files_follow_the_contract(tiny_run: Path) -> None:
    files = sorted((tiny_run / "anpr").glob("*.csv"))
    assert [f.name for f in files] == ["anpr_20261118_0000.csv", "anpr_20261118_0800.csv", "anpr_20261118_1600.csv"]
    _, cameras = read_csv(tiny_run / "cameras" / "cameras.csv")
    camera_ids = {c["camera_id"] for c in cameras}
    rows: list[dict[str, str]] = []
    for f in files:
        header, file_rows = read_csv(f)
        assert header[:4] == ["read_id", "camera_id", "plate", "read_at"]
        assert set(header) <= {
            "read_id",
            "camera_id",
            "plate",
            "read_at",
            "confidence",
            "country",
            "direction",
            "lane",
            "image_uri",
        }
        rows += file_rows
    assert 2500 < len(rows) < 4500
    assert len({r["read_id"] for r in rows}) == len(rows)
    valid = [
        r
        for r in rows
        if r["plate"] and parses(r["read_at"]) and r["camera_id"] in camera_ids and 0 <= float(r["confidence"]) <= 1
    ]
    malformed = len(rows) - len(valid)
    assert 0 < malformed < 0.05 * len(rows)
    for r in valid:
        assert dt.datetime.fromisoformat(r["read_at"].replace("Z", "+00:00")).date() == START
        assert re.fullmatch(r"[A-Z0-9]{2,8}", r["plate"])
        assert r["country"] in {"GB", "FR", "DE", "IE", "NL", "PL"}
    gb = [r["plate"] for r in valid if r["country"] == "GB"]
    assert sum(bool(UK_PLATE.match(p)) for p in gb) / len(gb) > 0.9  # the rest: OCR misreads
    lower = [float(r["confidence"]) for r in valid if not UK_PLATE.match(r["plate"]) and r["country"] == "GB"]
    assert lower and np.mean(lower) < 0.8
    # Double captures: the same plate at the same camera one or two seconds apart, under a new read id.
    seen: dict[tuple[str, str], list[dt.datetime]] = {}
    for r in valid:
        seen.setdefault((r["plate"], r["camera_id"]), []).append(dt.datetime.fromisoformat(r["read_at"][:-1]))
    doubles = sum(
        1
        for times in seen.values()
        for a, b in zip(sorted(times), sorted(times)[1:], strict=False)
        if (b - a).total_seconds() <= 2
    )
    assert doubles >= 5


def test_cameras_crimes_and_hotlist_follow_the_contract(tiny_run: Path) -> None:
    header, cameras = read_csv(tiny_run / "cameras" / "cameras.csv")
    assert header[:3] == ["camera_id", "longitude", "latitude"]
    assert len(cameras) == 150
    jamcam_id = re.compile(r"^\d{5}\.\d{5}$")
    for c in cameras:
        assert jamcam_id.match(c["camera_id"]) and c["camera_type"] == "anpr" and c["status"] == "active"
        assert -0.6 < float(c["longitude"]) < 0.4 and 51.2 < float(c["latitude"]) < 51.8

    crimes = []
    for f in sorted((tiny_run / "crimes").glob("*.csv")):
        header, rows = read_csv(f)
        assert header[:5] == ["crime_id", "crime_type", "occurred_from", "occurred_to", "longitude"] or set(
            ["crime_id", "crime_type", "occurred_from", "longitude", "latitude"]
        ) <= set(header)
        crimes += rows
    assert {c["crime_type"] for c in crimes} <= set(CRIME_MIX)
    assert len({c["crime_id"] for c in crimes}) == len(crimes)
    first = dt.datetime.combine(START - dt.timedelta(days=20), dt.time(0))
    for c in crimes:
        assert ISO_Z.match(c["occurred_from"])
        start = dt.datetime.fromisoformat(c["occurred_from"][:-1])
        assert first <= start < dt.datetime.combine(START + dt.timedelta(days=1), dt.time(0))
        if c["occurred_to"]:
            assert ISO_Z.match(c["occurred_to"]) and c["occurred_to"] >= c["occurred_from"]

    header, hotlist = read_csv(tiny_run / "hotlist" / "hotlist.csv")
    assert header[0] == "plate"
    for h in hotlist:
        assert h["priority"] in {"high", "medium", "low"}
        for key in ("valid_from", "valid_to"):
            assert h[key] == "" or ISO_Z.match(h[key])


def test_no_temporary_files_are_left(tiny_run: Path) -> None:
    leftovers = [p for p in tiny_run.rglob("*") if p.name.startswith(".") or p.name.endswith(".tmp")]
    assert leftovers == []


# -- atomic writes -----------------------------------------------------------------------------------
def test_atomic_files_rename_on_success_and_vanish_on_error(tmp_path: Path) -> None:
    target = tmp_path / "anpr" / "a.csv"
    with pytest.raises(RuntimeError), atomic_files() as files:
        files.handle(target).write(b"read_id\n1\n")
        assert (tmp_path / "anpr" / ".a.csv.tmp").exists() and not target.exists()
        raise RuntimeError("writer died")
    assert list((tmp_path / "anpr").iterdir()) == []
    with atomic_files() as files:
        files.handle(target).write(b"read_id\n1\n")
    assert target.read_bytes() == b"read_id\n1\n"
    assert [p.name for p in (tmp_path / "anpr").iterdir()] == ["a.csv"]


def test_a_run_that_fails_while_writing_reads_leaves_no_partial_read_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    real_write = landing_writer.ReadsWriter.write

    def failing_write(self, day, day_start, batch):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        real_write(self, day, day_start, batch)
        raise OSError("disk full")

    monkeypatch.setattr(landing_writer.ReadsWriter, "write", failing_write)
    out = tmp_path / "landing"
    with pytest.raises(OSError, match="disk full"):
        run_simulation(tiny_params(), out, progress=False)
    assert calls["n"] == 1
    assert list((out / "anpr").iterdir()) == []  # neither final nor temporary files
    assert not (out / "truth.json").exists()
    # Sources finished before the failure are complete files.
    assert (out / "cameras" / "cameras.csv").exists()


# -- truth -------------------------------------------------------------------------------------------
def test_truth_covers_every_flag_type_with_planted_items(tiny_run: Path) -> None:
    truth = json.loads((tiny_run / "truth.json").read_text())
    assert set(truth["flags"]) == set(FLAG_TYPES)
    assert set(truth["ignore"]) == set(FLAG_TYPES)
    for flag_type in FLAG_TYPES:
        planted = [i for i in truth["flags"][flag_type] if i["planted"]]
        assert planted, flag_type
        for i in truth["flags"][flag_type]:
            assert set(i) >= {"subject", "related", "planted", "note"}
    assert truth["scenario"]["seed"] == 7 and truth["scenario"]["start_date"] == "2026-11-18"
    assert len(truth["flags"]["hotlist_hit"]) == 3
    assert len([i for i in truth["flags"]["convoy"] if i["planted"]]) == 2
    assert {n["note"] for n in truth["negatives"]["convoy"]} == {
        "together at the same 3 cameras morning and evening",
        "together along 6 cameras on one occasion only",
    }


def test_planted_patterns_are_in_the_written_data(tiny_run: Path) -> None:
    truth = json.loads((tiny_run / "truth.json").read_text())
    reads = [r for f in sorted((tiny_run / "anpr").glob("*.csv")) for r in read_csv(f)[1]]
    plates = {r["plate"] for r in reads}
    _, hotlist = read_csv(tiny_run / "hotlist" / "hotlist.csv")
    listed = {h["plate"].replace(" ", "") for h in hotlist}
    for item in truth["flags"]["hotlist_hit"]:
        assert item["subject"] in listed
        if item["note"].startswith("fuzzy"):
            assert item["subject"] not in plates  # only ever misread
            assert any(canonical(p) == canonical(item["subject"]) for p in plates)
        else:
            assert item["subject"] in plates
    for convoy in truth["flags"]["convoy"]:
        group = [convoy["subject"], *convoy["related"]]
        assert group == sorted(group)
        assert all(p in plates for p in group)
    crimes = {r["crime_id"]: r for f in (tiny_run / "crimes").glob("*.csv") for r in read_csv(f)[1]}
    for cluster in truth["flags"]["near_repeat"]:
        assert cluster["subject"] in cluster["related"]
        assert all(crimes[c]["crime_type"] == "Burglary" for c in cluster["related"])
        latest = max(cluster["related"], key=lambda c: crimes[c]["occurred_from"])
        assert crimes[latest]["occurred_from"] == crimes[cluster["subject"]]["occurred_from"]
    silent = truth["flags"]["camera_silent"][0]["subject"]
    late = [r for r in reads if r["camera_id"] == silent and r["read_at"][11:13] >= "19"]
    assert late == []


def test_default_small_scenario_is_ci_sized() -> None:
    params = default_small_scenario(start_date=START)
    assert 40_000 <= params.reads <= 60_000 and params.days_of_reads == 1
    assert params.cameras == 300 and params.crime_days >= 30
    assert 2_000 <= params.crimes_per_day * params.crime_days <= 5_000
    assert all(getattr(params.planted, name) > 0 for name in vars(params.planted))
