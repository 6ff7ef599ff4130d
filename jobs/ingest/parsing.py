"""Read a landing file into raw string columns, streaming, with bounded memory, never raising for bad content.

The output is a Parquet file of string columns (named by the normalised header) plus ``_row_number`` (1-based record
ordinal) and ``_record`` (the raw record as a JSON object with the original field names), and a second Parquet file
of the records that could not be parsed (their number, raw text and what was wrong). When the file cannot be read
at all, ``file_error`` says why. Nothing is dropped silently: every record is in one of the two outputs.

Limits (``das.config.IngestLimits``, from ``DAS_INGEST__*``) bound what one file can cost: the decompressed size
(a larger file is quarantined whole), a record's size and a field's length (that record is quarantined), JSON
nesting depth (that record is quarantined) and the number of distinct fields (the file is quarantined). Memory is
bounded by the batch size, never by the file: JSON and GeoJSON are read with a streaming parser (ijson) in two
passes (field names, then records), so no document is ever held whole.

CSV: gzip, UTF-8 with or without BOM, or latin-1; quoted fields with embedded newlines; the delimiter is taken from
the header (``,`` ``;`` tab ``|``). Clean files take a fast multi-threaded Arrow path; a file with structurally
malformed records (or over-long fields) is re-read with Python's csv module, which reports exact record numbers.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import ijson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from das.config import IngestLimits
from jobs.ingest.landing import LandedFile
from schemas.landing import normalise_field_name

log = logging.getLogger("das.ingest.parsing")

ROW_NUMBER = "_row_number"
RECORD = "_record"
BATCH_ROWS = 200_000
MALFORMED_RAW_CHARS = 10_000  # how much of a malformed record's raw text is kept for the quarantine
_SNIFF_BYTES = 1 << 20
_DELIMITERS = (",", ";", "\t", "|")
MALFORMED_SCHEMA = pa.schema(
    [pa.field("row_number", pa.int64()), pa.field("raw", pa.string()), pa.field("detail", pa.string())]
)


class LimitExceeded(Exception):
    """The file is over a limit that makes the whole file unusable."""


@dataclass
class ParsedFile:
    landed: LandedFile
    source_format: str
    output: Path | None = None
    columns: dict[str, str] = field(default_factory=dict)  # normalised name -> original name
    rows_parsed: int = 0
    malformed_output: Path | None = None
    malformed_count: int = 0
    file_error: tuple[str, str] | None = None  # (reason_code, detail) when the whole file is unusable
    warnings: list[str] = field(default_factory=list)

    @property
    def rows_landed(self) -> int:
        return self.rows_parsed + self.malformed_count

    def read_malformed(self) -> list[dict[str, Any]]:
        """The malformed records (small per file in practice; the pipeline reads them with Spark)."""
        return pq.read_table(self.malformed_output).to_pylist() if self.malformed_output else []


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


class _Limited(io.RawIOBase):
    """A binary stream that refuses to yield more than ``limit`` bytes (a gzip bomb stops here)."""

    def __init__(self, inner: IO[bytes], limit: int):
        self.inner, self.limit, self.count = inner, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.inner.read(len(buffer))
        self.count += len(data)
        if self.count > self.limit:
            raise LimitExceeded(
                f"decompressed size exceeds {self.limit:,} bytes (DAS_INGEST__MAX_DECOMPRESSED_BYTES); split the file"
            )
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.inner.close()
        super().close()


def open_limited(landed: LandedFile, limits: IngestLimits) -> IO[bytes]:
    return io.BufferedReader(_Limited(landed.open_binary(), limits.max_decompressed_bytes), buffer_size=1 << 20)


class _MalformedWriter:
    """Malformed records go to their own Parquet file as they are found (memory stays one batch)."""

    def __init__(self, path: Path):
        self.path = path
        self.rows: list[tuple[int, str, str]] = []
        self.writer: pq.ParquetWriter | None = None
        self.count = 0

    def add(self, row_number: int, raw: str, detail: str) -> None:
        self.rows.append((row_number, raw[:MALFORMED_RAW_CHARS], detail))
        self.count += 1
        if len(self.rows) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, MALFORMED_SCHEMA, compression="snappy")
        numbers, raws, details = zip(*self.rows, strict=True)
        self.writer.write_table(pa.table([list(numbers), list(raws), list(details)], schema=MALFORMED_SCHEMA))
        self.rows.clear()

    def close(self, result: ParsedFile) -> None:
        self.flush()
        if self.writer is not None:
            self.writer.close()
            result.malformed_output = self.path
        result.malformed_count = self.count


def parse_file(landed: LandedFile, out_dir: Path, limits: IngestLimits | None = None) -> ParsedFile:
    """Parse one landing file. Never raises for its content: problems are recorded on the result."""
    limits = limits or IngestLimits()
    if landed.problem is not None:
        return ParsedFile(landed, landed.format_hint, file_error=landed.problem)
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / f"{landed.checksum[:16]}.parquet"
    bad = _MalformedWriter(out_dir / f"{landed.checksum[:16]}.malformed.parquet")
    fmt = landed.format_hint
    try:
        if fmt == "csv":
            result = _parse_csv(landed, output, bad, limits)
        elif fmt == "jsonl":
            result = _parse_jsonl(landed, output, bad, limits)
        else:
            result = _parse_json_document(landed, output, bad, limits)
        bad.close(result)
        return result
    except LimitExceeded as exc:
        return _unusable(landed, fmt, output, bad, "limit_exceeded", f"{landed.path.name}: {exc}")
    except Exception as exc:  # whatever the bytes are, one bad file never stops the others
        log.warning("cannot read %s: %s: %s", landed.path, type(exc).__name__, exc)
        detail = f"cannot read {landed.path.name}: {type(exc).__name__}: {str(exc)[:300]}"
        return _unusable(landed, fmt, output, bad, "unreadable_file", detail)


def peek_fields(landed: LandedFile, limits: IngestLimits | None = None) -> set[str] | None:
    """The normalised field names of a CSV's header or a JSONL file's first record, read cheaply (to tell which
    source of a shared landing folder a file belongs to). None when they cannot be read this way (a JSON document,
    an unreadable file): the file then goes to the folder's default source, which reports the problem."""
    limits = limits or IngestLimits()
    if landed.problem is not None or landed.format_hint not in ("csv", "jsonl"):
        return None
    try:
        sample = _read_sample(landed, limits)
        encoding = detect_encoding(sample)
        if landed.format_hint == "csv":
            header = _header_and_delimiter(sample, encoding)
            return None if header is None else {normalise_field_name(h) for h in header[0]}
        lines = sample.splitlines()
        if len(lines) > 1 and not sample.endswith(b"\n"):  # the sample may cut the last line short
            lines = lines[:-1]
        for line in lines:
            record = _jsonl_record(line, limits)[0] if line.strip() else None
            if record is not None:  # a malformed first record is that record's problem, not the file's
                return {normalise_field_name(k) for k in _flatten(record, limits)}
    except Exception as exc:  # the parse proper reports what is wrong with the file
        log.info("cannot peek at the fields of %s: %s", landed.path, exc)
    return None


