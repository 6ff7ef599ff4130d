"""Reading boundary files: ONS field names of any vintage, reprojection, and refusals that name the file and the fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Polygon, box

from das.errors import BoundaryFileError
from das.postgis.boundaries import as_multipolygon, boundary_kind, boundary_rows, match_fields
from schemas.reference import BOUNDARY_KINDS

pytestmark = pytest.mark.unit

HERE = Path("boundaries.gpkg")


@pytest.mark.parametrize(
    ("kind", "properties", "expected"),
    [
        ("lsoa", ["FID", "LSOA21CD", "LSOA21NM", "GlobalID"], {"lsoa_code": "LSOA21CD", "lsoa_name": "LSOA21NM"}),
        (
            "lsoa",
            ["LSOA11CD", "LSOA11NM", "LAD_CODE"],
            {"lsoa_code": "LSOA11CD", "lsoa_name": "LSOA11NM", "lad_code": "LAD_CODE"},
        ),
        (
            "ward",
            ["wd23cd", "wd23nm", "lad23cd"],
            {"ward_code": "wd23cd", "ward_name": "wd23nm", "lad_code": "lad23cd"},
        ),
        ("borough", ["LAD24CD", "LAD24NM", "LAD24NMW"], {"gss_code": "LAD24CD", "name": "LAD24NM"}),
    ],
)
def test_ons_fields_of_any_vintage_are_recognised(kind: str, properties: list[str], expected: dict[str, str]) -> None:
    assert match_fields(BOUNDARY_KINDS[kind], properties, HERE) == expected


def test_a_file_without_a_code_field_names_the_file_the_field_and_the_fix() -> None:
    with pytest.raises(BoundaryFileError) as refused:
        match_fields(BOUNDARY_KINDS["lsoa"], ["id", "label"], HERE)
    message = str(refused.value)
    assert "boundaries.gpkg" in message and "lsoa_code" in message and "LSOA" in message and "ogr2ogr" in message


def test_unknown_kind_lists_the_kinds() -> None:
    with pytest.raises(BoundaryFileError, match="borough, lsoa, ward"):
        boundary_kind("county")


def test_polygons_become_valid_multipolygons_and_other_geometries_are_refused() -> None:
    bowtie = Polygon([(0, 0), (1, 1), (1, 0), (0, 1), (0, 0)])  # self-intersecting
    fixed = as_multipolygon(bowtie, 1, HERE)
    assert isinstance(fixed, MultiPolygon) and fixed.is_valid and fixed.area == pytest.approx(0.5)
    assert as_multipolygon(shapely.force_3d(box(0, 0, 1, 1)), 1, HERE).has_z is False
    with pytest.raises(BoundaryFileError, match="feature 7 is a LineString, not a polygon"):
        as_multipolygon(shapely.LineString([(0, 0), (1, 1)]), 7, HERE)
    with pytest.raises(BoundaryFileError, match="feature 2 has no geometry"):
        as_multipolygon(None, 2, HERE)


def test_a_shapefile_like_gpkg_in_bng_is_read_in_lon_lat(tmp_path: Path) -> None:
    import pyogrio.raw

    square = box(530_000, 180_000, 530_400, 180_300)
    path = tmp_path / "lsoa.gpkg"
    pyogrio.raw.write(
        path,
        geometry=np.array([shapely.to_wkb(square)], dtype=object),
        field_data=[np.array(["E01000002"], dtype=object), np.array(["Somewhere 001B"], dtype=object)],
        fields=["LSOA21CD", "LSOA21NM"],
        crs="EPSG:27700",
        driver="GPKG",
        geometry_type="Polygon",
    )
    rows, crs = boundary_rows(BOUNDARY_KINDS["lsoa"], path)
    assert crs == "EPSG:27700"
    assert rows.column("lsoa_code").to_pylist() == ["E01000002"] and rows.column("lad_code").to_pylist() == [None]
    geom = shapely.from_wkb(rows.column("geom")[0].as_py())
    assert shapely.get_srid(geom) == 4326 and geom.geom_type == "MultiPolygon"
    e, n = shapely.get_coordinates(square).T
    expected = np.column_stack(Transformer.from_crs(27700, 4326, always_xy=True).transform(e, n))
    assert shapely.get_coordinates(geom) == pytest.approx(expected, abs=1e-9)


def test_missing_or_unreadable_files_are_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(BoundaryFileError, match=r"nothing\.geojson does not exist"):
        boundary_rows(BOUNDARY_KINDS["lsoa"], tmp_path / "nothing.geojson")
    junk = tmp_path / "junk.geojson"
    junk.write_text("not geojson at all")
    with pytest.raises(BoundaryFileError, match=r"cannot read .*junk.geojson .*GeoJSON \(.geojson\) or GeoPackage"):
        boundary_rows(BOUNDARY_KINDS["lsoa"], junk)
