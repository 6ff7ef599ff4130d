"""`das bench publish` at a tiny size: the day reaches das.anpr_reads and the plain COPY loads the same rows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from das.config import Settings
from das_tools.bench.analyst import BENCH_DATABASE
from das_tools.bench.publish import bench_publish
from das_tools.localstack.postgres import connect

pytestmark = pytest.mark.integration


def test_bench_publish_loads_the_same_rows_both_ways_and_reports_the_ratio(
    pg_settings: Settings, tmp_path: Path, spark
) -> None:  # type: ignore[no-untyped-def]
    settings = pg_settings.model_copy(update={"lake_root": str(tmp_path / "lake")})
    report = bench_publish(3_000, out=tmp_path / "out.md", settings=settings)

    assert (tmp_path / "out.md").read_text() == report
    row = next(line for line in report.splitlines() if line.startswith("| publish one day of reads"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    published = int(cells[1].replace(",", ""))
    assert published >= 2_900 and cells[7].endswith("×"), row
    # bench_publish raises unless the plain COPY loaded exactly the rows the publish did.
    reference = re.search(r"plain COPY ([\d,]+) rows in [\d.]+ s \(([\d,]+) rows/s\)", report)
    assert reference, report
    assert int(reference.group(1).replace(",", "")) == published and int(reference.group(2).replace(",", "")) > 0
    # The server's load settings are reported as the server has them (the local stack's das.conf).
    assert "wal_level = minimal" in report and "maintenance_work_mem = 1048576" in report
    with connect(settings, database="postgres") as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (BENCH_DATABASE,))
        assert cur.fetchone()[0] == 0
    conn.close()
