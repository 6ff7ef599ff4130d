"""Maintenance compacts and vacuums (fewer files, old ones gone, same rows), archives ingested landing files, and
ANALYZEs PostGIS; gold flags merge by id without rewriting the rest."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pyspark.sql import SparkSession

from das.config import MaintenancePolicy, Settings
from das.lake import DeltaRsLake
from jobs import tasks
from jobs.maintenance import ARCHIVE_DIR
from schemas.tables import INGEST_RUNS, SILVER_ANPR_READS
from tests.postgres_fixtures import elsewhere, own_database


def _parquet_files(table_dir: Path) -> set[Path]:
    return {p for p in table_dir.rglob("*.parquet") if "_staging" not in p.parts}


def test_maintenance_compacts_vacuums_archives_and_analyzes(
    pg_settings: Settings, tmp_path: Path, spark: SparkSession
) -> None:
    with own_database(pg_settings, "das_maintenance_test", load_boundaries=False) as db:
        settings = elsewhere(
            db,
            tmp_path / "home",
            lake_root=str(tmp_path / "lake"),
            landing_dir=tmp_path / "landing",
            maintenance=MaintenancePolicy(vacuum_retention_hours=0, archive_after_hours=0),
        )
        cams = settings.landing / "cameras"
        cams.mkdir(parents=True)
        (cams / "c.csv").write_text("camera_id,longitude,latitude\nCAM1,-0.1276,51.5072\n")
        tasks.ingest("cameras", settings=settings)
        at = datetime.now(UTC) - timedelta(hours=2)
        reads = settings.landing / "anpr"
        reads.mkdir()
        for n in range(4):  # four micro-batches: four small files in one day partition
            (reads / f"b{n}.csv").write_text(f"read_id,camera_id,plate,read_at\nr{n},CAM1,AB12CDE,{at.isoformat()}\n")
            tasks.ingest("anpr", settings=settings)
        lake = DeltaRsLake(spark, settings.lake)
        table_dir = Path(lake.table_path(SILVER_ANPR_READS))
        before = _parquet_files(table_dir)
        assert len(before) == 4
        old = time.time() - 3600
        for landed in [*reads.iterdir(), *cams.iterdir()]:
            os.utime(landed, (old, old))

        report = tasks.maintain(settings=settings)

        after = _parquet_files(table_dir)
        assert len(after) == 1 and not (after & before)  # compacted, and the small files are gone from disk
        assert report["optimized"]["silver/anpr_reads"]["files_removed"] == 4
        assert sorted(r["read_id"] for r in lake.read(SILVER_ANPR_READS).collect()) == ["r0", "r1", "r2", "r3"]
        assert report["landing_files_archived"] == 5 and not list(reads.iterdir())
        assert sorted(p.name for p in (settings.landing / ARCHIVE_DIR / "anpr").iterdir()) == [
            f"b{n}.csv" for n in range(4)
        ]
        assert lake.read(INGEST_RUNS).where("source = 'anpr'").count() == 4  # the ledger keeps the archived files
        assert tasks.ingest("anpr", settings=settings)["files"] == 0  # archived files are not read again
        assert report["postgis_analyzed"] >= 5
