"""Read a landing file into raw string columns, streaming, with bounded memory.

The output is a Parquet file of string columns (named by the normalised header) plus ``_row_number`` (1-based record
ordinal) and ``_record`` (the raw record as a JSON object with the original field names), together with the list of
records that could not be parsed and, when the file cannot be read at all, the reason. Nothing is dropped silently:
every record is either in the Parquet output or in ``malformed``.

CSV: gzip, UTF-8 with or without BOM, or latin-1; quoted fields with embedded newlines; the delimiter is taken from
the header (``,`` ``;`` tab ``|``). Clean files take a fast multi-threaded Arrow path; a file with structurally
malformed records is re-read with Python's csv module, which reports exact record numbers.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from jobs.ingest.landing import LandedFile
from schemas.landing import normalise_field_name

ROW_NUMBER = "_row_number"
RECORD = "_record"
BATCH_ROWS = 200_000
_SNIFF_BYTES = 1 << 20
_DELIMITERS = (",", ";", "\t", "|")


@dataclass(frozen=True)
class MalformedRecord:
    row_number: int
    raw: str
    detail: str


@dataclass
class ParsedFile:
    landed: LandedFile
    source_format: str
    output: Path | None = None
    columns: dict[str, str] = field(default_factory=dict)  # normalised name -> original name
    rows_parsed: int = 0
    malformed: list[MalformedRecord] = field(default_factory=list)
    file_error: tuple[str, str] | None = None  # (reason_code, detail) when the whole file is unusable
    warnings: list[str] = field(default_factory=list)

    @property
    def rows_landed(self) -> int:
        return self.rows_parsed + len(self.malformed)


def _unique_names(names: list[str]) -> tuple[list[str], dict[str, str]]:
    seen: dict[str, int] = {}
    normalised = []
    for name in names:
        base = normalise_field_name(name) or "column"
        count = seen.get(base, 0)
        seen[base] = count + 1
        normalised.append(base if count == 0 else f"{base}_{count + 1}")
    return normalised, dict(zip(normalised, names, strict=True))


def detect_encoding(sample: bytes) -> str:
    """utf-8-sig (handles a BOM) when the sample decodes as UTF-8, else latin-1 (which decodes anything)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        # A multi-byte character may be cut at the end of the sample: ignore a short invalid tail.
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        return "utf-8" if exc.start >= len(sample) - 3 else "latin-1"


def parse_file(landed: LandedFile, out_dir: Path) -> ParsedFile:
    """Parse one landing file. Never raises for bad content: problems are recorded on the result."""
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / f"{landed.checksum[:16]}.parquet"
    fmt = landed.format_hint
    try:
        if fmt == "csv":
            return _parse_csv(landed, output)
        if fmt == "jsonl":
            return _parse_jsonl(landed, output)
        return _parse_json_document(landed, output)
    except (OSError, EOFError) as exc:  # e.g. a truncated gzip stream
        return ParsedFile(landed, fmt, file_error=("unreadable_file", f"cannot read {landed.path.name}: {exc}"))


# ---------------------------------------------------------------- CSV


def _read_sample(landed: LandedFile) -> bytes:
    with landed.open_binary() as handle:
        return bytes(handle.read(_SNIFF_BYTES))


def _header_and_delimiter(sample: bytes, encoding: str) -> tuple[list[str], str] | None:
    text = sample.decode(encoding, errors="replace").lstrip("\ufeff")
    first_line = text.split("\n", 1)[0].rstrip("\r")
    if not first_line.strip():
        return None
    best = max(_DELIMITERS, key=lambda d: first_line.count(d))
    delimiter = best if first_line.count(best) > 0 else ","
    header = next(csv.reader([first_line], delimiter=delimiter))
    return [h.strip() for h in header], delimiter


def _parse_csv(landed: LandedFile, output: Path) -> ParsedFile:
    result = ParsedFile(landed, "csv")
    sample = _read_sample(landed)
    if not sample.strip():
        result.file_error = ("empty_file", f"{landed.path.name} is empty: nothing to ingest")
        return result
    if b"\x00" in sample[:4096]:
        result.file_error = ("unreadable_file", f"{landed.path.name} is binary, not CSV text")
        return result
    encoding = detect_encoding(sample)
    header_delim = _header_and_delimiter(sample, encoding)
    if header_delim is None:
        result.file_error = ("empty_file", f"{landed.path.name} has no header line")
        return result
    header, delimiter = header_delim
    if delimiter != ",":
        result.warnings.append(f"{landed.path.name}: delimiter {delimiter!r} detected from the header")
    if encoding == "latin-1":
        result.warnings.append(f"{landed.path.name}: not valid UTF-8, read as latin-1")
    names, result.columns = _unique_names(header)
    result.output = output
    if not _parse_csv_arrow(landed, output, names, header, delimiter, encoding, result):
        result.rows_parsed = 0
        result.malformed = []
        _parse_csv_python(landed, output, names, header, delimiter, encoding, result)
    return result


