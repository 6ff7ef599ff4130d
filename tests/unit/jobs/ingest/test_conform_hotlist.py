"""Hotlist conform rules."""

from __future__ import annotations

import pytest
from pyspark.testing import assertDataFrameEqual

from jobs.ingest.conform.common import REJECT_REASON
from jobs.ingest.conform.hotlist import conform_hotlist
from schemas.landing import HOTLIST_CSV
from tests.unit.jobs.ingest.raw import raw_frame


def conform(spark, **fields):  # type: ignore[no-untyped-def]
    return conform_hotlist(raw_frame(spark, HOTLIST_CSV.fields, [{"plate": "AB12 CDE", **fields}]))


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({}, None),
        ({"plate": ""}, "missing_required_field"),
        ({"plate": "--"}, "invalid_plate"),
        ({"plate": "ÉX12ABC"}, "invalid_plate"),
        ({"priority": "HIGH"}, None),
        ({"priority": "urgent"}, "invalid_value"),
        ({"valid_from": "soon"}, "invalid_timestamp"),
        ({"valid_from": "2024-04-02T00:00:00Z", "valid_to": "2024-04-01T00:00:00Z"}, "invalid_timestamp"),
    ],
)
def test_each_hotlist_rule_gives_its_reason(spark, fields: dict[str, str], reason: str | None) -> None:  # type: ignore[no-untyped-def]
    out = conform(spark, **fields).select(REJECT_REASON)
    assertDataFrameEqual(out, spark.createDataFrame([(reason,)], out.schema))


def test_defaults_and_normalised_plate(spark) -> None:  # type: ignore[no-untyped-def]
    out = conform(spark).select("plate", "plate_raw", "list_name", "priority", "valid_from", "valid_to")
    expected = spark.createDataFrame([("AB12CDE", "AB12 CDE", "default", "medium", None, None)], out.schema)
    assertDataFrameEqual(out, expected)


def test_the_entry_id_is_stable_and_depends_on_list_plate_and_start(spark) -> None:  # type: ignore[no-untyped-def]
    def entry_id(**fields: str) -> str:
        return conform(spark, **fields).first()["hotlist_entry_id"]  # type: ignore[index]

    assert entry_id() == entry_id(reason="another reason")
    assert entry_id() != entry_id(list_name="ANPR-stolen")
    assert entry_id() == entry_id(valid_to="2025-01-01T00:00:00Z")  # a new end date updates the entry
    assert entry_id() != entry_id(valid_from="2025-01-01T00:00:00Z")
