"""Reference boundaries (boroughs, LSOAs, wards): read from GeoJSON or GeoPackage, reprojected, loaded into PostGIS.

``load_boundaries`` loads a force's own file for one kind; ``load_reference_data`` (run after every migration) loads
the bundled samples for the kinds that still hold their sample, so a force's boundaries are never overwritten. The
file is read and checked in full before the database is touched, and each kind is replaced in one transaction:
readers see the old areas or the new ones, and a bad file changes nothing.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from das.config import SAMPLES_DIR, Settings
from das.errors import BoundaryFileError
from das.postgis.connection import qualified, quote_ident, transaction
from das.postgis.copy import copy_arrow, to_arrow
from schemas.reference import BOROUGHS, BOUNDARY_KINDS, BOUNDARY_LOADS, BOUNDARY_SRID, BoundaryKind

SUPPORTED = "a GeoJSON (.geojson) or GeoPackage (.gpkg) file of polygons"
_POLYGON_TYPES = ("Polygon", "MultiPolygon")


def boundary_kind(name: str) -> BoundaryKind:
    try:
        return BOUNDARY_KINDS[name]
    except KeyError:
        raise BoundaryFileError(f"unknown boundary kind {name!r}; choose one of {', '.join(BOUNDARY_KINDS)}") from None


def match_fields(kind: BoundaryKind, properties: list[str], path: Path) -> dict[str, str]:
    """Column -> the file's property that fills it (first accepted name that matches, case-insensitive)."""
    chosen: dict[str, str] = {}
    for column, accepted in kind.fields.items():
        for pattern in accepted:
            found = [p for p in properties if re.fullmatch(pattern, p, flags=re.IGNORECASE)]
            if found:
                chosen[column] = found[0]
                break
    missing = [c for c in kind.required if c not in chosen]
    if missing:
        wanted = "; ".join(f"{c}: one of {', '.join(kind.fields[c])}" for c in missing)
        raise BoundaryFileError(
            f"{path}: no recognisable field for {', '.join(missing)} of {kind.name} boundaries (it has "
            f"{', '.join(properties) or 'no fields'}); expected {wanted}. Rename the field, e.g. with "
            f'ogr2ogr -sql "SELECT <field> AS {kind.fields[missing[0]][0]}, ... FROM <layer>"'
        )
    return chosen


def as_multipolygon(geometry: Any, position: int, path: Path) -> Any:
    """A valid 2-D MultiPolygon from a feature's (multi)polygon; anything else is an error naming the feature."""
    import shapely
    from shapely.geometry import MultiPolygon, Polygon

    if geometry is None or geometry.is_empty:
        raise BoundaryFileError(f"{path}: feature {position} has no geometry; every area needs its polygon")
    if geometry.geom_type not in _POLYGON_TYPES:
        raise BoundaryFileError(
            f"{path}: feature {position} is a {geometry.geom_type}, not a polygon; boundaries must be {SUPPORTED}"
        )
    geometry = shapely.force_2d(geometry)
    if not geometry.is_valid:
        geometry = shapely.make_valid(geometry)
    parts = [g for g in getattr(geometry, "geoms", [geometry]) if isinstance(g, Polygon | MultiPolygon)]
    polygons = [p for g in parts for p in (g.geoms if isinstance(g, MultiPolygon) else [g])]
    return MultiPolygon(polygons)