def _record_json(table: pa.Table, original_names: list[str]) -> pa.Array:
    """The raw record as a JSON object string per row, built column-wise (no per-row Python)."""
    pieces: list[Any] = []
    for index, (column, name) in enumerate(zip(table.columns, original_names, strict=True)):
        key = json.dumps(name, ensure_ascii=False)
        prefix = ("{" if index == 0 else ",") + key + ":"
        values = pc.if_else(
            pc.is_null(column),
            "null",
            pc.binary_join_element_wise(
                '"',
                pc.replace_substring_regex(
                    pc.replace_substring_regex(pc.replace_substring_regex(column, r"\\", r"\\\\"), '"', '\\\\"'),
                    r"[\n\r\t]",
                    " ",
                ),
                '"',
                "",
            ),
        )
        pieces.append(pc.binary_join_element_wise(prefix, values, ""))
    if not pieces:
        return pa.array(["{}"] * table.num_rows, pa.string())
    joined = pieces[0]
    for piece in pieces[1:]:
        joined = pc.binary_join_element_wise(joined, piece, "")
    return pc.binary_join_element_wise(joined, "}", "")


class _Writer:
    def __init__(self, output: Path, names: list[str], original: list[str]):
        self.output = output
        self.names = names
        self.original = original
        self.schema = pa.schema(
            [pa.field(n, pa.string()) for n in names]
            + [pa.field(ROW_NUMBER, pa.int64()), pa.field(RECORD, pa.string())]
        )
        self.writer = pq.ParquetWriter(output, self.schema, compression="snappy")
        self.rows = 0

    def write(self, table: pa.Table, row_numbers: pa.Array) -> None:
        columns = [table.column(i).cast(pa.string()) for i in range(table.num_columns)]
        base = pa.table(columns, names=self.names)
        record = _record_json(base, self.original)
        self.writer.write_table(base.append_column(ROW_NUMBER, row_numbers).append_column(RECORD, record))
        self.rows += table.num_rows

    def close(self) -> None:
        self.writer.close()


def _parse_csv_arrow(
    landed: LandedFile,
    output: Path,
    names: list[str],
    original: list[str],
    delimiter: str,
    encoding: str,
    result: ParsedFile,
) -> bool:
    """Fast path. Returns False when the file has malformed records (the exact path must re-read it)."""
    invalid: list[Any] = []

    def on_invalid(row: Any) -> str:
        invalid.append(row)
        return "skip"

    try:
        with landed.open_binary() as handle:
            reader = pacsv.open_csv(
                handle,
                read_options=pacsv.ReadOptions(
                    column_names=names,
                    skip_rows=1,
                    block_size=8 << 20,
                    encoding="utf8" if encoding.startswith("utf-8") else encoding,
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(names, pa.string()),
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
            writer = _Writer(output, names, original)
            try:
                for batch in reader:
                    if invalid:
                        return False
                    if batch.num_rows == 0:
                        continue
                    start = writer.rows + 1
                    writer.write(
                        pa.Table.from_batches([batch]), pa.array(range(start, start + batch.num_rows), pa.int64())
                    )
            finally:
                writer.close()
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return False
    if invalid:
        return False
    result.rows_parsed = writer.rows
    return True


def _parse_csv_python(
    landed: LandedFile,
    output: Path,
    names: list[str],
    original: list[str],
    delimiter: str,
    encoding: str,
    result: ParsedFile,
) -> None:
    """Exact path: record-by-record, so malformed records keep their record numbers."""
    expected = len(names)
    writer = _Writer(output, names, original)
    rows: list[list[str]] = []
    numbers: list[int] = []

    def flush() -> None:
        if rows:
            columns = list(zip(*rows, strict=True))
            table = pa.table([pa.array(c, pa.string()) for c in columns], names=names)
            writer.write(table, pa.array(numbers, pa.int64()))
            rows.clear()
            numbers.clear()

    try:
        with landed.open_binary() as raw:
            text = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="")
            reader = csv.reader(text, delimiter=delimiter, strict=False)
            next(reader, None)  # header
            number = 0
            while True:
                try:
                    record = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    number += 1
                    result.malformed.append(MalformedRecord(number, "", f"CSV syntax error: {exc}"))
                    continue
                number += 1
                if not record or (len(record) == 1 and not record[0].strip()):
                    number -= 1  # a blank line is not a record
                    continue
                if len(record) != expected:
                    raw_line = delimiter.join(record)
                    result.malformed.append(
                        MalformedRecord(number, raw_line, f"expected {expected} fields, found {len(record)}")
                    )
                    continue
                rows.append(record)
                numbers.append(number)
                if len(rows) >= BATCH_ROWS:
                    flush()
            flush()
    finally:
        writer.close()
    result.rows_parsed = writer.rows


# ---------------------------------------------------------------- JSON


def _flatten(value: Any, prefix: str = "") -> dict[str, str | None]:
    """Nested objects become dotted keys; scalars become strings; lists become JSON text."""
    flat: dict[str, str | None] = {}
    if isinstance(value, dict):
        for key, inner in value.items():
            flat.update(_flatten(inner, f"{prefix}{key}."))
        if not value and prefix:
            flat[prefix[:-1]] = None
        return flat
    key = prefix[:-1]
    if value is None:
        flat[key] = None
    elif isinstance(value, list):
        flat[key] = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, bool):
        flat[key] = "true" if value else "false"
    else:
        flat[key] = str(value)
    return flat


