"""Arrow -> PostgreSQL COPY: the only way rows enter the serving database (never row inserts)."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from das.credentials import plate_hash
from das.postgis.connection import quote_ident
from schemas.model import Table
from schemas.postgis import SCHEMA, copy_columns

COPY_BATCH_ROWS = 200_000


def to_arrow(table: Table, data: pa.Table | pd.DataFrame) -> pa.Table:
    """The served columns of ``data``, in table order, cast to the declared Arrow types.

    Extra columns (lake lineage, partition helpers) are dropped; a missing served column is an error.
    """
    arrow = pa.Table.from_pandas(data, preserve_index=False) if isinstance(data, pd.DataFrame) else data
    wanted = copy_columns(table)
    missing = [name for name in wanted if name not in arrow.column_names]
    if missing:
        raise ValueError(
            f"cannot publish {table.qualified_name} to {SCHEMA}.{table.postgis_name}: the data lacks "
            f"columns {missing}; publish the {table.qualified_name} table as declared in schemas/tables.py"
        )
    columns = []
    for name in wanted:
        target = table.column(name).arrow_type()
        column = arrow.column(name)
        if column.type != target:
            # Timestamps may lose sub-microsecond digits (pandas is nanosecond): that is fine.
            column = column.cast(target, safe=not pa.types.is_timestamp(target))
        columns.append(column)
    return pa.table(columns, names=wanted)


def pg_array_literal(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """A list<string> column as PostgreSQL text[] literals ('{"a","b"}'), so CSV can carry it."""
    lists = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    # Rebase offsets to zero: a sliced list array shares its parent's offsets and values.
    offsets = lists.offsets.to_numpy()
    values = lists.values.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
    rebased = pa.array(offsets - offsets[0], pa.int32())
    escaped = pc.replace_substring(pc.replace_substring(values, "\\", "\\\\"), '"', '\\"')
    quoted = pc.binary_join_element_wise('"', escaped, '"', "")
    items = pc.if_else(pc.is_null(values), pa.scalar("NULL"), quoted)
    rebuilt = pa.ListArray.from_arrays(rebased, items, mask=lists.is_null())
    joined = pc.binary_join(rebuilt, ",")
    return pc.binary_join_element_wise("{", joined, "}", "")


def csv_ready(arrow: pa.Table) -> pa.Table:
    for position, field in enumerate(arrow.schema):
        if pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
            arrow = arrow.set_column(position, field.name, pg_array_literal(arrow.column(position)))
    return arrow


def copy_arrow(cur: Any, target: str, arrow: pa.Table) -> int:
    """COPY an Arrow table into ``target`` (qualified) through CSV, in batches; returns rows copied."""
    arrow = csv_ready(arrow)
    columns = ", ".join(quote_ident(n) for n in arrow.column_names)
    statement = f"COPY {target} ({columns}) FROM STDIN WITH (FORMAT csv)"
    options = pacsv.WriteOptions(include_header=False)
    copied = 0
    for batch in arrow.to_batches(max_chunksize=COPY_BATCH_ROWS):
        if batch.num_rows == 0:
            continue
        buffer = io.BytesIO()
        pacsv.write_csv(batch, buffer, options)
        buffer.seek(0)
        cur.copy_expert(statement, buffer)
        copied += batch.num_rows
    return copied


def with_pseudonyms(table: Table, arrow: pa.Table, key: bytes | None) -> pa.Table:
    """Append the table's served-only pseudonym columns: HMAC-SHA256 of each source value (once per distinct one)."""
    if not table.postgis_pseudonyms:
        return arrow
    if key is None:
        raise ValueError(f"publishing {table.qualified_name} needs the pseudonym key (DAS_PSEUDONYM_KEY)")
    for name, source in table.postgis_pseudonyms:
        encoded = arrow.column(source).combine_chunks().dictionary_encode()
        hashes = [None if v is None else plate_hash(key, v) for v in encoded.dictionary.to_pylist()]
        arrow = arrow.append_column(name, pa.array(hashes, pa.string()).take(encoded.indices))
    return arrow
