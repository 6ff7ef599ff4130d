"""Publishing to schema ``das``: each publish is one transaction that replaces the slice it covers.

Three modes, chosen by a source's spec and generic over the table's declaration:
- ``publish_replace``: replace the whole table (or the slice whose values of one column occur in the data);
- ``publish_upsert``: insert or update by the declared key, optionally keeping columns (triage status);
- ``publish_day_partition``: replace one UTC day of a table declared with ``postgis_partition_by_day``.

Re-publishing the same slice is idempotent. Every publish also adds the outlines of the H3 cells it brings to
``das.h3_cells`` (see ``das.postgis.h3_cells``), in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from das.config import Settings
from das.credentials import pseudonym_key
from das.postgis.connection import qualified, quote_ident, transaction
from das.postgis.copy import copy_arrow, to_arrow, with_pseudonyms
from das.postgis.h3_cells import add_cells, cells_in
from das.postgis.partitions import day_bounds, day_partitioned, ensure_partitions_for, partition_name
from schemas.model import Table
from schemas.postgis import SCHEMA, copy_columns, primary_key_columns
from schemas.tables import FLAG_EVIDENCE, GOLD_FLAGS


def served_rows(settings: Settings, table: Table, data: pa.Table | pd.DataFrame | pa.RecordBatch) -> pa.Table:
    """The rows as the served table holds them: declared served columns, then pseudonyms (keyed by settings)."""
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    arrow = to_arrow(table, data)
    return with_pseudonyms(table, arrow, pseudonym_key(settings) if table.postgis_pseudonyms else None)


def publish(
    settings: Settings,
    table: Table,
    data: pa.Table | pd.DataFrame,
    *,
    replace_where: str | None = None,
    params: Sequence[Any] | None = None,
) -> int:
    """COPY ``data`` into ``das.<table>`` in one transaction, first deleting ``replace_where`` rows.

    ``replace_where`` is an SQL condition on the table's columns (``%s`` placeholders filled from
    ``params``), e.g. ``"crime_month = ANY(%s)"``. ``"true"`` replaces the whole table. Re-publishing the
    same slice with the same condition is idempotent. Returns the rows copied.
    """
    arrow = served_rows(settings, table, data)
    target = qualified(table.postgis_name or "")
    with transaction(settings) as conn, conn.cursor() as cur:
        ensure_partitions_for(cur, table, arrow)
        if replace_where is not None:
            cur.execute(f"DELETE FROM {target} WHERE {replace_where}", params)
        copied = copy_arrow(cur, target, arrow)
        add_cells(cur, cells_in(arrow))
        return copied


def publish_replace(
    settings: Settings, table: Table, data: pa.Table | pd.DataFrame, key_filter: str | None = None
) -> int:
    """Replace a slice of a served table (cameras, crimes, hotlist...) with ``data``.

    ``key_filter=None`` replaces the whole table; a column name (e.g. ``"crime_month"``) replaces only
    the rows whose value in that column occurs in ``data`` (the months or partitions present).
    """
    if key_filter is None:
        return publish(settings, table, data, replace_where="true")
    if key_filter not in copy_columns(table):
        raise ValueError(
            f"key_filter {key_filter!r} is not a served column of {table.qualified_name}; "
            f"choose one of {copy_columns(table)}"
        )
    arrow = served_rows(settings, table, data)
    present = pc.unique(arrow.column(key_filter))
    values = present.drop_null().to_pylist()
    column = quote_ident(key_filter)
    condition = f"{column} = ANY(%s)"
    if present.null_count:
        condition = f"({condition} OR {column} IS NULL)"
    return publish(settings, table, arrow, replace_where=condition, params=(values,))


def publish_day_partition(
    settings: Settings, table: Table, rows: pa.Table | pd.DataFrame | Iterable[pa.RecordBatch], day: date
) -> int:
    """Replace one UTC day of a day-partitioned table with ``rows``, in one transaction; returns rows published.

    Readers see the old day or the new one, never a mix, and re-publishing a day replaces it. The rows
    are COPYed into a fresh unindexed table that then replaces the day's partition (ATTACH builds its
    indexes in bulk): several times faster than COPY into an indexed partition after TRUNCATE. Every
    row must fall on ``day`` (UTC). ``rows`` may be a stream of Arrow batches (a day of London reads
    need not fit in memory); a batch that breaks the rule rolls the whole day back.
    """
    part_column = day_partitioned(table)
    if isinstance(rows, (pa.Table, pd.DataFrame)):
        batches: Iterable[pa.Table | pa.RecordBatch | pd.DataFrame] = [rows]
    else:
        batches = rows
    start, end = day_bounds(day)
    cells: set[str] = set()

    def checked(batch: pa.Table | pa.RecordBatch | pd.DataFrame) -> pa.Table:
        arrow = served_rows(settings, table, batch)
        if arrow.num_rows:
            values = arrow.column(part_column)
            outside = pc.sum(
                pc.or_(
                    pc.less(values, pa.scalar(start, values.type)),
                    pc.greater_equal(values, pa.scalar(end, values.type)),
                )
            ).as_py()
            if outside:
                raise ValueError(
                    f"{outside} of {arrow.num_rows} rows of {table.qualified_name} have {part_column} outside "
                    f"{day.isoformat()} (UTC): publish each day separately"
                )
        cells.update(cells_in(arrow))
        return arrow

    parent = qualified(table.postgis_name or "")
    name = partition_name(table, day)
    loading = f"{name}_load"
    column = quote_ident(part_column)
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {qualified(loading)}")
        cur.execute(f"CREATE TABLE {qualified(loading)} (LIKE {parent} INCLUDING DEFAULTS INCLUDING GENERATED)")
        # A CHECK matching the partition bound lets ATTACH skip its validation scan.
        cur.execute(
            f"ALTER TABLE {qualified(loading)} ADD CONSTRAINT {quote_ident(loading + '_bound')} "
            f"CHECK ({column} IS NOT NULL AND {column} >= %s AND {column} < %s)",
            (start, end),
        )
        copied = sum(copy_arrow(cur, qualified(loading), checked(batch)) for batch in batches)
        cur.execute(f"DROP TABLE IF EXISTS {qualified(name)}")
        cur.execute(
            f"ALTER TABLE {parent} ATTACH PARTITION {qualified(loading)} FOR VALUES FROM (%s) TO (%s)",
            (start, end),
        )
        cur.execute(f"ALTER TABLE {qualified(loading)} RENAME TO {quote_ident(name)}")
        cur.execute(f"ALTER TABLE {qualified(name)} DROP CONSTRAINT {quote_ident(loading + '_bound')}")
        # ATTACH named the indexes after the loading table; give them the partition's name.
        cur.execute("SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = %s", (SCHEMA, name))
        for (index,) in cur.fetchall():
            if index.startswith(loading):
                renamed = name + index[len(loading) :]
                cur.execute(f"ALTER INDEX {qualified(index)} RENAME TO {quote_ident(renamed)}")
        add_cells(cur, cells)
        return copied


def upsert(cur: Any, table: Table, arrow: pa.Table, keep: Sequence[str] = ()) -> int:
    """INSERT ... ON CONFLICT (key) DO UPDATE through a temp table; ``keep`` columns keep their value."""
    target = qualified(table.postgis_name or "")
    key = primary_key_columns(table)
    staging = quote_ident(f"_staging_{table.postgis_name}")
    cur.execute(f"CREATE TEMP TABLE {staging} (LIKE {target}) ON COMMIT DROP")
    copied = copy_arrow(cur, staging, arrow)
    columns = arrow.column_names
    updates = [c for c in columns if c not in key and c not in keep]
    cur.execute(
        f"INSERT INTO {target} ({', '.join(map(quote_ident, columns))}) "
        f"SELECT {', '.join(map(quote_ident, columns))} FROM {staging} "
        f"ON CONFLICT ({', '.join(map(quote_ident, key))}) DO UPDATE SET "
        + ", ".join(f"{quote_ident(c)} = EXCLUDED.{quote_ident(c)}" for c in updates)
    )
    cur.execute(f"DROP TABLE {staging}")
    return copied


def require_unique_key(table: Table, arrow: pa.Table) -> None:
    key = primary_key_columns(table)
    distinct = arrow.group_by(list(key)).aggregate([]).num_rows
    if distinct != arrow.num_rows:
        raise ValueError(
            f"{arrow.num_rows - distinct} rows of {table.qualified_name} repeat a key {key}; "
            "deduplicate before publishing"
        )


def publish_upsert(settings: Settings, table: Table, data: pa.Table | pd.DataFrame, keep: Sequence[str] = ()) -> int:
    """Upsert rows by the table's declared key in one transaction (a re-run replaces its own rows)."""
    arrow = served_rows(settings, table, data)
    require_unique_key(table, arrow)
    with transaction(settings) as conn, conn.cursor() as cur:
        copied = upsert(cur, table, arrow, keep)
        add_cells(cur, cells_in(arrow))
        return copied


