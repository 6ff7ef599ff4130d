"""Helpers shared by the detector tests (they all use the session ``spark`` fixture)."""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame

from schemas.tables import GOLD_FLAGS


def flags_of(frame: DataFrame) -> list[dict[str, Any]]:
    """Check the exact gold schema, then return the flags as dicts, ordered by subject and window."""
    assert frame.schema == GOLD_FLAGS.spark_schema(), frame.schema.simpleString()
    rows = [r.asDict(recursive=True) for r in frame.collect()]
    return sorted(rows, key=lambda r: (r["subject"], r["window_start"]))
