"""Reference boundaries (boroughs, LSOAs): loaded from GeoJSON into their PostGIS tables."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from das.config import SAMPLES_DIR, Settings
from das.postgis.connection import qualified, transaction
from das.postgis.copy import copy_arrow, to_arrow
from schemas.reference import BOUNDARY_SOURCES, BoundarySource


def boundary_rows(source: BoundarySource, folder: Path = SAMPLES_DIR) -> pa.Table:
    """The rows of one boundary table from its GeoJSON: declared columns plus ``geom`` as hex EWKB."""
    import shapely
    from shapely.geometry import MultiPolygon, Polygon, shape

    features = json.loads((folder / source.file_name).read_text())["features"]
    geom_column = source.table.shapes[0]
    geoms: list[str] = []
    for feature in features:
        geometry = shape(feature["geometry"])
        if not geometry.is_valid:
            geometry = shapely.make_valid(geometry)
        polygons = [g for g in getattr(geometry, "geoms", [geometry]) if isinstance(g, Polygon | MultiPolygon)]
        parts = [p for g in polygons for p in (g.geoms if isinstance(g, MultiPolygon) else [g])]
        multi = shapely.set_srid(MultiPolygon(parts), geom_column.srid)
        geoms.append(shapely.to_wkb(multi, hex=True, include_srid=True))
    columns = {
        column: [feature["properties"].get(prop) for feature in features] for column, prop in source.properties.items()
    }
    arrow = to_arrow(source.table, pa.table(columns))
    return arrow.append_column(geom_column.name, pa.array(geoms, pa.string()))


def load_reference_data(settings: Settings) -> dict[str, int]:
    """(Re)load the boundary tables from the bundled GeoJSON samples; idempotent, one transaction."""
    counts: dict[str, int] = {}
    with transaction(settings) as conn, conn.cursor() as cur:
        for source in BOUNDARY_SOURCES:
            target = qualified(source.table.postgis_name or "")
            cur.execute(f"DELETE FROM {target}")
            counts[source.table.postgis_name or ""] = copy_arrow(cur, target, boundary_rows(source))
    return counts