def _layer(path: Path) -> str | None:
    import pyogrio

    try:
        layers = [(str(name), str(kind)) for name, kind in pyogrio.list_layers(path)]
    except Exception as exc:
        raise BoundaryFileError(f"cannot read {path} ({_first_line(exc)}); give {SUPPORTED}") from exc
    if len(layers) <= 1:
        return None
    polygonal = [name for name, kind in layers if "Polygon" in kind]
    if len(polygonal) == 1:
        return polygonal[0]
    raise BoundaryFileError(
        f"{path} has {len(layers)} layers ({', '.join(n for n, _ in layers)}) and not exactly one of polygons; "
        "export the boundary layer alone (ogr2ogr out.gpkg in.gpkg <layer>)"
    )


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def boundary_rows(kind: BoundaryKind, path: Path) -> tuple[pa.Table, str]:
    """The rows of ``kind``'s table read from ``path`` (declared columns, then ``geom`` as hex EWKB in EPSG:4326),
    and the file's CRS. Raises BoundaryFileError naming the file and the fix when it cannot be used."""
    import pyogrio
    import shapely
    from pyproj import CRS, Transformer

    if not path.is_file():
        raise BoundaryFileError(f"{path} does not exist or is not a file; give {SUPPORTED}")
    layer = _layer(path)
    try:
        meta, data = pyogrio.read_arrow(path, layer=layer)
    except Exception as exc:
        raise BoundaryFileError(f"cannot read {path} ({_first_line(exc)}); give {SUPPORTED}") from exc
    if data.num_rows == 0:
        raise BoundaryFileError(f"{path} has no features; give a file with one polygon per area")
    if not meta.get("crs"):
        raise BoundaryFileError(
            f"{path} has no coordinate reference system; assign the one it is in, e.g. "
            f"ogr2ogr -a_srs EPSG:27700 fixed.gpkg {path.name}"
        )
    source_crs = CRS.from_user_input(meta["crs"])
    fields = match_fields(kind, [str(f) for f in meta["fields"]], path)

    geometry_column = next(n for n in data.column_names if n not in meta["fields"])
    geometries = shapely.from_wkb(data.column(geometry_column).to_numpy(zero_copy_only=False))
    target_crs = CRS.from_epsg(BOUNDARY_SRID)
    if not source_crs.equals(target_crs, ignore_axis_order=True):
        transformer = Transformer.from_crs(source_crs, target_crs, always_xy=True)
        geometries = shapely.transform(geometries, lambda xy: _stacked(transformer.transform(xy[:, 0], xy[:, 1])))
    shapes = [shapely.set_srid(as_multipolygon(g, i + 1, path), BOUNDARY_SRID) for i, g in enumerate(geometries)]

    columns: dict[str, list[Any]] = {
        c.name: data.column(fields[c.name]).to_pylist() if c.name in fields else [None] * data.num_rows
        for c in kind.table.columns
    }
    for name in kind.required:
        blank = sum(1 for v in columns[name] if v is None or str(v).strip() == "")
        if blank:
            raise BoundaryFileError(
                f"{path}: {blank} feature(s) have no {fields[name]} (for {name}); every area needs one"
            )
    for name in kind.table.key:
        values = [str(v) for v in columns[name]]
        if len(set(values)) != len(values):
            repeated = sorted({v for v in values if values.count(v) > 1})[:3]
            raise BoundaryFileError(
                f"{path}: {fields[name]} repeats ({', '.join(repeated)}); give one feature per area "
                '(dissolve multi-part areas first, e.g. ogr2ogr -dialect sqlite -sql "SELECT ST_Union(geometry)...")'
            )
    for column in kind.table.columns:
        if column.type == "string":
            columns[column.name] = [None if v is None else str(v) for v in columns[column.name]]
    arrow = to_arrow(kind.table, pa.table({c: pa.array(v) for c, v in columns.items()}))
    geom = kind.table.shapes[0]
    hex_wkb = [shapely.to_wkb(s, hex=True, include_srid=True) for s in shapes]
    return arrow.append_column(geom.name, pa.array(hex_wkb, pa.string())), source_crs.to_string()


def _stacked(xy: tuple[Any, Any]) -> Any:
    import numpy as np

    return np.column_stack(xy)


def _checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _replace(cur: Any, kind: BoundaryKind, rows: pa.Table, source: str, checksum: str, crs: str, bundled: bool) -> int:
    """Replace ``kind``'s areas with ``rows`` and record the load (the caller's transaction)."""
    table = kind.table.postgis_name or ""
    target = qualified(table)
    cur.execute(f"DELETE FROM {target}")
    copied = copy_arrow(cur, target, rows)
    if "lad_code" in kind.table.column_names and kind.table is not BOROUGHS:
        # Areas whose file gave no local authority get the loaded borough that holds them.
        cur.execute(
            f"UPDATE {target} AS a SET lad_code = b.gss_code FROM {qualified(BOROUGHS.postgis_name or '')} AS b "
            "WHERE a.lad_code IS NULL AND ST_Contains(b.geom, ST_PointOnSurface(a.geom))"
        )
    loads = qualified(BOUNDARY_LOADS.postgis_name or "")
    cur.execute(f"DELETE FROM {loads} WHERE {quote_ident('kind')} = %s", (kind.name,))
    record = {
        "kind": [kind.name],
        "table_name": [table],
        "source": [source],
        "source_checksum": [checksum],
        "source_crs": [crs],
        "features": [copied],
        "bundled": [bundled],
        "loaded_at": [datetime.now(UTC)],
    }
    copy_arrow(cur, loads, to_arrow(BOUNDARY_LOADS, pa.table(record)))
    return copied


def load_boundaries(settings: Settings, path: Path, kind_name: str) -> int:
    """Replace the ``kind_name`` boundaries with the areas of ``path`` (GeoJSON or GeoPackage, any CRS), in one
    transaction; returns the areas loaded. The analyst views use them at once; migrations leave them in place."""
    kind = boundary_kind(kind_name)
    path = Path(path).expanduser().resolve()
    rows, crs = boundary_rows(kind, path)
    with transaction(settings) as conn, conn.cursor() as cur:
        return _replace(cur, kind, rows, str(path), _checksum(path), crs, bundled=False)


def load_reference_data(settings: Settings, folder: Path = SAMPLES_DIR) -> dict[str, int]:
    """(Re)load the bundled samples of the kinds that hold no force's boundaries; idempotent, one transaction."""
    counts: dict[str, int] = {}
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT kind FROM {qualified(BOUNDARY_LOADS.postgis_name or '')} WHERE NOT bundled")
        supplied = {kind for (kind,) in cur.fetchall()}
        for kind in BOUNDARY_KINDS.values():
            if kind.sample is None or kind.name in supplied:
                continue
            path = folder / kind.sample
            rows, crs = boundary_rows(kind, path)
            counts[kind.table.postgis_name or ""] = _replace(
                cur, kind, rows, kind.sample, _checksum(path), crs, bundled=True
            )
    return counts
