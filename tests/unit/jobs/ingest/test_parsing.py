"""Parsers never raise for a file's content: each bad file is unusable with a reason, or its bad records are kept
aside with theirs, and every record is accounted for. Pure Python and Arrow: no Spark."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from das.config import IngestLimits
from jobs.ingest.landing import LandedFile, discover, file_checksum
from jobs.ingest.parsing import ParsedFile, parse_file

LIMITS = IngestLimits(max_decompressed_bytes=1 << 20, max_record_bytes=4096, max_field_chars=512, max_depth=8)


def landed(path: Path) -> LandedFile:
    return LandedFile("anpr", path, file_checksum(path), path.stat().st_size)


def parse(tmp_path: Path, name: str, content: bytes, limits: IngestLimits = LIMITS) -> ParsedFile:
    path = tmp_path / name
    path.write_bytes(content)
    return parse_file(landed(path), tmp_path / "out", limits)


def accounted(parsed: ParsedFile) -> None:
    """Every record is in the output or among the malformed ones, and each malformed one says why."""
    if parsed.file_error is not None:
        assert parsed.file_error[0] and parsed.file_error[1]
        assert parsed.output is None or not parsed.output.exists()
        return
    rows = pq.read_metadata(parsed.output).num_rows if parsed.output else 0
    assert rows == parsed.rows_parsed
    malformed = parsed.read_malformed()
    assert len(malformed) == parsed.malformed_count
    assert all(m["detail"] for m in malformed)
    numbers = [m["row_number"] for m in malformed]
    assert len(set(numbers)) == len(numbers)


GOOD_JSONL = b'{"read_id": "r1", "plate": "AB12CDE"}\n'


@pytest.mark.parametrize("name", ["deep.jsonl", "deep.json"])
def test_nesting_100000_levels_deep_is_one_rejected_record_not_a_crash(tmp_path: Path, name: str) -> None:
    deep = b'{"a": ' * 100_000 + b"1" + b"}" * 100_000
    content = GOOD_JSONL + deep + b"\n" if name.endswith("jsonl") else b"[" + GOOD_JSONL.strip() + b"," + deep + b"]"
    limits = IngestLimits(max_record_bytes=4 << 20, max_depth=8)
    parsed = parse(tmp_path, name, content, limits)
    accounted(parsed)
    assert (parsed.rows_parsed, parsed.malformed_count) == (1, 1)
    assert "nested deeper than 8" in parsed.read_malformed()[0]["detail"]


@pytest.mark.parametrize("name", ["big.jsonl", "big.json"])
def test_a_5000_digit_number_is_kept_as_text_or_rejected_never_raised(tmp_path: Path, name: str) -> None:
    number = b"1" + b"0" * 5000
    record = b'{"read_id": "r2", "n": ' + number + b"}"
    content = (
        GOOD_JSONL + record + b"\n" if name.endswith("jsonl") else b"[" + GOOD_JSONL.strip() + b"," + record + b"]"
    )
    parsed = parse(tmp_path, name, content, IngestLimits(max_field_chars=10_000))
    accounted(parsed)
    if name.endswith("jsonl"):  # one record per line: the file goes on
        assert parsed.rows_landed == 2 and parsed.file_error is None
    else:  # a streamed document cannot resume after it: the file is unusable, with the reason
        assert parsed.file_error is not None and "integer overflow" in parsed.file_error[1]


def test_geojson_whose_features_is_an_object_is_unreadable(tmp_path: Path) -> None:
    doc = {"type": "FeatureCollection", "features": {"a": 1}}
    parsed = parse(tmp_path, "cams.geojson", json.dumps(doc).encode())
    assert parsed.file_error == (
        "unreadable_file",
        "cams.geojson is not valid JSON: GeoJSON 'features' is not an array",
    )


def test_a_feature_whose_geometry_is_a_string_keeps_its_properties_without_a_position(tmp_path: Path) -> None:
    doc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": "POINT(0 0)", "properties": {"camera_id": "C1"}},
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [-0.1, 51.5]},
                "properties": {"camera_id": "C2"},
            },
            "not a feature",
        ],
    }
    parsed = parse(tmp_path, "cams.geojson", json.dumps(doc).encode())
    accounted(parsed)
    rows = pq.read_table(parsed.output).to_pylist()
    assert [(r["camera_id"], r.get("longitude")) for r in rows] == [("C1", None), ("C2", "-0.1")]
    assert parsed.read_malformed()[0]["detail"] == "not a JSON object"


def test_a_corrupt_gzip_is_unreadable(tmp_path: Path) -> None:
    content = gzip.compress(b"read_id,camera_id,plate,read_at\n" + b"r,C,P,T\n" * 1000)
    parsed = parse(tmp_path, "reads.csv.gz", content[:40] + b"\x00garbage" + content[60:])
    assert parsed.file_error is not None and parsed.file_error[0] == "unreadable_file"


def test_a_gzip_bomb_stops_at_the_decompressed_limit(tmp_path: Path) -> None:
    content = gzip.compress(b"read_id,camera_id,plate,read_at\n" + b"r,C,P,2024-01-01T00:00:00Z\n" * 200_000)
    assert len(content) < 100_000
    parsed = parse(tmp_path, "bomb.csv.gz", content)
    assert parsed.file_error is not None and parsed.file_error[0] == "limit_exceeded"
    assert "DAS_INGEST__MAX_DECOMPRESSED_BYTES" in parsed.file_error[1]


def test_an_over_long_jsonl_line_is_rejected_and_the_next_one_read(tmp_path: Path) -> None:
    long_line = b'{"read_id": "' + b"x" * 10_000 + b'"}\n'
    parsed = parse(tmp_path, "reads.jsonl", GOOD_JSONL + long_line + GOOD_JSONL)
    accounted(parsed)
    assert (parsed.rows_parsed, parsed.malformed_count) == (2, 1)
    assert "longer than 4,096 bytes" in parsed.read_malformed()[0]["detail"]


def test_an_over_long_csv_field_is_one_malformed_record(tmp_path: Path) -> None:
    content = b"read_id,plate\nr1,AB12CDE\nr2," + b"y" * 2000 + b"\nr3,XY99ZZZ\n"
    parsed = parse(tmp_path, "reads.csv", content)
    accounted(parsed)
    assert parsed.rows_parsed == 2 and parsed.malformed_count == 1


def test_a_bad_mapping_file_is_a_landed_file_with_its_problem(tmp_path: Path) -> None:
    (tmp_path / "sites.mapping.yaml").write_text("fields: [unclosed\n")
    (tmp_path / "sites.csv").write_text("SiteRef,X,Y\nS1,-0.1,51.5\n")
    files = {f.path.name: f for f in discover("cameras", tmp_path)}
    assert files["sites.mapping.yaml"].problem is not None
    assert files["sites.mapping.yaml"].problem[0] == "invalid_mapping"
    assert parse_file(files["sites.mapping.yaml"], tmp_path / "out").file_error == files["sites.mapping.yaml"].problem
    assert files["sites.csv"].problem is None


def test_discovery_skips_symlinks_out_of_the_landing_folder_hidden_folders_and_devices(tmp_path: Path) -> None:
    import os

    landing = tmp_path / "landing"
    (landing / ".partial").mkdir(parents=True)
    (landing / "day1").mkdir()
    (landing / "day1" / "a.csv").write_text("x\n1\n")
    (landing / ".partial" / "b.csv").write_text("x\n1\n")
    secret = tmp_path / "secret.csv"
    secret.write_text("x\n1\n")
    (landing / "out.csv").symlink_to(secret)
    (landing / "in.csv").symlink_to(landing / "day1" / "a.csv")
    os.mkfifo(landing / "pipe.csv")
    names = sorted(str(f.path.relative_to(landing)) for f in discover("anpr", landing))
    assert names == ["day1/a.csv", "day1/a.csv"]  # the inside symlink resolves to the real file


def test_a_mapping_changes_the_identity_of_the_files_it_maps(tmp_path: Path) -> None:
    (tmp_path / "sites.csv").write_text("SiteRef,X,Y\nS1,-0.1,51.5\n")
    before = discover("cameras", tmp_path)[0].checksum
    (tmp_path / "sites.mapping.yaml").write_text("fields: {camera_id: SiteRef, longitude: X, latitude: Y}\n")
    mapped = discover("cameras", tmp_path)[0].checksum
    (tmp_path / "sites.mapping.yaml").write_text("fields: {camera_id: '{SiteRef}-A', longitude: X, latitude: Y}\n")
    assert len({before, mapped, discover("cameras", tmp_path)[0].checksum}) == 3


# ---------------------------------------------------------------- fuzzing: no uncaught exception, ever

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
NAMES = st.sampled_from(["f.csv", "f.jsonl", "f.json", "f.geojson", "f.csv.gz", "f.jsonl.gz"])


def _maybe_gzip(name: str, content: bytes) -> bytes:
    return gzip.compress(content) if name.endswith(".gz") else content


@FUZZ
@given(name=NAMES, content=st.binary(max_size=4096))
def test_random_bytes_never_raise(tmp_path: Path, name: str, content: bytes) -> None:
    accounted(parse(tmp_path, name, content))


CELL = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40)


@FUZZ
@given(
    header=st.lists(st.sampled_from(["read_id", "camera_id", "plate", "read_at", "x y", "Ä"]), min_size=1, max_size=6),
    rows=st.lists(st.lists(CELL, max_size=8), max_size=30),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    quote=st.booleans(),
)
def test_random_csv_shapes_account_for_every_record(tmp_path, header, rows, delimiter, quote) -> None:  # type: ignore[no-untyped-def]
    def cell(value: str) -> str:
        return '"' + value.replace('"', '""') + '"' if quote else value

    lines = [delimiter.join(header)] + [delimiter.join(cell(v) for v in row) for row in rows]
    parsed = parse(tmp_path, "f.csv", ("\n".join(lines) + "\n").encode())
    accounted(parsed)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | CELL,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(CELL, inner, max_size=4),
    max_leaves=20,
)


@FUZZ
@given(values=st.lists(JSON, max_size=20), name=st.sampled_from(["f.jsonl", "f.json", "f.geojson"]))
def test_random_json_accounts_for_every_record(tmp_path, values, name: str) -> None:  # type: ignore[no-untyped-def]
    if name == "f.jsonl":
        content = "\n".join(json.dumps(v) for v in values).encode()
    elif name == "f.json":
        content = json.dumps(values).encode()
    else:
        content = json.dumps({"type": "FeatureCollection", "features": values}).encode()
    parsed = parse(tmp_path, name, content)
    accounted(parsed)
    if parsed.file_error is None:
        assert parsed.rows_landed == len([v for v in values if name != "f.jsonl" or json.dumps(v).strip()])


def test_the_raw_record_keeps_every_field_exactly_as_landed(tmp_path: Path) -> None:
    """Newlines, carriage returns, tabs, quotes, backslashes and other control characters survive into the
    bronze record (json.loads gives the landed text back), on both the Arrow and the exact CSV path."""
    import csv
    import io

    fields = ["two\nlines", "a\ttab", 'say "hi" \\ back', "cr\rhere", "bell\x07", "plain"]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n", quoting=csv.QUOTE_ALL)  # a bare \r would end the line
    writer.writerow(["read_id", "note"])
    writer.writerows([f"r{i}", value] for i, value in enumerate(fields))
    parsed = parse(tmp_path, "reads.csv", text.getvalue().encode())
    accounted(parsed)
    assert parsed.output is not None
    records = [json.loads(r) for r in pq.read_table(parsed.output).column("_record").to_pylist()]
    assert [r["note"] for r in records] == fields
    assert [r["read_id"] for r in records] == [f"r{i}" for i in range(len(fields))]


@pytest.mark.parametrize(
    ("name", "content", "fields"),
    [
        ("a.csv", b"Alert ID,deployment_id\nA1,D1\n", {"alert_id", "deployment_id"}),
        ("a.jsonl", b'{"alert_id": "A1", "x": {"y": 1}}\n{"alert_id": "A2"}\n', {"alert_id", "x_y"}),
        ("a.jsonl", b'{not json\n{"alert_id": "A2"}\n', {"alert_id"}),  # a bad first record is that record's
        ("a.jsonl", b"\n\n", None),
        ("a.json", b'[{"alert_id": "A1"}]', None),  # a document is not peeked at
    ],
)
def test_peek_fields_reads_a_header_or_the_first_good_record(tmp_path: Path, name, content, fields) -> None:  # type: ignore[no-untyped-def]
    from jobs.ingest.parsing import peek_fields

    path = tmp_path / name
    path.write_bytes(content)
    assert peek_fields(landed(path)) == fields
