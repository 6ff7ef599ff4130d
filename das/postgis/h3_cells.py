"""The served H3 cell outlines (``das.h3_cells``): every cell a publish brings is added, in the same transaction.

PostGIS here has no H3 extension, so the outlines are computed with h3-py from the cells present in the published
rows (an ``h3_cell`` column, or flag evidence of kind ``cell``). Cells are only added: a cell's outline never
changes, and cells at another resolution (after DAS_H3_RESOLUTION changed) are told apart by ``resolution``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from das.postgis.connection import qualified, quote_ident
from das.postgis.copy import copy_arrow, to_arrow
from schemas.reference import H3_CELLS

CELL_COLUMN = "h3_cell"


def cells_in(arrow: pa.Table) -> set[str]:
    """The distinct cells of published rows: their ``h3_cell`` column, or evidence items of kind ``cell``."""
    if CELL_COLUMN in arrow.column_names:
        return {c for c in pc.unique(arrow.column(CELL_COLUMN)).to_pylist() if c}
    if {"kind", "ref_id"} <= set(arrow.column_names):
        cells = arrow.filter(pc.equal(arrow.column("kind"), "cell")).column("ref_id")
        return {c for c in pc.unique(cells).to_pylist() if c}
    return set()


def cell_rows(cells: Iterable[str]) -> pa.Table:
    """``das.h3_cells`` rows: each valid cell with its resolution and outline (hex EWKB polygon, EPSG:4326)."""
    import h3
    import shapely
    from shapely.geometry import Polygon

    valid = sorted(c for c in set(cells) if h3.is_valid_cell(c))
    srid = H3_CELLS.shapes[0].srid
    outlines = [
        shapely.to_wkb(
            shapely.set_srid(Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]), srid),
            hex=True,
            include_srid=True,
        )
        for c in valid
    ]
    rows = to_arrow(H3_CELLS, pa.table({"h3_cell": valid, "resolution": [h3.get_resolution(c) for c in valid]}))
    return rows.append_column(H3_CELLS.shapes[0].name, pa.array(outlines, pa.string()))


def add_cells(cur: Any, cells: set[str]) -> int:
    """Add the outlines of ``cells`` that are not served yet (the caller's transaction); returns cells added.

    Concurrent publishers may bring the same cell: ON CONFLICT DO NOTHING keeps the first."""
    if not cells:
        return 0
    target = qualified(H3_CELLS.postgis_name or "")
    cur.execute(f"SELECT h3_cell FROM {target} WHERE h3_cell = ANY(%s)", (sorted(cells),))
    missing = cells - {c for (c,) in cur.fetchall()}
    rows = cell_rows(missing)
    if rows.num_rows == 0:
        return 0
    staging = quote_ident("_staging_h3_cells")
    cur.execute(f"CREATE TEMP TABLE {staging} (LIKE {target}) ON COMMIT DROP")
    copy_arrow(cur, staging, rows)
    cur.execute(f"INSERT INTO {target} SELECT * FROM {staging} ORDER BY h3_cell ON CONFLICT DO NOTHING")
    added = int(cur.rowcount)
    cur.execute(f"DROP TABLE {staging}")
    return added
