"""Daily partitions of served tables declared with ``postgis_partition_by_day``.

Partitions are named ``<table>_pYYYYMMDD`` and cover one UTC day; they are created on publish (never by
migrations) and dropped by retention.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from das.config import Settings
from das.postgis.connection import qualified, transaction
from schemas.model import Table
from schemas.postgis import SCHEMA, served_tables


def partition_name(table: Table, day: date) -> str:
    return f"{table.postgis_name}_p{day:%Y%m%d}"


def default_partition_name(table: Table) -> str:
    return f"{table.postgis_name}_default"


PARTITION_PATTERNS = [
    re.compile(rf"^{re.escape(t.postgis_name or '')}_(p\d{{8}}|default)$")
    for t in served_tables()
    if t.postgis_partition_by_day
]


def day_partitioned(table: Table) -> str:
    """The day-partition column of ``table``; a clear error for tables that are not day-partitioned."""
    if not table.postgis_partition_by_day:
        raise ValueError(
            f"{table.qualified_name} is not served in day partitions (postgis_partition_by_day is not declared)"
        )
    return table.postgis_partition_by_day


def utc_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of one UTC day."""
    return utc_midnight(day), utc_midnight(day + timedelta(days=1))


def ensure_day_partition(cur: Any, table: Table, day: date) -> str:
    name = partition_name(table, day)
    start, end = day_bounds(day)
    cur.execute(
        f"CREATE TABLE IF NOT EXISTS {qualified(name)} PARTITION OF {qualified(table.postgis_name or '')} "
        "FOR VALUES FROM (%s) TO (%s)",
        (start, end),
    )
    return name


def days_present(arrow: pa.Table, column: str) -> list[date]:
    values = arrow.column(column)
    if values.null_count == len(values) or len(values) == 0:
        return []
    days = pc.unique(pc.cast(values, pa.date32()).drop_null())
    return sorted(days.to_pylist())


def ensure_partitions_for(cur: Any, table: Table, arrow: pa.Table) -> None:
    if table.postgis_partition_by_day:
        for day in days_present(arrow, table.postgis_partition_by_day):
            ensure_day_partition(cur, table, day)


def list_day_partitions(settings: Settings, table: Table) -> list[date]:
    """The days that have a partition of ``table`` (the default partition is not listed)."""
    pattern = re.compile(rf"^{re.escape(table.postgis_name or '')}_p(\d{{8}})$")
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace "
            "WHERE n.nspname = %s AND p.relname = %s",
            (SCHEMA, table.postgis_name),
        )
        names = [row[0] for row in cur.fetchall()]
    days = [datetime.strptime(m.group(1), "%Y%m%d").date() for n in names if (m := pattern.match(n))]
    return sorted(days)


def drop_day_partition(settings: Settings, table: Table, day: date) -> bool:
    """Drop one day partition of ``table`` (retention); True when it existed."""
    day_partitioned(table)
    name = partition_name(table, day)
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.{name}",))
        row = cur.fetchone()
        if row is None or row[0] is None:
            return False
        cur.execute(f"DROP TABLE {qualified(name)}")
    return True
