"""H3 cell outlines computed with h3-py for the cells a publish brings."""

from __future__ import annotations

import h3
import pyarrow as pa
import pytest
import shapely
from shapely.geometry import Point

from das.postgis.h3_cells import cell_rows, cells_in

pytestmark = pytest.mark.unit

CELL = h3.latlng_to_cell(51.508, -0.128, 9)


def test_cells_come_from_h3_cell_columns_and_cell_evidence() -> None:
    assert cells_in(pa.table({"h3_cell": [CELL, None, CELL], "x": [1, 2, 3]})) == {CELL}
    evidence = pa.table({"kind": ["cell", "crime", "cell"], "ref_id": [CELL, "k-1", None]})
    assert cells_in(evidence) == {CELL}
    assert cells_in(pa.table({"plate": ["AB12CDE"]})) == set()


def test_outlines_are_the_cells_polygons_in_lon_lat() -> None:
    parent = h3.cell_to_parent(CELL, 8)
    rows = cell_rows([CELL, parent, "not-a-cell", CELL])
    assert rows.column("h3_cell").to_pylist() == sorted([CELL, parent])  # invalid ones are left out
    assert rows.column("resolution").to_pylist() == [h3.get_resolution(c) for c in sorted([CELL, parent])]
    outline = shapely.from_wkb(rows.column("geom")[rows.column("h3_cell").to_pylist().index(CELL)].as_py())
    assert shapely.get_srid(outline) == 4326 and outline.geom_type == "Polygon" and outline.is_valid
    lat, lon = h3.cell_to_latlng(CELL)
    assert outline.contains(Point(lon, lat))
    assert len(outline.exterior.coords) == 7  # a hexagon, closed
