"""Reference geometry served in PostGIS only (it never passes through the lake): boundaries and H3 cell outlines.

It lives in its own registry so code that walks ``schemas.tables.REGISTRY`` (Delta tables, quality suites) never
meets a polygon column it cannot represent.

Boundaries come in kinds (``BOUNDARY_KINDS``): a force loads its own with ``das load boundaries FILE --kind K``;
until it does, the bundled sample of that kind (if any) is the default. ``BOUNDARY_LOADS`` records what is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.model import Column, PolygonGeometry, Registry, Table

REFERENCE_REGISTRY = Registry()
C = Column

BOUNDARY_SRID = 4326  # every boundary is served in WGS84; files in any CRS are reprojected to it on load
_AREA = PolygonGeometry("geom", BOUNDARY_SRID, "MULTIPOLYGON")
_LAD_CODE = C(
    "lad_code",
    "string",
    True,
    "GSS code of the local authority the area lies in: from the file, else the loaded borough holding the area",
)

BOROUGHS = REFERENCE_REGISTRY.add(
    Table(
        name="boroughs",
        layer="reference",
        description="Local authorities (default: the 33 London boroughs and the City, simplified outlines)",
        columns=(
            C("gss_code", "string", False, "ONS GSS code, e.g. E09000001"),
            C("name", "string", False, "Borough name"),
            C("hectares", "double", True, "Area in hectares"),
        ),
        key=("gss_code",),
        shapes=(_AREA,),
        postgis_name="boroughs",
    )
)

LSOAS = REFERENCE_REGISTRY.add(
    Table(
        name="lsoas",
        layer="reference",
        description="Lower-layer Super Output Areas (default: 2011 LSOAs of City of London, Barking and Dagenham, "
        "Barnet)",
        columns=(
            C("lsoa_code", "string", False, "LSOA code (2011 or 2021), e.g. E01000001"),
            C("lsoa_name", "string", False, "LSOA name"),
            _LAD_CODE,
        ),
        key=("lsoa_code",),
        shapes=(_AREA,),
        postgis_name="lsoas",
        postgis_indexes=(("lad_code",),),
    )
)

WARDS = REFERENCE_REGISTRY.add(
    Table(
        name="wards",
        layer="reference",
        description="Electoral wards (none bundled: load a force's own with das load boundaries FILE --kind ward)",
        columns=(
            C("ward_code", "string", False, "ONS ward code, e.g. E05009288"),
            C("ward_name", "string", False, "Ward name"),
            _LAD_CODE,
        ),
        key=("ward_code",),
        shapes=(_AREA,),
        postgis_name="wards",
        postgis_indexes=(("lad_code",),),
    )
)

BOUNDARY_LOADS = REFERENCE_REGISTRY.add(
    Table(
        name="boundary_loads",
        layer="reference",
        description="What each boundary kind holds now: the bundled sample or the file a force loaded, and when",
        columns=(
            C("kind", "string", False, "borough | lsoa | ward"),
            C("table_name", "string", False, "The das table the kind fills"),
            C("source", "string", False, "The file loaded (for a bundled sample, its file name)"),
            C("source_checksum", "string", False, "SHA-256 of the file"),
            C("source_crs", "string", True, "The file's coordinate reference system, reprojected to EPSG:4326"),
            C("features", "long", False, "Areas loaded"),
            C("bundled", "boolean", False, "True for the bundled sample (migrations refresh it; a force's file stays)"),
            C("loaded_at", "timestamp", False, "When (UTC)"),
        ),
        key=("kind",),
        postgis_name="boundary_loads",
    )
)

H3_CELLS = REFERENCE_REGISTRY.add(
    Table(
        name="h3_cells",
        layer="reference",
        description="Outlines of the H3 cells present in crimes, cameras, reads and flag evidence (added on publish): "
        "join on h3_cell, e.g. crimes_per_cell_week or emerging_hotspot flags (subject)",
        columns=(
            C("h3_cell", "string", False, "H3 cell index (hex), as in the h3_cell columns"),
            C("resolution", "int", False, "H3 resolution of the cell (DAS_H3_RESOLUTION when it was published)"),
        ),
        key=("h3_cell",),
        shapes=(PolygonGeometry("geom", 4326, "POLYGON"),),
        postgis_name="h3_cells",
    )
)


@dataclass(frozen=True)
class BoundaryKind:
    """A kind of boundary: its table, the feature properties that may fill each column, and its bundled sample.

    ``fields`` maps a column to accepted property names, tried in order and matched case-insensitively as regular
    expressions, so ONS files of any vintage match (``LSOA11CD``, ``LSOA21CD``). A column with no match in a file
    is an error when the column is required; ``lad_code`` is then filled from the loaded boroughs.
    """

    name: str
    table: Table
    fields: dict[str, tuple[str, ...]]
    sample: str | None = None  # bundled GeoJSON (in the samples folder the adapter knows): the default

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.table.columns if not c.nullable)


_LAD_FIELDS = ("lad_code", "LAD_CODE", r"LAD\d{2}CD", "LAGSSCODE", r"LTLA\d{2}CD")

BOUNDARY_KINDS: dict[str, BoundaryKind] = {
    kind.name: kind
    for kind in (
        BoundaryKind(
            "borough",
            BOROUGHS,
            {
                "gss_code": ("gss_code", r"LAD\d{2}CD", r"CTYUA\d{2}CD", r"LTLA\d{2}CD", "code"),
                "name": ("name", r"LAD\d{2}NM", r"CTYUA\d{2}NM", r"LTLA\d{2}NM"),
                "hectares": ("hectares",),
            },
            sample="london_boroughs_simplified.geojson",
        ),
        BoundaryKind(
            "lsoa",
            LSOAS,
            {
                "lsoa_code": ("lsoa_code", r"LSOA\d{2}CD", "code"),
                "lsoa_name": ("lsoa_name", r"LSOA\d{2}NM", "name"),
                "lad_code": _LAD_FIELDS,
            },
            sample="london_lsoa2011_city_barking_barnet.geojson",
        ),
        BoundaryKind(
            "ward",
            WARDS,
            {
                "ward_code": ("ward_code", r"WD\d{2}CD", "gss_code", "code"),
                "ward_name": ("ward_name", r"WD\d{2}NM", "name"),
                "lad_code": _LAD_FIELDS,
            },
        ),
    )
}
