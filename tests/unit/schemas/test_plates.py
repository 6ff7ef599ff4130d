"""GB plate formats: one pattern, the same answer in Python and in Spark."""

from __future__ import annotations

import pytest

from schemas.plates import GB_PLATE_PATTERN, gb_plate_format, is_valid_gb_plate, normalise_plate

pytestmark = pytest.mark.unit

VALID = {
    "AB12CDE": "current",
    "LV73XYZ": "current",
    "A123BCD": "prefix",
    "J1ABC": "prefix",
    "ABC123D": "suffix",
    "XYZ1A": "suffix",
    "1234AB": "dateless_numbers_first",
    "1A": "dateless_numbers_first",
    "AB1234": "dateless_letters_first",
    "ABC123": "dateless_letters_first",
    "ABZ1234": "dateless_letters_first",  # Northern Ireland
    "A1": "dateless_letters_first",
}

INVALID = [
    "ab12cde",  # not normalised: lower case
    "AB12 CDE",  # not normalised: space
    "IB12CDE",  # current format never starts with I
    "AB12CQE",  # ... nor has Q in the random letters
    "AB1CDEF",
    "AB123CDE",
    "12345AB",
    "ABCD123",
    "1234",
    "ABCD",
    "",
    "AB12CD€",
]


@pytest.mark.parametrize(("plate", "fmt"), sorted(VALID.items()))
def test_valid_gb_plates(plate: str, fmt: str) -> None:
    assert is_valid_gb_plate(plate)
    assert gb_plate_format(plate) == fmt


@pytest.mark.parametrize("plate", INVALID)
def test_invalid_gb_plates(plate: str) -> None:
    assert not is_valid_gb_plate(plate)
    assert gb_plate_format(plate) is None


def test_none_is_not_a_plate() -> None:
    assert not is_valid_gb_plate(None)


def test_normalise_then_validate() -> None:
    assert normalise_plate(" ab12 cde ") == "AB12CDE"
    assert normalise_plate("A-123 BCD") == "A123BCD"
    assert is_valid_gb_plate(normalise_plate("ab12 cde"))


def test_spark_rlike_agrees_with_python(spark) -> None:  # type: ignore[no-untyped-def]
    from pyspark.sql import functions as F

    plates = [*VALID, *INVALID]
    rows = spark.createDataFrame([(p,) for p in plates], "plate string")
    checked = rows.select("plate", F.col("plate").rlike(GB_PLATE_PATTERN).alias("ok")).collect()
    in_spark = {r.plate: r.ok for r in checked}
    assert in_spark == {p: p in VALID for p in plates}
