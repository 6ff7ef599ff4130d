"""Ingest through the real pipeline (real Spark, real Delta): formats, bad input, reconciliation, idempotency."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from das.config import SAMPLES_DIR, Settings
from das.errors import ContractError
from das.lake import DeltaRsLake
from jobs.ingest.outcomes import IngestResult
from jobs.ingest.pipeline import ingest_source
from jobs.sources import source_spec
from schemas.tables import (
    BRONZE_ANPR,
    INGEST_RUNS,
    QUARANTINE,
    SILVER_ANPR_READS,
    SILVER_CAMERAS,
    SILVER_CRIMES,
    SILVER_HOTLIST,
)

pytestmark = pytest.mark.integration

NOW = datetime(2024, 4, 2, 12, 0, tzinfo=timezone.utc)
CAMERAS_CSV = (
    "camera_id,longitude,latitude,name,camera_type,bearing_deg,fov_deg\n"
    "CAM1,-0.1276,51.5072,Trafalgar,anpr,90,60\n"
    "CAM2,-0.0877,51.5079,London Bridge,anpr,,\n"
    "CAM3,-0.1419,51.5014,Buckingham,cctv,180,90\n"
)
ANPR_HEADER = "read_id,camera_id,plate,read_at,confidence,country\n"


@pytest.fixture(scope="module")
def env(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    home = tmp_path_factory.mktemp("ingest_home")
    settings = Settings(home=home)
    lake = DeltaRsLake(spark, str(home / "lake"))
    cams = home / "seed" / "cameras.csv"
    cams.parent.mkdir(parents=True)
    cams.write_text(CAMERAS_CSV)
    result = ingest_source(spark, lake, settings, source_spec("cameras"), cams, now=NOW)
    assert result.total("rows_published") == 3
    return spark, lake, settings, home


def _land(home: Path, name: str, content: str | bytes, source: str = "anpr") -> Path:
    folder = home / "landing" / name / source
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name if "." in name else f"{name}.csv")
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return folder


def _ingest(env, source: str, folder: Path) -> IngestResult:  # type: ignore[no-untyped-def]
    spark, lake, settings, _ = env
    result = ingest_source(spark, lake, settings, source_spec(source), folder, now=NOW)
    for f in result.files:
        assert f.reconciles, f
    return result


def _reasons(env, result: IngestResult) -> Counter[str]:  # type: ignore[no-untyped-def]
    _, lake, _, _ = env
    rows = lake.read(QUARANTINE).where(F.col("ingest_run_id") == result.run_id).collect()
    return Counter(r["reason_code"] for r in rows)


def _read(
    i: int, camera: str = "CAM1", plate: str = "AB12 CDE", at: str = "2024-04-01T08:00:00Z", conf: str = "0.9"
) -> str:
    return f"r{i},{camera},{plate},{at},{conf},GB\n"


def test_jamcam_geojson_skeleton_counts(env) -> None:  # type: ignore[no-untyped-def]
    _spark, lake, _settings, home = env
    folder = home / "landing" / "jamcam" / "cameras"
    folder.mkdir(parents=True)
    shutil.copy(SAMPLES_DIR / "tfl_jamcams_2024-04.geojson", folder)
    result = _ingest(env, "cameras", folder)
    assert result.total("rows_landed") == 900
    assert result.total("rows_published") == 900
    current = lake.read(SILVER_CAMERAS).where("is_current AND camera_id LIKE '0%'")
    assert current.count() == 900
    assert current.where("available").count() == 739
    one = current.where("camera_id = '00001.07450'").collect()
    assert len(one) == 1 and "\\/" not in (one[0]["name"] or "")
    assert one[0]["easting"] > 500000 and one[0]["h3_cell"]


def test_camera_history_opens_a_new_version_when_a_camera_moves(env) -> None:  # type: ignore[no-untyped-def]
    moved = CAMERAS_CSV.replace("CAM3,-0.1419,51.5014", "CAM3,-0.1400,51.5020")
    result = _ingest(env, "cameras", _land(env[3], "moved", moved, "cameras"))
    assert result.total("rows_published") == 1 and result.total("rows_duplicate") == 2
    versions = env[1].read(SILVER_CAMERAS).where("camera_id = 'CAM3'").orderBy("valid_from").collect()
    assert [v["is_current"] for v in versions] == [False, True]
    assert versions[0]["valid_to"] == versions[1]["valid_from"]


def test_anpr_reads_conformed_and_located(env) -> None:  # type: ignore[no-untyped-def]
    csv = ANPR_HEADER + _read(1, plate="ab12 cde") + _read(2, camera="CAM2", at="2024-04-01T09:30:00+01:00")
    result = _ingest(env, "anpr", _land(env[3], "good", csv))
    assert result.total("rows_published") == 2
    rows = {r["read_id"]: r for r in env[1].read(SILVER_ANPR_READS).where("read_id in ('r1','r2')").collect()}
    assert rows["r1"]["plate"] == "AB12CDE" and rows["r1"]["plate_raw"] == "ab12 cde"
    assert rows["r2"]["read_at"].replace(tzinfo=None) == datetime(2024, 4, 1, 8, 30)  # UTC
    assert rows["r1"]["longitude"] == pytest.approx(-0.1276) and rows["r1"]["easting"] > 500000
    assert str(rows["r1"]["read_date"]) == "2024-04-01"


def test_same_file_twice_and_duplicate_ids(env) -> None:  # type: ignore[no-untyped-def]
    csv = ANPR_HEADER + _read(10) + _read(10) + _read(11)
    folder = _land(env[3], "dups", csv)
    first = _ingest(env, "anpr", folder)
    assert (first.total("rows_published"), first.total("rows_duplicate")) == (2, 1)
    second = _ingest(env, "anpr", folder)  # the same file again: a no-op
    assert [f.status for f in second.files] == ["skipped_duplicate_file"]
    assert second.total("rows_published") == 0
    other = _ingest(env, "anpr", _land(env[3], "dups_other", ANPR_HEADER + _read(11) + _read(12)))
    assert (other.total("rows_published"), other.total("rows_duplicate")) == (1, 1)  # r11 across files
    assert env[1].read(SILVER_ANPR_READS).where("read_id in ('r10','r11','r12')").count() == 3


@pytest.mark.parametrize(
    ("name", "rows", "reason", "good_read"),
    [
        ("empty_plate", _read(20, plate=""), "missing_required_field", 120),
        ("bad_time", _read(21, at="yesterday"), "invalid_timestamp", 121),
        ("no_offset", _read(22, at="2024-04-01T08:00:00"), "invalid_timestamp", 122),
        ("future", _read(23, at="2024-04-03T12:00:00Z"), "future_timestamp", 123),
        ("too_old", _read(24, at="2020-01-01T00:00:00Z"), "beyond_retention", 124),
        ("unknown_cam", _read(25, camera="NOPE"), "unknown_camera", 125),
        ("bad_conf", _read(26, conf="1.5"), "invalid_confidence", 126),
    ],
)
def test_bad_anpr_rows_are_quarantined_with_reason(env, name: str, rows: str, reason: str, good_read: int) -> None:  # type: ignore[no-untyped-def]
    # Each case lands one good read with its own id beside the bad one.
    result = _ingest(env, "anpr", _land(env[3], name, ANPR_HEADER + rows + _read(good_read)))
    assert result.total("rows_quarantined") == 1 and result.total("rows_published") == 1
    assert _reasons(env, result) == Counter({reason: 1})


def test_malformed_lines_extra_columns_and_multiline(env) -> None:  # type: ignore[no-untyped-def]
    csv = (
        ANPR_HEADER
        + _read(30)
        + "r31,CAM1,AB12CDE\n"
        + "r32,CAM1,AB12CDE,2024-04-01T08:00:00Z,0.9,GB,extra\n"
        + 'r33,CAM1,"AB12\nCDE",2024-04-01T08:00:00Z,0.9,GB\n'
    )
    result = _ingest(env, "anpr", _land(env[3], "malformed", csv))
    assert result.total("rows_landed") == 4
    assert result.total("rows_published") == 2  # r30 and the multi-line r33
    assert _reasons(env, result) == Counter({"malformed_row": 2})
    assert result.quarantine_reasons == Counter({"malformed_row": 2})  # what `das run` prints
    numbers = sorted(
        r["row_number"] for r in env[1].read(QUARANTINE).where(F.col("ingest_run_id") == result.run_id).collect()
    )
    assert numbers == [2, 3]  # exact record numbers are kept
    r33 = env[1].read(SILVER_ANPR_READS).where("read_id = 'r33'").collect()[0]
    assert r33["plate"] == "AB12CDE"


def test_extra_columns_are_kept_in_bronze(env) -> None:  # type: ignore[no-untyped-def]
    csv = "read_id,camera_id,plate,read_at,speed_kmh\nr40,CAM1,AB12CDE,2024-04-01T08:00:00Z,48\n"
    result = _ingest(env, "anpr", _land(env[3], "extra", csv))
    assert result.total("rows_published") == 1
    bronze = env[1].read(BRONZE_ANPR).where(F.col("ingest_run_id") == result.run_id).collect()
    assert json.loads(bronze[0]["record"])["speed_kmh"] == "48"


def test_wrong_delimiter_latin1_bom_and_gzip(env) -> None:  # type: ignore[no-untyped-def]
    semi = (ANPR_HEADER + _read(50)).replace(",", ";")
    latin = (ANPR_HEADER + "r51,CAM1,AB12CDE,2024-04-01T08:00:00Z,0.9,GB\n").encode(
        "latin-1"
    ) + "r52,CAM1,Ä1,2024-04-01T08:00:00Z,0.9,GB\n".encode("latin-1")
    bom = b"\xef\xbb\xbf" + (ANPR_HEADER + _read(53)).encode()
    gz = gzip.compress((ANPR_HEADER + _read(54)).encode())
    for name, content in [("semi", semi), ("latin.csv", latin), ("bom.csv", bom), ("gz.csv.gz", gz)]:
        result = _ingest(env, "anpr", _land(env[3], name, content))
        expected = Counter({"invalid_plate": 1}) if name == "latin.csv" else Counter()
        assert _reasons(env, result) == expected, name
        assert result.total("rows_published") >= 1, name
    plates = {
        r["read_id"]: r["plate_raw"]
        for r in env[1].read(SILVER_ANPR_READS).where("read_id in ('r50','r51','r53','r54')").collect()
    }
    assert plates == {"r50": "AB12 CDE", "r51": "AB12CDE", "r53": "AB12 CDE", "r54": "AB12 CDE"}
    # Latin-1 was decoded: the quarantined plate keeps its letter (it is not published as "1").
    raw = env[1].read(QUARANTINE).where("reason_code = 'invalid_plate' AND raw_record like '%r52%'").first()
    assert raw is not None and json.loads(raw["raw_record"])["plate"] == "Ä1"


def test_missing_columns_empty_and_header_only_files(env) -> None:  # type: ignore[no-untyped-def]
    home = env[3]
    missing = _ingest(env, "anpr", _land(home, "missing", "read_id,plate\nr60,AB12CDE\nr61,AB12CDE\n"))
    assert (missing.total("rows_landed"), missing.total("rows_quarantined")) == (2, 2)
    assert _reasons(env, missing) == Counter({"missing_required_columns": 1})  # one row stands for the file
    assert missing.quarantine_reasons == Counter({"missing_required_columns": 2})  # both records, by reason
    assert "camera_id" in missing.files[0].messages[-1]
    empty = _ingest(env, "anpr", _land(home, "empty", ""))
    assert _reasons(env, empty) == Counter({"empty_file": 1}) and empty.total("rows_landed") == 0
    header = _ingest(env, "anpr", _land(home, "header", ANPR_HEADER))
    assert header.total("rows_landed") == 0 and header.files[0].status == "succeeded"
    binary = _ingest(env, "anpr", _land(home, "binary", b"\x00\x01\x02PK\x03\x04" * 100))
    assert _reasons(env, binary) == Counter({"unreadable_file": 1})


def test_jsonl_reads(env) -> None:  # type: ignore[no-untyped-def]
    lines = [
        json.dumps(
            {
                "read_id": "r70",
                "camera_id": "CAM1",
                "plate": "AB12CDE",
                "read_at": "2024-04-01T08:00:00Z",
                "confidence": 0.8,
            }
        ),
        "{not json",
    ]
    result = _ingest(env, "anpr", _land(env[3], "reads.jsonl", "\n".join(lines) + "\n"))
    assert (result.total("rows_published"), result.total("rows_quarantined")) == (1, 1)


def test_police_uk_street_csv_sample(env) -> None:  # type: ignore[no-untyped-def]
    folder = env[3] / "landing" / "police" / "crimes"
    folder.mkdir(parents=True)
    shutil.copy(SAMPLES_DIR / "met_street_2023-01_sample.csv", folder)
    result = _ingest(env, "crimes", folder)
    assert result.total("rows_landed") == 4000
    # Counted independently from the file: a Crime ID's exact copies are duplicates; a Crime ID given with two
    # offence types is a conflict, both versions held back (police.uk lists some incidents once per offence).
    with (folder / "met_street_2023-01_sample.csv").open(encoding="utf-8-sig") as handle:
        versions: dict[str, list[tuple[str, ...]]] = {}
        for record in csv.DictReader(handle):
            if record["Crime ID"]:
                versions.setdefault(record["Crime ID"], []).append(tuple(record.values()))
    conflicting = sum(len(v) for v in versions.values() if len(set(v)) > 1)
    copies = sum(len(v) - 1 for v in versions.values() if len(set(v)) == 1)
    assert (conflicting, copies) == (111, 119)
    reasons = _reasons(env, result)
    assert set(reasons) <= {"outside_region", "conflicting_key"}
    assert result.total("rows_duplicate") == copies
    assert reasons["conflicting_key"] == result.total("rows_conflicting") == conflicting
    crimes = env[1].read(SILVER_CRIMES).where(F.col("ingest_run_id") == result.run_id)
    row = crimes.where("crime_type = 'anti-social-behaviour'").first()
    assert row is not None and row["crime_id"].startswith("h:") and row["time_precision"] == "month"
    assert row["location_precision"] == "snapped" and str(row["occurred_from"]).startswith("2023-01-01")
    assert crimes.select("crime_month").distinct().collect()[0][0] == "2023-01"


def test_police_api_json_and_incident_csv(env) -> None:  # type: ignore[no-untyped-def]
    api = [
        {
            "category": "burglary",
            "location_type": "Force",
            "location": {
                "latitude": "51.5072",
                "street": {"id": 1, "name": "On or near High St"},
                "longitude": "-0.1276",
            },
            "context": "",
            "outcome_status": None,
            "persistent_id": "",
            "id": 111,
            "location_subtype": "",
            "month": "2024-03",
        },
        {
            "category": "vehicle-crime",
            "location_type": "Force",
            "location": {"latitude": "0", "street": {}, "longitude": "0"},
            "context": "",
            "outcome_status": {"category": "Under investigation", "date": "2024-03"},
            "persistent_id": "abc",
            "id": 112,
            "location_subtype": "",
            "month": "2024-03",
        },
    ]
    result = _ingest(env, "crimes", _land(env[3], "api.json", json.dumps(api), "crimes"))
    assert result.total("rows_published") == 1 and _reasons(env, result) == Counter({"null_island": 1})
    incidents = (
        "crime_id,crime_type,occurred_at,longitude,latitude\n"
        "INC1,Residential burglary,2024-03-05T22:10:00Z,-0.1276,51.5072\n"
        "INC2,Robbery,2024-03-05T22:10:00Z,51.5072,-0.1276\n"
        "INC3,Robbery,2024-03-05T22:10:00Z,2.35,48.85\n"
    )
    result = _ingest(env, "crimes", _land(env[3], "incidents", incidents, "crimes"))
    assert _reasons(env, result) == Counter({"swapped_coordinates": 1, "outside_region": 1})
    inc1 = env[1].read(SILVER_CRIMES).where("crime_id = 'INC1'").collect()[0]
    assert (inc1["crime_type"], inc1["crime_type_original"], inc1["time_precision"]) == (
        "burglary",
        "Residential burglary",
        "exact",
    )
    assert inc1["occurred_from"] == inc1["occurred_to"]


def test_hotlist_and_mapping_file(env) -> None:  # type: ignore[no-untyped-def]
    hot = (
        "plate,list_name,priority,valid_from,valid_to\n"
        "AB12 CDE,stolen,high,2024-01-01T00:00:00Z,\n"
        "AB12 CDE,stolen,high,2024-01-01T00:00:00Z,\n"
        "AB12 CDE,ANPR-ops,low,,\n"
        "XY99ZZZ,stolen,urgent,,\n"
    )
    result = _ingest(env, "hotlist", _land(env[3], "hot", hot, "hotlist"))
    assert (result.total("rows_published"), result.total("rows_duplicate")) == (2, 1)
    assert _reasons(env, result) == Counter({"invalid_value": 1})
    assert env[1].read(SILVER_HOTLIST).where("plate = 'AB12CDE'").count() == 2
    folder = _land(env[3], "mapped", "SiteRef,X,Y,Kind\nM1,-0.12,51.51,cctv\n", "cameras")
    (folder / "sites.mapping.yaml").write_text(
        "match: '*.csv'\nfields: {camera_id: SiteRef, longitude: X, latitude: Y, camera_type: Kind}\n"
        "defaults: {owner: Borough CCTV}\n"
    )
    result = _ingest(env, "cameras", folder)
    assert result.total("rows_published") == 1
    m1 = env[1].read(SILVER_CAMERAS).where("camera_id = 'M1'").collect()[0]
    assert (m1["camera_type"], m1["owner"]) == ("cctv", "Borough CCTV")


def test_a_register_whose_numbers_repeat_across_subnetworks_conflicts_until_a_composite_key_is_mapped(env) -> None:  # type: ignore[no-untyped-def]
    register = "notes,cam_number,X,Y\nNorth,1,-0.12,51.52\nSouth,1,-0.12,51.48\nSouth,2,-0.11,51.48\n"
    folder = _land(env[3], "register", register, "cameras")
    (folder / "register.mapping.yaml").write_text("fields: {camera_id: cam_number, longitude: X, latitude: Y}\n")
    plain = _ingest(env, "cameras", folder)
    # Camera 1 twice, at different places: neither is "the" camera 1, so both are held back, not dropped.
    assert _reasons(env, plain) == Counter({"conflicting_key": 2})
    assert (plain.total("rows_published"), plain.total("rows_conflicting")) == (1, 2)
    (folder / "register.mapping.yaml").write_text(
        "fields: {camera_id: '{notes}-{cam_number}', longitude: X, latitude: Y}\n"
    )
    composite = _ingest(env, "cameras", folder)  # a corrected mapping makes the file new again
    assert (composite.total("rows_published"), composite.total("rows_quarantined")) == (3, 0)
    ids = {r["camera_id"] for r in env[1].read(SILVER_CAMERAS).where("camera_id like '%-%'").collect()}
    assert {"North-1", "South-1", "South-2"} <= ids


def test_a_crime_republished_with_a_new_outcome_is_an_update_with_history(env) -> None:  # type: ignore[no-untyped-def]
    header = "crime_id,crime_type,occurred_from,longitude,latitude,outcome\n"
    first = header + "UPD1,Burglary,2024-03-01T10:00:00Z,-0.12,51.50,Under investigation\n"
    _ingest(env, "crimes", _land(env[3], "outcome1", first, "crimes"))
    again = _ingest(env, "crimes", _land(env[3], "outcome2", first.replace("Under investigation", "Charged"), "crimes"))
    assert (again.total("rows_published"), again.total("rows_updated"), again.total("rows_duplicate")) == (1, 1, 0)
    versions = env[1].read(SILVER_CRIMES).where("crime_id = 'UPD1'").orderBy("valid_from").collect()
    assert [(v["outcome"], v["is_current"]) for v in versions] == [("Under investigation", False), ("Charged", True)]
    assert versions[0]["valid_to"] == versions[1]["valid_from"]
    same = _ingest(
        env, "crimes", _land(env[3], "outcome3", first.replace("Under investigation", "Charged") + "\n", "crimes")
    )
    assert (same.total("rows_duplicate"), same.total("rows_updated")) == (1, 0)  # identical again: a duplicate


def test_a_hotlist_file_is_a_snapshot_of_its_lists_and_withdraws_what_it_no_longer_lists(env) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    spark, lake, settings, home = env
    header = "plate,list_name,priority\n"
    first = ingest_source(
        spark,
        lake,
        settings,
        source_spec("hotlist"),
        _land(home, "snap1", header + "WD11AAA,watch,high\nWD22BBB,watch,low\nWD33CCC,other,low\n", "hotlist"),
        now=NOW,
    )
    assert first.total("rows_published") == 3
    later = NOW + timedelta(hours=2)
    second = ingest_source(
        spark,
        lake,
        settings,
        source_spec("hotlist"),
        _land(home, "snap2", header + "WD11AAA,watch,medium\n", "hotlist"),
        now=later,
    )
    assert (second.total("rows_published"), second.total("rows_updated"), second.rows_withdrawn) == (1, 1, 1)
    rows = {r["plate"]: r for r in lake.read(SILVER_HOTLIST).where("plate like 'WD%'").collect()}
    assert rows["WD11AAA"]["priority"] == "medium" and rows["WD11AAA"]["valid_to"] is None
    assert rows["WD22BBB"]["valid_to"] == later.replace(tzinfo=None)  # withdrawn: no hits from now on
    assert rows["WD33CCC"]["valid_to"] is None  # another list: untouched


def test_ingest_runs_record_reconciliation(env) -> None:  # type: ignore[no-untyped-def]
    runs = env[1].read(INGEST_RUNS).collect()
    assert runs
    for run in runs:
        assert run["rows_landed"] == run["rows_published"] + run["rows_quarantined"] + run["rows_duplicate"]


def test_unknown_source_is_a_clear_error(env) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ContractError, match="unknown source"):
        ingest_source(env[0], env[1], env[2], source_spec("videos"), env[3], now=NOW)
