"""Coordinate validation and enrichment: British National Grid (EPSG:27700) and H3 cells, as Spark columns."""

from __future__ import annotations

from functools import lru_cache

import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StringType, StructField, StructType

BNG_STRUCT = StructType([StructField("easting", DoubleType()), StructField("northing", DoubleType())])


@lru_cache(maxsize=1)
def _to_bng():  # type: ignore[no-untyped-def]
    from pyproj import Transformer

    return Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)


def lonlat_to_bng(lon: pd.Series, lat: pd.Series) -> pd.DataFrame:
    easting, northing = _to_bng().transform(lon.to_numpy(dtype="float64"), lat.to_numpy(dtype="float64"))
    easting, northing = easting.copy(), northing.copy()
    missing = (lon.isna() | lat.isna()).to_numpy()
    easting[missing] = float("nan")
    northing[missing] = float("nan")
    return pd.DataFrame({"easting": easting, "northing": northing})


def lonlat_to_h3(lon: pd.Series, lat: pd.Series, resolution: int) -> pd.Series:
    import h3

    out = [
        h3.latlng_to_cell(y, x, resolution) if pd.notna(x) and pd.notna(y) else None
        for x, y in zip(lon.to_numpy(), lat.to_numpy(), strict=True)
    ]
    return pd.Series(out, dtype="object")


@F.pandas_udf(BNG_STRUCT)  # type: ignore[call-overload]
def _bng_udf(lon: pd.Series, lat: pd.Series) -> pd.DataFrame:
    return lonlat_to_bng(lon, lat)


def _h3_udf(resolution: int):  # type: ignore[no-untyped-def]
    @F.pandas_udf(StringType())  # type: ignore[call-overload]
    def h3_cell(lon: pd.Series, lat: pd.Series) -> pd.Series:
        return lonlat_to_h3(lon, lat, resolution)

    return h3_cell


def with_bng_and_h3(df: DataFrame, resolution: int, lon: str = "longitude", lat: str = "latitude") -> DataFrame:
    """Add easting, northing (EPSG:27700) and h3_cell for rows with coordinates."""
    bng = _bng_udf(F.col(lon), F.col(lat))
    return (
        df.withColumn("_bng", bng)
        .withColumn("easting", F.col("_bng.easting"))
        .withColumn("northing", F.col("_bng.northing"))
        .withColumn("h3_cell", _h3_udf(resolution)(F.col(lon), F.col(lat)))
        .drop("_bng")
    )


def coordinate_problem(lon: Column, lat: Column, bbox: tuple[float, float, float, float]) -> Column:
    """The quarantine reason for a located row's coordinates, or null when they are fine.

    Expects numeric columns; a null means the value was missing or unparseable and is handled by the caller.
    """
    min_lon, min_lat, max_lon, max_lat = bbox

    def inside(x: Column, y: Column) -> Column:
        return x.between(min_lon, max_lon) & y.between(min_lat, max_lat)

    return (
        F.when((F.abs(lon) > 180) | (F.abs(lat) > 90), F.lit("invalid_coordinates"))
        .when((lon == 0) & (lat == 0), F.lit("null_island"))
        .when(~inside(lon, lat) & inside(lat, lon), F.lit("swapped_coordinates"))
        .when(~inside(lon, lat), F.lit("outside_region"))
    )


def coordinate_detail(reason: Column, lon: Column, lat: Column, bbox: tuple[float, float, float, float]) -> Column:
    text = F.format_string("longitude=%s latitude=%s", lon.cast("string"), lat.cast("string"))
    box = ",".join(str(v) for v in bbox)
    return (
        F.when(reason == "null_island", F.concat(text, F.lit(" is 0,0 (a missing location written as zeros)")))
        .when(reason == "swapped_coordinates", F.concat(text, F.lit(" look swapped: latitude and longitude exchanged")))
        .when(reason == "outside_region", F.concat(text, F.lit(f" outside DAS_REGION_BBOX={box}")))
        .when(reason == "invalid_coordinates", F.concat(text, F.lit(" out of range")))
    )
