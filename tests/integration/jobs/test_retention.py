"""Retention really deletes: expired reads leave bronze, silver and PostGIS, vacuum removes their files so older
table versions cannot bring them back, expired flag evidence is marked expired (hotlist hits keep theirs), and the
audit log records what was removed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg2
import pytest
from pyspark.sql import SparkSession

from das import audit
from das.config import Settings
from das.lake import DeltaRsLake
from jobs import tasks
from jobs.detectors.common import to_flags_frame
from jobs.retention import EXPIRED, run_retention
from schemas.tables import BRONZE_ANPR, GOLD_FLAGS, QUARANTINE, SILVER_ANPR_READS
from tests.postgres_fixtures import elsewhere, own_database

NOW = datetime.now(UTC).replace(microsecond=0)
OLD = NOW - timedelta(days=400)  # past the 365-day read retention
RECENT = NOW - timedelta(hours=3)


def _reads(folder: Path, name: str, at: datetime, ids: range) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["read_id,camera_id,plate,read_at"] + [f"{name}{i},CAM1,AB12CDE,{at.isoformat()}" for i in ids]
    lines.append(f"{name}-bad,NOPE,AB12CDE,{at.isoformat()}")  # one quarantined row each
    (folder / f"{name}.csv").write_text("\n".join(lines) + "\n")
    return folder


def _flag(spark: SparkSession, flag_type: str, at: datetime):  # type: ignore[no-untyped-def]
    from das.config import HotlistHitParams
    from jobs.detectors.common import content_from_rows, evidence_row

    row = {
        "subject": "AB12CDE",
        "score": 0.9,
        "related": ["old0"],
        "summary": f"a {flag_type} lead",
        "window_start": at,
        "window_end": at + timedelta(days=1),
        "longitude": -0.1,
        "latitude": 51.5,
        "evidence": [evidence_row("read", ref_id="old0", camera_id="CAM1", plate="AB12CDE", at=at, detail="read")],
    }
    return to_flags_frame(content_from_rows(spark, [row]), flag_type, HotlistHitParams(), NOW)


def test_retention_removes_expired_data_everywhere_and_logs_it(
    pg_settings: Settings, tmp_path: Path, spark: SparkSession
) -> None:
    with own_database(pg_settings, "das_retention_test", load_boundaries=False) as db:
        settings = elsewhere(db, tmp_path / "home", lake_root=str(tmp_path / "lake"))
        landing = tmp_path / "landing"
        (landing / "cameras").mkdir(parents=True)
        (landing / "cameras" / "c.csv").write_text("camera_id,longitude,latitude\nCAM1,-0.1276,51.5072\n")
        tasks.publish(
            "cameras", tasks.ingest("cameras", landing / "cameras", settings=settings, now=OLD), settings=settings
        )
        old = tasks.ingest(
            "anpr", _reads(landing / "old", "old", OLD - timedelta(hours=1), range(5)), settings=settings, now=OLD
        )
        tasks.publish("anpr", old, settings=settings)
        new = tasks.ingest("anpr", _reads(landing / "new", "new", RECENT, range(3)), settings=settings)
        tasks.publish("anpr", new, settings=settings)
        lake = DeltaRsLake(spark, settings.lake)
        flags = _flag(spark, "cloned_plate", OLD).unionByName(_flag(spark, "hotlist_hit", OLD))
        lake.append(GOLD_FLAGS, flags)
        from das import postgis

        postgis.publish_flags(settings, lake.read(GOLD_FLAGS).toArrow())
        before = lake.version(SILVER_ANPR_READS)
        assert lake.read(SILVER_ANPR_READS).count() == 8

        removed = run_retention(lake, settings, now=NOW)

        assert (
            removed["silver/anpr_reads"] == 5
            and removed["bronze/anpr"] == 6
            and removed["quarantine/rejected_rows"] >= 1
        )
        assert sorted(r["read_id"] for r in lake.read(SILVER_ANPR_READS).collect()) == ["new0", "new1", "new2"]
        assert lake.read(BRONZE_ANPR).where("record like '%old%'").count() == 0
        assert lake.read(QUARANTINE).where("raw_record like '%old-bad%'").count() == 0
        # Vacuumed: the version before the delete cannot be read back any more.
        with pytest.raises(Exception, match=r"(?i)not found|no such file|does not exist"):
            lake.read(SILVER_ANPR_READS, version=before).count()
        evidence = {r["flag_type"]: r["evidence"][0] for r in lake.read(GOLD_FLAGS).collect()}
        assert (evidence["cloned_plate"]["plate"], evidence["cloned_plate"]["detail"]) == (None, EXPIRED)
        assert evidence["hotlist_hit"]["plate"] == "AB12CDE"  # hits are kept with their flag
        with psycopg2.connect(settings.libpq_dsn) as conn, conn.cursor() as cur:
            cur.execute("SELECT read_id FROM das.anpr_reads ORDER BY read_id")
            assert [r[0] for r in cur.fetchall()] == ["new0", "new1", "new2"]
            cur.execute(
                "SELECT f.flag_type, e.plate, e.detail FROM das.flag_evidence e JOIN das.flags f USING (flag_id) "
                "ORDER BY f.flag_type"
            )
            assert cur.fetchall() == [("cloned_plate", None, EXPIRED), ("hotlist_hit", "AB12CDE", "read")]
            cur.execute("SELECT summary FROM das.flags ORDER BY flag_type")
            assert [r[0] for r in cur.fetchall()] == ["a cloned_plate lead", "a hotlist_hit lead"]  # summaries stay
        (logged,) = [r for r in audit.report(settings) if r["action"] == "retention"]
        assert logged["rows"] >= 12
        assert audit.verify(settings).intact