def _geojson_records(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for feature in doc.get("features") or []:
        properties = dict(feature.get("properties") or {})
        geometry = feature.get("geometry") or {}
        if geometry.get("type") == "Point" and isinstance(geometry.get("coordinates"), list):
            coords = geometry["coordinates"]
            properties.setdefault("longitude", coords[0] if len(coords) > 0 else None)
            properties.setdefault("latitude", coords[1] if len(coords) > 1 else None)
        if "id" in feature and "id" not in properties:
            properties["id"] = feature["id"]
        yield properties


def _write_records(result: ParsedFile, output: Path, records: list[tuple[int, dict[str, Any]]]) -> None:
    keys: list[str] = []
    seen: set[str] = set()
    flat_records = []
    for number, record in records:
        flat = _flatten(record)
        flat_records.append((number, flat))
        for key in flat:
            if key not in seen:
                seen.add(key)
                keys.append(key)
    names, result.columns = _unique_names(keys)
    writer = _Writer(output, names, keys)
    try:
        for start in range(0, len(flat_records), BATCH_ROWS):
            chunk = flat_records[start : start + BATCH_ROWS]
            table = (
                pa.table([pa.array([r.get(k) for _, r in chunk], pa.string()) for k in keys], names=names)
                if keys
                else pa.table({})
            )
            writer.write(table, pa.array([n for n, _ in chunk], pa.int64()))
    finally:
        writer.close()
    result.output = output
    result.rows_parsed = writer.rows


def _parse_jsonl(landed: LandedFile, output: Path) -> ParsedFile:
    result = ParsedFile(landed, "jsonl")
    records: list[tuple[int, dict[str, Any]]] = []
    with landed.open_binary() as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace")
        number = 0
        for line in text:
            if not line.strip():
                continue
            number += 1
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                result.malformed.append(MalformedRecord(number, line.rstrip("\n")[:10000], f"invalid JSON: {exc}"))
                continue
            if not isinstance(value, dict):
                result.malformed.append(MalformedRecord(number, line.rstrip("\n")[:10000], "not a JSON object"))
                continue
            records.append((number, value))
    if number == 0:
        result.file_error = ("empty_file", f"{landed.path.name} has no records")
        return result
    _write_records(result, output, records)
    return result


def _parse_json_document(landed: LandedFile, output: Path) -> ParsedFile:
    with landed.open_binary() as raw:
        data = raw.read()
    fmt = landed.format_hint
    result = ParsedFile(landed, fmt)
    if not data.strip():
        result.file_error = ("empty_file", f"{landed.path.name} is empty: nothing to ingest")
        return result
    try:
        doc = json.loads(data.decode(detect_encoding(data[:_SNIFF_BYTES])))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        result.file_error = ("unreadable_file", f"{landed.path.name} is not valid JSON: {exc}")
        return result
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        result.source_format = "geojson"
        items: list[Any] = list(_geojson_records(doc))
    elif isinstance(doc, list):
        result.source_format = "json"
        items = doc
    else:
        result.file_error = (
            "unreadable_file",
            f"{landed.path.name}: expected a GeoJSON FeatureCollection or a JSON array of records",
        )
        return result
    records = []
    for number, item in enumerate(items, start=1):
        if isinstance(item, dict):
            records.append((number, item))
        else:
            result.malformed.append(MalformedRecord(number, json.dumps(item)[:10000], "not a JSON object"))
    if not items:
        result.file_error = ("empty_file", f"{landed.path.name} has no records")
        return result
    _write_records(result, output, records)
    return result
