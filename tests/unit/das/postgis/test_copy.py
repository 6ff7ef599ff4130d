"""Pure helpers behind PostGIS publishing: Arrow shaping, text[] literals, evidence flattening, boundaries."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa
import pytest
import shapely

from das.config import SAMPLES_DIR
from das.postgis import boundary_rows, flatten_evidence, to_arrow
from das.postgis.copy import pg_array_literal as _pg_array_literal
from schemas.reference import BOUNDARY_KINDS
from schemas.tables import GOLD_FLAGS, SILVER_HOTLIST

pytestmark = pytest.mark.unit


def test_text_array_literals_quote_and_escape_every_element() -> None:
    lists = pa.array([["a", "b"], [], None, ['say "hi"', "back\\slash", "a,b", "{x}"]], pa.list_(pa.string()))
    assert _pg_array_literal(lists).to_pylist() == [
        '{"a","b"}',
        "{}",
        None,
        '{"say \\"hi\\"","back\\\\slash","a,b","{x}"}',
    ]


def test_text_array_literal_of_a_slice_uses_only_the_slice() -> None:
    lists = pa.array([["a"], ["b", "c"], ["d"]], pa.list_(pa.string())).slice(1, 1)
    assert _pg_array_literal(lists).to_pylist() == ['{"b","c"}']


def _hotlist_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "hotlist_entry_id": ["h1"],
            "plate": ["AB12CDE"],
            "plate_raw": ["AB12 CDE"],
            "list_name": ["default"],
            "reason": [None],
            "priority": ["high"],
            "valid_from": [pd.Timestamp("2024-03-01 10:00:00.123456789")],
            "valid_to": [pd.NaT],
            "source_file": ["f.csv"],
            "source_checksum": ["abc"],  # lake-only: dropped
            "row_number": [1],
            "ingest_run_id": ["run1"],
            "ingested_at": [pd.Timestamp("2024-03-01")],
        }
    )


def test_to_arrow_keeps_served_columns_in_order_with_declared_types() -> None:
    arrow = to_arrow(SILVER_HOTLIST, _hotlist_frame())
    assert arrow.column_names == [
        "hotlist_entry_id",
        "plate",
        "plate_raw",
        "list_name",
        "reason",
        "priority",
        "valid_from",
        "valid_to",
        "source_file",
        "ingest_run_id",
    ]
    assert arrow.schema.field("valid_from").type == pa.timestamp("us", tz="UTC")
    assert arrow.column("valid_from")[0].as_py() == datetime(2024, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert arrow.column("valid_to")[0].as_py() is None


def test_to_arrow_names_the_missing_columns() -> None:
    frame = _hotlist_frame().drop(columns=["priority", "plate_raw"])
    with pytest.raises(ValueError, match=r"lacks columns \['plate_raw', 'priority'\]"):
        to_arrow(SILVER_HOTLIST, frame)


def _flags(evidence: list) -> pa.Table:  # type: ignore[type-arg]
    at = datetime(2024, 3, 1, tzinfo=UTC)
    n = len(evidence)
    return pa.table(
        {
            "flag_id": [f"f{i}" for i in range(n)],
            "flag_type": ["convoy"] * n,
            "score": [0.5] * n,
            "subject": ["AB12CDE"] * n,
            "related": [["X1"]] * n,
            "summary": ["s"] * n,
            "window_start": [at] * n,
            "window_end": [at] * n,
            "longitude": [None] * n,
            "latitude": [None] * n,
            "evidence": pa.array(evidence, GOLD_FLAGS.column("evidence").arrow_type()),
            "status": ["new"] * n,
            "detected_at": [at] * n,
            "detector_version": ["v1"] * n,
        }
    )


def _item(ref: str) -> dict:  # type: ignore[type-arg]
    return {
        "kind": "read",
        "ref_id": ref,
        "camera_id": "C1",
        "plate": "AB12CDE",
        "at": datetime(2024, 3, 1, 8, tzinfo=UTC),
        "longitude": -0.1,
        "latitude": 51.5,
        "detail": "d",
    }


def test_flatten_evidence_numbers_items_within_each_flag_from_zero() -> None:
    flags = _flags([[_item("r1"), _item("r2")], [], [_item("r3")]]).slice(0, 3)
    rows = flatten_evidence(flags).select(["flag_id", "evidence_no", "ref_id"]).to_pylist()
    assert rows == [
        {"flag_id": "f0", "evidence_no": 0, "ref_id": "r1"},
        {"flag_id": "f0", "evidence_no": 1, "ref_id": "r2"},
        {"flag_id": "f2", "evidence_no": 0, "ref_id": "r3"},
    ]


def test_flatten_evidence_of_a_sliced_table() -> None:
    flags = _flags([[_item("r1")], [_item("r2"), _item("r3")]]).slice(1, 1)
    rows = flatten_evidence(flags).select(["flag_id", "evidence_no", "ref_id"]).to_pylist()
    assert rows == [
        {"flag_id": "f1", "evidence_no": 0, "ref_id": "r2"},
        {"flag_id": "f1", "evidence_no": 1, "ref_id": "r3"},
    ]


@pytest.mark.parametrize(("kind", "count"), [("borough", 33), ("lsoa", 327)])
def test_bundled_boundary_rows_are_valid_multipolygons_in_4326(kind: str, count: int) -> None:
    boundary = BOUNDARY_KINDS[kind]
    rows, _ = boundary_rows(boundary, SAMPLES_DIR / (boundary.sample or ""))
    assert rows.num_rows == count
    key = boundary.table.key[0]
    assert rows.column(key).null_count == 0 and len(set(rows.column(key).to_pylist())) == count
    for hex_wkb in rows.column("geom").to_pylist()[:40]:
        geom = shapely.from_wkb(hex_wkb)
        assert geom.geom_type == "MultiPolygon" and geom.is_valid
        assert shapely.get_srid(geom) == 4326
        minx, miny, maxx, maxy = geom.bounds
        assert -0.6 < minx < maxx < 0.4 and 51.2 < miny < maxy < 51.8  # London, lon/lat order
