"""The detectors' inputs: what ``jobs.tasks.detector_inputs`` hands them from silver."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from das.config import Settings
from jobs import tasks

HEADER = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,"
    "Last outcome category,Context\n"
)


def crime(outcome: str) -> str:
    return (
        "c0ffee01,2024-03,Metropolitan Police Service,Metropolitan Police Service,-0.1276,51.5072,On or near Strand,"
        f"E01004736,Westminster 018C,Burglary,{outcome},\n"
    )


def test_a_crime_corrected_at_source_reaches_the_detectors_once(
    spark: object, settings: Settings, tmp_path: Path
) -> None:
    """silver/crimes keeps every version (SCD2); the detectors count the current one only."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    (first / "crimes-1.csv").write_text(HEADER + crime("Under investigation"))
    (second / "crimes-2.csv").write_text(HEADER + crime("Investigation complete; no suspect identified"))
    tasks.ingest("crimes", first, settings=settings, now=datetime(2024, 4, 2, tzinfo=timezone.utc))
    updated = tasks.ingest("crimes", second, settings=settings, now=datetime(2024, 4, 3, tzinfo=timezone.utc))
    assert updated["rows_updated"] == 1
    rt = tasks.runtime(settings)
    from schemas.tables import SILVER_CRIMES

    assert rt.lake.read(SILVER_CRIMES).count() == 2  # both versions are kept in silver
    crimes = tasks.detector_inputs(rt).crimes.collect()
    assert [(c["crime_id"], c["outcome"]) for c in crimes] == [
        ("c0ffee01", "Investigation complete; no suspect identified")
    ]
