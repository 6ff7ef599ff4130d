"""GeoJSON builders for the API's responses. Pure functions over the rows das.postgis.serving returns."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def point(lon: float | None, lat: float | None) -> dict[str, Any] | None:
    if lon is None or lat is None:
        return None
    return {"type": "Point", "coordinates": [lon, lat]}


def feature(
    geometry: dict[str, Any] | None, properties: dict[str, Any], feature_id: str | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "Feature", "geometry": geometry, "properties": jsonable(properties)}
    if feature_id is not None:
        out["id"] = feature_id
    return out


def point_feature(row: dict[str, Any], id_field: str | None = None) -> dict[str, Any]:
    """A row with longitude/latitude as a Point feature; the other fields are its properties."""
    props = {k: v for k, v in row.items() if k not in ("longitude", "latitude")}
    return feature(point(row.get("longitude"), row.get("latitude")), props, row.get(id_field) if id_field else None)


def shape_feature(row: dict[str, Any], geometry_field: str, id_field: str | None = None) -> dict[str, Any]:
    """A row whose ``geometry_field`` holds GeoJSON text (ST_AsGeoJSON) as a feature."""
    text = row.get(geometry_field)
    props = {k: v for k, v in row.items() if k != geometry_field}
    return feature(json.loads(text) if text else None, props, row.get(id_field) if id_field else None)


def collection(features: Iterable[dict[str, Any]], **members: Any) -> dict[str, Any]:
    """A FeatureCollection; ``members`` (next_cursor, count) are foreign members beside the features."""
    items = list(features)
    return {"type": "FeatureCollection", "features": items, "count": len(items), **jsonable(members)}