def _unusable(
    landed: LandedFile, fmt: str, output: Path, bad: _MalformedWriter, reason: str, detail: str
) -> ParsedFile:
    if bad.writer is not None:
        bad.writer.close()
    for leftover in (output, bad.path):
        leftover.unlink(missing_ok=True)
    return ParsedFile(landed, fmt, file_error=(reason, detail))


# ---------------------------------------------------------------- CSV


@dataclass(frozen=True)
class _CsvLayout:
    names: list[str]  # normalised, unique
    original: list[str]  # as in the header
    delimiter: str
    encoding: str


def _read_sample(landed: LandedFile, limits: IngestLimits) -> bytes:
    with open_limited(landed, limits) as handle:
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


def _parse_csv(landed: LandedFile, output: Path, bad: _MalformedWriter, limits: IngestLimits) -> ParsedFile:
    result = ParsedFile(landed, "csv")
    sample = _read_sample(landed, limits)
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
    if len(header) > limits.max_fields:
        raise LimitExceeded(f"{len(header)} columns exceed DAS_INGEST__MAX_FIELDS={limits.max_fields}")
    if delimiter != ",":
        result.warnings.append(f"{landed.path.name}: delimiter {delimiter!r} detected from the header")
    if encoding == "latin-1":
        result.warnings.append(f"{landed.path.name}: not valid UTF-8, read as latin-1")
    names, result.columns = _unique_names(header)
    layout = _CsvLayout(names, header, delimiter, encoding)
    result.output = output
    if not _parse_csv_arrow(landed, output, layout, result, limits):
        result.rows_parsed = 0
        _parse_csv_python(landed, output, layout, result, bad, limits)
    return result