def flatten_evidence(flags: pa.Table) -> pa.Table:
    """One row per evidence item of each flag: the rows of ``das.flag_evidence`` (evidence_no from 0)."""
    evidence = flags.column("evidence").combine_chunks()
    parents = pc.list_parent_indices(evidence)
    items = pc.list_flatten(evidence)
    offsets = evidence.offsets.to_numpy()
    parent_index = parents.to_numpy(zero_copy_only=False).astype(np.int64)
    value_index = offsets[0] + np.arange(len(items), dtype=np.int64)
    (flag_key,) = GOLD_FLAGS.key
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        flag_key: flags.column(flag_key).take(parents),
        "evidence_no": pa.array(value_index - offsets[parent_index], pa.int32()),
    }
    for field in items.type:
        columns[field.name] = items.field(field.name)
    return to_arrow(FLAG_EVIDENCE, pa.table(columns))


def publish_flags(settings: Settings, flags: pa.Table | pd.DataFrame) -> dict[str, int]:
    """Upsert flags by their key, keeping the triage ``status`` of flags that already exist, and replace
    each published flag's evidence rows. One transaction. Returns rows per table."""
    raw = pa.Table.from_pandas(flags, preserve_index=False) if isinstance(flags, pd.DataFrame) else flags
    if "evidence" not in raw.column_names:
        raise ValueError("flags to publish need their evidence column (it fills das.flag_evidence)")
    raw = raw.set_column(
        raw.column_names.index("evidence"),
        "evidence",
        raw.column("evidence").cast(GOLD_FLAGS.column("evidence").arrow_type()),
    )
    arrow = to_arrow(GOLD_FLAGS, raw)
    require_unique_key(GOLD_FLAGS, arrow)
    evidence = flatten_evidence(raw)
    (flag_key,) = GOLD_FLAGS.key
    with transaction(settings) as conn, conn.cursor() as cur:
        flags_written = upsert(cur, GOLD_FLAGS, arrow, keep=("status",))
        cur.execute(
            f"DELETE FROM {qualified(FLAG_EVIDENCE.postgis_name or '')} WHERE {quote_ident(flag_key)} = ANY(%s)",
            (arrow.column(flag_key).to_pylist(),),
        )
        evidence_written = copy_arrow(cur, qualified(FLAG_EVIDENCE.postgis_name or ""), evidence)
        add_cells(cur, cells_in(evidence))
    return {"flags": flags_written, "flag_evidence": evidence_written}
