"""`das bench analyst` end to end at a tiny size: simulated reads reach PostGIS and every function is timed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from das.config import Settings
from das_tools.bench.analyst import BENCH_DATABASE, bench_analyst
from das_tools.localstack.postgres import connect

pytestmark = pytest.mark.integration


def test_bench_analyst_publishes_reads_times_each_function_and_cleans_up(
    pg_settings: Settings, tmp_path: Path, spark
) -> None:  # type: ignore[no-untyped-def]
    settings = pg_settings.model_copy(update={"lake_root": str(tmp_path / "lake")})
    report = bench_analyst(3_000, days=1, queries=5, warmup=2, out=tmp_path / "out.md", settings=settings)

    assert (tmp_path / "out.md").read_text() == report
    counts = re.search(r"Loaded ([\d,]+) reads, published ([\d,]+)", report)
    assert counts, report
    loaded, published = (int(group.replace(",", "")) for group in counts.groups())
    # 3,000 background reads plus the planted patterns' reads; a read whose skewed clock puts it outside
    # the day is loaded but not published.
    assert loaded >= 3_000 and 0.99 * loaded <= published <= loaded
    for function in ("plate_history", "vehicles_near", "cameras_covering"):
        row = next(line for line in report.splitlines() if line.startswith(f"| `{function}`"))
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert cells[1] == "5" and float(cells[4]) > 0, row  # 5 timed queries, a positive p95
    # plate_history asks for plates that were read, so it always returns rows.
    history = next(line for line in report.splitlines() if line.startswith("| `plate_history`"))
    assert float(history.split("|")[3].replace(",", "")) >= 1.0
    with connect(settings, database="postgres") as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (BENCH_DATABASE,))
        assert cur.fetchone()[0] == 0
    conn.close()
