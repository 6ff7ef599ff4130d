"""The source registry: one spec per source, and nothing else branches on a source's name."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from das.errors import ContractError
from jobs.sources import ANPR, CAMERAS, register, registered, source_names, source_spec, source_specs

REPO = Path(__file__).resolve().parents[3]


def test_sources_are_in_ingest_order_reads_after_the_cameras_they_reference() -> None:
    names = source_names()
    assert names == ["cameras", "hotlist", "crimes", "anpr", "video_events", "lfr_deployments", "lfr_alerts"]
    for spec in source_specs():
        for table in spec.references:
            producer = next(s for s in source_specs() if s.silver is table)
            assert names.index(producer.name) < names.index(spec.name)


def test_an_unknown_source_is_a_clear_error_listing_the_valid_ones() -> None:
    with pytest.raises(ContractError, match="unknown source 'videos'; expected one of cameras, hotlist, crimes, anpr"):
        source_spec("videos")


def test_specs_derive_bronze_asset_and_dedupe_key() -> None:
    assert ANPR.bronze.qualified_name == "bronze/anpr"
    assert ANPR.asset_uri == "das://silver/anpr_reads"
    assert ANPR.dedupe_key == ("read_id",)
    assert CAMERAS.dedupe_key == ("camera_id",)  # SCD2: the entity, not the version


def test_registering_twice_or_with_an_unknown_reference_fails() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register(ANPR)
    from dataclasses import replace

    from schemas.model import Column, Table

    orphan = Table("orphans", "silver", "", (Column("id", "string"),), key=("id",))
    with pytest.raises(ValueError, match="references"):
        register(replace(ANPR, name="orphan", references=(orphan,)))
    with registered(replace(ANPR, name="anpr_copy")):
        assert "anpr_copy" in source_names()
    assert "anpr_copy" not in source_names()


def test_no_source_name_comparison_outside_the_spec_module() -> None:
    found = subprocess.run(
        ["grep", "-rn", "source ==", "jobs", "das"], cwd=REPO, capture_output=True, text=True
    ).stdout.splitlines()
    assert [line for line in found if not line.startswith("jobs/sources.py")] == []
