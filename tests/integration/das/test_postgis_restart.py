"""PostGIS restarted in the middle of a publish: the publish fails with a clear error and leaves nothing half
written; its retry publishes exactly the rows. The cluster is this test's own (restarting the shared one would
disturb other tests)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date

import psycopg2
import pyarrow as pa
import pytest

from das import postgis
from das.config import Settings
from das.errors import ServiceError
from das_tools.bench.synthetic import synthetic_reads
from das_tools.localstack import postgres as local_postgres
from schemas.tables import SILVER_ANPR_READS
from tests.postgres_fixtures import free_port, make_pg_home, start_or_give_up

DAY = date(2024, 6, 3)
ROWS = 60_000


@pytest.fixture
def own_cluster() -> Iterator[Settings]:
    home = make_pg_home("das-pg-restart-")
    settings = Settings(home=home, pg_port=free_port())
    start_or_give_up(settings)
    try:
        postgis.migrate(settings, load_boundaries=False)
        yield settings
    finally:
        with contextlib.suppress(ServiceError):
            local_postgres.down(settings)


def _count(settings: Settings) -> int:
    with psycopg2.connect(settings.libpq_dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM das.anpr_reads WHERE read_at >= %s::date AND read_at < %s::date + 1", (DAY, DAY)
        )
        return int(cur.fetchone()[0])  # type: ignore[index]


def test_a_restart_mid_publish_fails_cleanly_and_the_retry_publishes_exactly(own_cluster: Settings) -> None:
    settings = own_cluster
    reads = synthetic_reads(ROWS, DAY)
    batches = reads.to_batches(max_chunksize=ROWS // 4)

    def restarting_mid_stream() -> Iterator[pa.RecordBatch]:
        yield batches[0]
        yield batches[1]
        local_postgres.down(settings)  # the database goes away between two COPY batches...
        local_postgres.up(settings)  # ...and comes back, as after a crash or a failover
        yield from batches[2:]

    with pytest.raises(ServiceError, match="connection to PostGIS was lost") as failure:
        postgis.publish_day_partition(settings, SILVER_ANPR_READS, restarting_mid_stream(), DAY)
    assert "nothing of it was committed" in str(failure.value) and "retry" in str(failure.value)
    assert _count(settings) == 0  # the day was not half published
    assert postgis.publish_day_partition(settings, SILVER_ANPR_READS, iter(batches), DAY) == ROWS  # the retry
    assert _count(settings) == ROWS