# JSON's escapes, backslash first; the other control characters (rare in a landed field) as \u00XX.
_JSON_ESCAPES = (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"))
_OTHER_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"


def _json_string_body(column: Any) -> Any:
    """A string column escaped as the inside of JSON strings: json.loads gives back every character as landed."""
    for raw, escaped in _JSON_ESCAPES:
        column = pc.replace_substring(column, raw, escaped)
    if pc.any(pc.match_substring_regex(column, _OTHER_CONTROL)).as_py():
        for code in range(0x20):
            if chr(code) not in "\n\r\t":
                column = pc.replace_substring(column, chr(code), f"\\u{code:04x}")
    return column


def _record_json(table: pa.Table, original_names: list[str]) -> pa.Array:
    """The raw record as a JSON object string per row, built column-wise (no per-row Python): bronze keeps each
    field exactly as landed, newlines and tabs included."""
    pieces: list[Any] = []
    for index, (column, name) in enumerate(zip(table.columns, original_names, strict=True)):
        key = json.dumps(name, ensure_ascii=False)
        prefix = ("{" if index == 0 else ",") + key + ":"
        values = pc.if_else(
            pc.is_null(column), "null", pc.binary_join_element_wise('"', _json_string_body(column), '"', "")
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


def _longest_field(batch: pa.RecordBatch) -> int:
    lengths = [pc.max(pc.utf8_length(column)).as_py() or 0 for column in batch.columns]
    return max(lengths, default=0)


def _parse_csv_arrow(
    landed: LandedFile, output: Path, layout: _CsvLayout, result: ParsedFile, limits: IngestLimits
) -> bool:
    """Fast path. Returns False when a record is malformed or too long (the exact path must re-read the file)."""
    invalid: list[Any] = []

    def on_invalid(row: Any) -> str:
        invalid.append(row)
        return "skip"

    try:
        with open_limited(landed, limits) as handle:
            reader = pacsv.open_csv(
                handle,
                read_options=pacsv.ReadOptions(
                    column_names=layout.names,
                    skip_rows=1,
                    block_size=8 << 20,
                    encoding="utf8" if layout.encoding.startswith("utf-8") else layout.encoding,
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=layout.delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(layout.names, pa.string()),
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
            writer = _Writer(output, layout.names, layout.original)
            try:
                for batch in reader:
                    if invalid or _longest_field(batch) > limits.max_field_chars:
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
    layout: _CsvLayout,
    result: ParsedFile,
    bad: _MalformedWriter,
    limits: IngestLimits,
) -> None:
    """Exact path: record-by-record, so malformed records keep their record numbers."""
    expected = len(layout.names)
    writer = _Writer(output, layout.names, layout.original)
    rows: list[list[str]] = []
    numbers: list[int] = []
    csv.field_size_limit(limits.max_field_chars)

    def flush() -> None:
        if rows:
            columns = list(zip(*rows, strict=True))
            table = pa.table([pa.array(c, pa.string()) for c in columns], names=layout.names)
            writer.write(table, pa.array(numbers, pa.int64()))
            rows.clear()
            numbers.clear()

    try:
        with open_limited(landed, limits) as raw:
            text = io.TextIOWrapper(raw, encoding=layout.encoding, errors="replace", newline="")
            reader = csv.reader(text, delimiter=layout.delimiter, strict=False)
            next(reader, None)  # header
            number = 0
            while True:
                try:
                    record = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    number += 1
                    bad.add(
                        number, "", f"CSV syntax error: {exc} (DAS_INGEST__MAX_FIELD_CHARS={limits.max_field_chars})"
                    )
                    continue
                number += 1
                if not record or (len(record) == 1 and not record[0].strip()):
                    number -= 1  # a blank line is not a record
                    continue
                if len(record) != expected:
                    bad.add(number, layout.delimiter.join(record), f"expected {expected} fields, found {len(record)}")
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


class RecordRejected(Exception):
    """One JSON record is unusable (too deep, too long a field, not an object); the file goes on."""


def _scalar_text(value: Any, limits: IngestLimits) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    try:
        text = str(value)
    except ValueError as exc:  # e.g. an integer with more digits than Python will print
        raise RecordRejected(f"a number is too long to read: {exc}") from exc
    if len(text) > limits.max_field_chars:
        raise RecordRejected(
            f"a field has {len(text):,} characters (DAS_INGEST__MAX_FIELD_CHARS={limits.max_field_chars})"
        )
    return text


def _flatten(value: Any, limits: IngestLimits, prefix: str = "") -> dict[str, str | None]:
    """Nested objects become dotted keys; scalars become strings; lists become JSON text."""
    flat: dict[str, str | None] = {}
    if isinstance(value, dict):
        for key, inner in value.items():
            flat.update(_flatten(inner, limits, f"{prefix}{key}."))
        if not value and prefix:
            flat[prefix[:-1]] = None
        return flat
    key = prefix[:-1]
    if isinstance(value, list):
        flat[key] = _scalar_text(json.dumps(value, ensure_ascii=False, default=str), limits)
    else:
        flat[key] = _scalar_text(value, limits)
    return flat


def _safe_json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=str)[:MALFORMED_RAW_CHARS]
    except ValueError:  # an integer too long to print
        return ""


def _build(events: Iterator[tuple[str, Any]], first: tuple[str, Any], limits: IngestLimits, depth: int) -> Any:
    """One JSON value from ijson basic events, ``first`` being its first event. Over-deep values are skipped
    to their end (so the stream stays in step) and rejected."""
    event, value = first
    if event not in ("start_map", "start_array"):
        return value
    if depth >= limits.max_depth:
        _skip(events)
        raise RecordRejected(f"nested deeper than {limits.max_depth} levels (DAS_INGEST__MAX_DEPTH)")
    if event == "start_map":
        obj: dict[str, Any] = {}
        rejected: RecordRejected | None = None
        for event, value in events:
            if event == "end_map":
                break
            key = value  # map_key
            try:
                obj[key] = _build(events, next(events), limits, depth + 1)
            except RecordRejected as exc:
                rejected = rejected or exc
        if rejected:
            raise rejected
        return obj
    items: list[Any] = []
    rejected = None
    for event, value in events:
        if event == "end_array":
            break
        try:
            items.append(_build(events, (event, value), limits, depth + 1))
        except RecordRejected as exc:
            rejected = rejected or exc
    if rejected:
        raise rejected
    return items


def _skip(events: Iterator[tuple[str, Any]]) -> None:
    """Consume events up to the end of the container just opened."""
    depth = 1
    for event, _ in events:
        if event in ("start_map", "start_array"):
            depth += 1
        elif event in ("end_map", "end_array"):
            depth -= 1
            if depth == 0:
                return


Item = tuple[int, dict[str, Any] | None, str, str]  # (record number, the record or None, why rejected, raw text)


def _array_items(events: Iterator[tuple[str, Any]], limits: IngestLimits) -> Iterator[Item]:
    """The elements of the array whose start_array was just read."""
    number = 0
    for event, value in events:
        if event == "end_array":
            return
        number += 1
        try:
            item = _build(events, (event, value), limits, 1)
        except RecordRejected as exc:
            yield number, None, str(exc), ""
            continue
        if isinstance(item, dict):
            yield number, item, "", ""
        else:
            yield number, None, "not a JSON object", _safe_json(item)


def _geojson_feature(feature: dict[str, Any]) -> dict[str, Any]:
    properties = feature.get("properties")
    record = dict(properties) if isinstance(properties, dict) else {}
    geometry = feature.get("geometry")
    if isinstance(geometry, dict) and geometry.get("type") == "Point" and isinstance(geometry.get("coordinates"), list):
        coords = geometry["coordinates"]
        record.setdefault("longitude", coords[0] if len(coords) > 0 else None)
        record.setdefault("latitude", coords[1] if len(coords) > 1 else None)
    if "id" in feature and "id" not in record:
        record["id"] = feature["id"]
    return record


def _document_items(handle: IO[bytes], limits: IngestLimits, result: ParsedFile) -> Iterator[Item]:
    """Records of a JSON array or a GeoJSON FeatureCollection, streamed; a bad document raises ValueError."""
    # use_float: yajl reports an over-long integer as a clean parse error, instead of failing inside C.
    events = iter(ijson.basic_parse(handle, use_float=True))
    first = next(events, None)
    if first is None:
        raise ValueError("the document is empty")
    if first[0] == "start_array":
        result.source_format = "json"
        yield from _array_items(events, limits)
        return
    if first[0] != "start_map":
        raise ValueError("expected a GeoJSON FeatureCollection or a JSON array of records")
    result.source_format = "geojson"
    doc_type, features_seen = None, False
    for event, value in events:
        if event == "end_map":
            break
        key = value
        start = next(events)
        if key == "features":
            if start[0] != "start_array":
                raise ValueError("GeoJSON 'features' is not an array")
            features_seen = True
            for number, feature, why, raw in _array_items(events, limits):
                yield number, (_geojson_feature(feature) if feature is not None else None), why, raw
        elif key == "type":
            doc_type = start[1]
            if start[0] in ("start_map", "start_array"):
                _skip(events)
        elif start[0] in ("start_map", "start_array"):
            _skip(events)
    if doc_type != "FeatureCollection" or not features_seen:
        raise ValueError("expected a GeoJSON FeatureCollection (type and features) or a JSON array of records")


def _jsonl_items(handle: IO[bytes], limits: IngestLimits) -> Iterator[Item]:
    """One record per non-blank line; a line over the record limit is skipped to its end and rejected."""
    number = 0
    while True:
        line = handle.readline(limits.max_record_bytes + 1)
        if not line:
            return
        if len(line) > limits.max_record_bytes and not line.endswith(b"\n"):
            while (rest := handle.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass
            number += 1
            why = f"record longer than {limits.max_record_bytes:,} bytes (DAS_INGEST__MAX_RECORD_BYTES)"
            yield number, None, why, line[:MALFORMED_RAW_CHARS].decode("utf-8", "replace")
            continue
        if not line.strip():
            continue
        number += 1
        record, why = _jsonl_record(line, limits)
        yield number, record, why, "" if record is not None else line.decode("utf-8", "replace").rstrip("\n")


def _jsonl_record(line: bytes, limits: IngestLimits) -> tuple[dict[str, Any] | None, str]:
    text = line.decode("utf-8-sig", errors="replace").strip()
    try:
        # json.loads recurses: only hand it lines that cannot nest deeper than the limit.
        if line.count(b"{") + line.count(b"[") <= limits.max_depth:
            value = json.loads(text)
        else:
            events = iter(ijson.basic_parse(io.BytesIO(text.encode()), use_float=True))
            value = _build(events, next(events), limits, 0)
    except RecordRejected as exc:
        return None, str(exc)
    except (ValueError, StopIteration) as exc:  # JSON syntax, over-long numbers
        return None, f"invalid JSON: {str(exc)[:300]}"
    if not isinstance(value, dict):
        return None, "not a JSON object"
    return value, ""


def _write_items(
    result: ParsedFile,
    output: Path,
    items: Callable[[], Iterator[Item]],
    bad: _MalformedWriter,
    limits: IngestLimits,
) -> None:
    """Two streaming passes over the records: their field names, then the rows (memory: one batch)."""
    keys: dict[str, None] = {}
    for _, record, _, _ in items():
        if record is None:
            continue
        try:
            for key in _flatten(record, limits):
                keys.setdefault(key)
        except RecordRejected:
            continue  # rejected again, with its reason, in the second pass
        if len(keys) > limits.max_fields:
            raise LimitExceeded(f"more than {limits.max_fields} distinct fields (DAS_INGEST__MAX_FIELDS)")
    names, result.columns = _unique_names(list(keys))
    writer = _Writer(output, names, list(keys))
    chunk: list[tuple[int, dict[str, str | None]]] = []

    def flush() -> None:
        if chunk:
            table = pa.table([pa.array([r.get(k) for _, r in chunk], pa.string()) for k in keys], names=names)
            writer.write(table, pa.array([n for n, _ in chunk], pa.int64()))
            chunk.clear()

    try:
        for number, record, why, raw in items():
            flat = None
            if record is not None:
                try:
                    flat = _flatten(record, limits)
                except RecordRejected as exc:
                    why = str(exc)
            if flat is None:
                bad.add(number, raw if record is None else _safe_json(record), why)
                continue
            chunk.append((number, flat))
            if len(chunk) >= BATCH_ROWS:
                flush()
        flush()
    finally:
        writer.close()
    result.output = output
    result.rows_parsed = writer.rows


def _parse_jsonl(landed: LandedFile, output: Path, bad: _MalformedWriter, limits: IngestLimits) -> ParsedFile:
    result = ParsedFile(landed, "jsonl")

    def items() -> Iterator[Item]:
        with open_limited(landed, limits) as handle:
            yield from _jsonl_items(handle, limits)

    if not any(True for _ in items()):
        result.file_error = ("empty_file", f"{landed.path.name} has no records")
        return result
    _write_items(result, output, items, bad, limits)
    return result


def _parse_json_document(landed: LandedFile, output: Path, bad: _MalformedWriter, limits: IngestLimits) -> ParsedFile:
    result = ParsedFile(landed, landed.format_hint)
    with open_limited(landed, limits) as handle:
        if not handle.read(_SNIFF_BYTES).strip():
            result.file_error = ("empty_file", f"{landed.path.name} is empty: nothing to ingest")
            return result

    def items() -> Iterator[Item]:
        with open_limited(landed, limits) as handle:
            yield from _document_items(handle, limits, result)

    try:
        if not any(True for _ in items()):
            result.file_error = ("empty_file", f"{landed.path.name} has no records")
            return result
        _write_items(result, output, items, bad, limits)
    except (ValueError, ijson.JSONError) as exc:
        result.file_error = ("unreadable_file", f"{landed.path.name} is not valid JSON: {str(exc)[:300]}")
    return result
