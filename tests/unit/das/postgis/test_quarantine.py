"""The quarantine summary: rejected rows counted by source, reason, file and day of ingest."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa
import pytest

from das.postgis.quarantine import quarantine_counts
from schemas.operations import QUARANTINE_COUNTS
from schemas.tables import QUARANTINE

pytestmark = pytest.mark.unit


def _rejected(rows: list[tuple[str, str, str, date, bool, int]]) -> pa.Table:
    names = ["source", "reason_code", "source_file", "ingest_date", "whole_file", "ingested_at"]
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in names]
    data = {n: list(c) for n, c in zip(names, columns, strict=True)}
    data["ingested_at"] = [datetime(2024, 4, 2, h, tzinfo=UTC) for h in data["ingested_at"]]
    data["raw_record"] = ["{}"] * len(rows)  # never read by the summary
    schema = QUARANTINE.arrow_schema()
    return pa.table({n: pa.array(v, schema.field(n).type) for n, v in data.items()})


def test_rows_are_counted_per_source_reason_file_and_day() -> None:
    d1, d2 = date(2024, 4, 2), date(2024, 4, 3)
    counts = quarantine_counts(
        _rejected(
            [
                ("anpr", "invalid_plate", "a.csv", d1, False, 3),
                ("anpr", "invalid_plate", "a.csv", d1, False, 1),
                ("anpr", "invalid_plate", "a.csv", d2, False, 5),
                ("anpr", "null_island", "a.csv", d1, False, 2),
                ("crimes", "empty_file", "b.csv", d1, True, 4),
            ]
        )
    )
    assert counts.column_names == [c.name for c in QUARANTINE_COUNTS.columns]
    assert [(r["reason_code"], r["ingest_date"], r["rows"], r["whole_file"]) for r in counts.to_pylist()] == [
        ("invalid_plate", d1, 2, False),
        ("invalid_plate", d2, 1, False),
        ("null_island", d1, 1, False),
        ("empty_file", d1, 1, True),
    ]
    first = counts.to_pylist()[0]
    assert (first["first_ingested_at"].hour, first["last_ingested_at"].hour) == (1, 3)


def test_no_rejected_rows_give_no_counts() -> None:
    assert quarantine_counts(_rejected([])).num_rows == 0
