"""The streaming path's pure parts: which landed files follow the contract header it can stream."""

from __future__ import annotations

import pytest
from pyspark.sql import types as T
from pyspark.testing import assertDataFrameEqual

from jobs.streaming.hotlist_stream import LANDING_FILE, LANDING_SCHEMA, file_layouts
from schemas.landing import ANPR_CSV

HEADER = list(ANPR_CSV.fields)


def batch(spark, rows_by_file):  # type: ignore[no-untyped-def]
    rows = [(*row, *([None] * (len(HEADER) - len(row))), name) for name, rows in rows_by_file.items() for row in rows]
    schema = T.StructType([*LANDING_SCHEMA.fields, T.StructField(LANDING_FILE, T.StringType())])
    return spark.createDataFrame(rows, schema)


@pytest.mark.parametrize(
    ("header", "canonical"),
    [
        (HEADER, 1),
        (HEADER[:4], 1),  # optional fields may be absent at the end
        (["\ufeffRead ID", "Camera ID", "Plate", "Read At"], 1),  # names compare after normalisation
        (["camera_id", "read_id", "plate", "read_at"], 0),  # another order waits for the micro-batch
        (["read_id", "camera_id", "plate"], 0),  # a required field missing
    ],
)
def test_a_file_streams_only_with_the_contract_header(spark, header: list[str], canonical: int) -> None:  # type: ignore[no-untyped-def]
    frame = batch(spark, {"f.csv": [header, ["r1", "CAM1", "AB12CDE", "2024-04-02T08:00:00Z"]]})
    out = file_layouts(frame)
    assertDataFrameEqual(out, spark.createDataFrame([("f.csv", canonical)], out.schema))
