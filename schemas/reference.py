"""Reference boundary tables, served in PostGIS only (they never pass through the lake).

They live in their own registry so code that walks ``schemas.tables.REGISTRY`` (Delta tables, quality
suites) never meets a polygon column it cannot represent.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.model import Column, PolygonGeometry, Registry, Table

REFERENCE_REGISTRY = Registry()
C = Column

_AREA_4326 = PolygonGeometry("geom", 4326, "MULTIPOLYGON")

BOROUGHS = REFERENCE_REGISTRY.add(
    Table(
        name="boroughs",
        layer="reference",
        description="The 33 London local authorities (32 boroughs and the City), simplified outlines",
        columns=(
            C("gss_code", "string", False, "ONS GSS code, e.g. E09000001"),
            C("name", "string", False, "Borough name"),
            C("hectares", "double", True, "Area in hectares"),
        ),
        key=("gss_code",),
        shapes=(_AREA_4326,),
        postgis_name="boroughs",
    )
)

LSOAS = REFERENCE_REGISTRY.add(
    Table(
        name="lsoas",
        layer="reference",
        description="2011 Lower-layer Super Output Areas (sample: City of London, Barking and Dagenham, Barnet)",
        columns=(
            C("lsoa_code", "string", False, "LSOA 2011 code, e.g. E01000001"),
            C("lsoa_name", "string", False, "LSOA 2011 name"),
            C("lad_code", "string", False, "GSS code of the local authority the LSOA lies in"),
        ),
        key=("lsoa_code",),
        shapes=(_AREA_4326,),
        postgis_name="lsoas",
        postgis_indexes=(("lad_code",),),
    )
)


@dataclass(frozen=True)
class BoundarySource:
    """Where a boundary table's rows come from: a bundled GeoJSON file (by name, in the reference-data folder
    the adapter knows) and the feature property behind each column."""

    table: Table
    file_name: str
    properties: dict[str, str]  # column name -> GeoJSON feature property


BOUNDARY_SOURCES: tuple[BoundarySource, ...] = (
    BoundarySource(
        BOROUGHS,
        "london_boroughs_simplified.geojson",
        {"gss_code": "gss_code", "name": "name", "hectares": "hectares"},
    ),
    BoundarySource(
        LSOAS,
        "london_lsoa2011_city_barking_barnet.geojson",
        {"lsoa_code": "LSOA11CD", "lsoa_name": "LSOA11NM", "lad_code": "LAD_CODE"},
    ),
)
