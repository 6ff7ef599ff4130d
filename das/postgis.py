"""The PostGIS adapter: engine, migrations, boundary loading and bulk publishing into schema ``das``.

Publishing uses COPY FROM STDIN (CSV written by Arrow), never row inserts, and each publish is one
transaction that first removes the slice it replaces, so re-publishing the same slice is idempotent.
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg2
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from psycopg2.extensions import connection as PgConnection
from sqlalchemy import MetaData, create_engine, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from das.config import REPO_ROOT, Settings
from das.errors import ServiceError
from schemas.model import Table
from schemas.postgis import METADATA, SCHEMA, copy_columns, primary_key_columns, served_tables
from schemas.reference import BOUNDARY_SOURCES, BoundarySource
from schemas.tables import FLAG_EVIDENCE, GOLD_FLAGS, INGEST_RUNS, SILVER_ANPR_READS

ALEMBIC_INI = REPO_ROOT / "infra" / "alembic.ini"
COPY_BATCH_ROWS = 200_000

# ---------------------------------------------------------------------------------------------------
# Connections
# ---------------------------------------------------------------------------------------------------


# The login role is usually called "das" too, so the default search_path ("$user", public) would make
# schema das the default schema and Alembic would then compare it as schema None. Pin it.
_SEARCH_PATH_OPTION = "-c search_path=public"


def engine_for_url(url: str) -> Engine:
    """An unpooled engine (callers are short-lived jobs) with the search_path pinned to ``public``."""
    return create_engine(url, poolclass=NullPool, connect_args={"options": _SEARCH_PATH_OPTION})


def engine(settings: Settings) -> Engine:
    """A SQLAlchemy engine on the serving database; always name ``das.`` objects explicitly."""
    return engine_for_url(settings.sqlalchemy_url)


def _unreachable(settings: Settings, exc: Exception) -> ServiceError:
    where = "DAS_DATABASE_URL" if settings.database_url else f"{settings.pg_host}:{settings.pg_port}"
    return ServiceError(
        f"PostGIS at {where} is unreachable ({str(exc).strip().splitlines()[0]}); start the local "
        "cluster with `das pg up` or point DAS_DATABASE_URL at a running PostGIS"
    )


@contextmanager
def _transaction(settings: Settings) -> Iterator[PgConnection]:
    """One psycopg2 transaction: committed on success, rolled back on any error."""
    try:
        conn = psycopg2.connect(settings.libpq_dsn)
    except psycopg2.OperationalError as exc:
        raise _unreachable(settings, exc) from exc
    try:
        with conn:  # commits or rolls back
            yield conn
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------------
# Migrations
# ---------------------------------------------------------------------------------------------------


def partition_name(table: Table, day: date) -> str:
    return f"{table.postgis_name}_p{day:%Y%m%d}"


def default_partition_name(table: Table) -> str:
    return f"{table.postgis_name}_default"


_PARTITION_PATTERNS = [
    re.compile(rf"^{re.escape(t.postgis_name or '')}_(p\d{{8}}|default)$")
    for t in served_tables()
    if t.postgis_partition_by_day
]


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic filter: only schema ``das`` is ours (PostGIS keeps its own tables in ``public``)."""
    if type_ == "schema":
        return name == SCHEMA
    return True


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic filter: daily partitions are created on publish, not by migrations."""
    is_partition = bool(name) and any(p.match(name or "") for p in _PARTITION_PATTERNS)
    return not (type_ == "table" and reflected and is_partition)


def prepare_database(connection: Connection) -> None:
    """What must exist before Alembic runs: the PostGIS extension and schema ``das`` (its version table)."""
    connection.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
    connection.commit()


def schema_drift(settings: Settings, metadata: MetaData | None = None) -> list[Any]:
    """Differences between the migrated database and the declarations (Alembic's autogenerate diff).

    Empty when every declaration change has its migration; otherwise generate one with
    ``alembic -c infra/alembic.ini revision --autogenerate -m "..."``.
    """
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    eng = engine(settings)
    try:
        with eng.connect() as conn:
            context = MigrationContext.configure(conn, opts=migration_options())
            return list(compare_metadata(context, metadata if metadata is not None else METADATA))
    finally:
        eng.dispose()


def migration_options() -> dict[str, Any]:
    """The Alembic comparison options shared by env.py and the drift check."""
    return {
        "include_schemas": True,
        "include_name": include_name,
        "include_object": include_object,
        "version_table_schema": SCHEMA,
        "compare_type": True,
    }


def alembic_config(settings: Settings):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config(str(ALEMBIC_INI))
    cfg.set_main_option("script_location", str(ALEMBIC_INI.parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", settings.sqlalchemy_url.replace("%", "%%"))
    return cfg


def migrate(settings: Settings, *, revision: str = "head", load_boundaries: bool = True) -> None:
    """Bring schema ``das`` to ``revision`` (idempotent), then load the reference boundaries."""
    from alembic import command

    cfg = alembic_config(settings)
    eng = engine(settings)
    try:
        with eng.connect() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
            conn.commit()
    except Exception as exc:
        if isinstance(exc, psycopg2.OperationalError) or "could not connect" in str(exc):
            raise _unreachable(settings, exc) from exc
        raise
    finally:
        eng.dispose()
    if load_boundaries:
        load_reference_data(settings)


# ---------------------------------------------------------------------------------------------------
# Arrow -> COPY
# ---------------------------------------------------------------------------------------------------


def _qualified(name: str) -> str:
    return f'{SCHEMA}."{name}"'


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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


def _pg_array_literal(column: pa.ChunkedArray | pa.Array) -> pa.Array:
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


def _csv_ready(arrow: pa.Table) -> pa.Table:
    for position, field in enumerate(arrow.schema):
        if pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
            arrow = arrow.set_column(position, field.name, _pg_array_literal(arrow.column(position)))
    return arrow


def _copy_arrow(cur: Any, target: str, arrow: pa.Table) -> int:
    """COPY an Arrow table into ``target`` (qualified) through CSV, in batches; returns rows copied."""
    arrow = _csv_ready(arrow)
    columns = ", ".join(_quote_ident(n) for n in arrow.column_names)
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


# ---------------------------------------------------------------------------------------------------
# Daily partitions
# ---------------------------------------------------------------------------------------------------


def _utc_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _ensure_day_partition(cur: Any, table: Table, day: date) -> str:
    name = partition_name(table, day)
    start, end = _utc_midnight(day), _utc_midnight(day + timedelta(days=1))
    cur.execute(
        f"CREATE TABLE IF NOT EXISTS {_qualified(name)} PARTITION OF {_qualified(table.postgis_name or '')} "
        "FOR VALUES FROM (%s) TO (%s)",
        (start, end),
    )
    return name


def _days_present(arrow: pa.Table, column: str) -> list[date]:
    values = arrow.column(column)
    if values.null_count == len(values) or len(values) == 0:
        return []
    days = pc.unique(pc.cast(values, pa.date32()).drop_null())
    return sorted(days.to_pylist())


def _ensure_partitions_for(cur: Any, table: Table, arrow: pa.Table) -> None:
    if table.postgis_partition_by_day:
        for day in _days_present(arrow, table.postgis_partition_by_day):
            _ensure_day_partition(cur, table, day)


def list_day_partitions(settings: Settings, table: Table = SILVER_ANPR_READS) -> list[date]:
    """The days that have a partition of ``table`` (the default partition is not listed)."""
    pattern = re.compile(rf"^{re.escape(table.postgis_name or '')}_p(\d{{8}})$")
    with _transaction(settings) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace "
            "WHERE n.nspname = %s AND p.relname = %s",
            (SCHEMA, table.postgis_name),
        )
        names = [row[0] for row in cur.fetchall()]
    days = [datetime.strptime(m.group(1), "%Y%m%d").date() for n in names if (m := pattern.match(n))]
    return sorted(days)


def drop_reads_day(settings: Settings, day: date) -> bool:
    """Drop one day partition of anpr_reads (retention); True when it existed."""
    name = partition_name(SILVER_ANPR_READS, day)
    with _transaction(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.{name}",))
        row = cur.fetchone()
        if row is None or row[0] is None:
            return False
        cur.execute(f"DROP TABLE {_qualified(name)}")
    return True


# ---------------------------------------------------------------------------------------------------
# Publishing
# ---------------------------------------------------------------------------------------------------


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
    arrow = to_arrow(table, data)
    target = _qualified(table.postgis_name or "")
    with _transaction(settings) as conn, conn.cursor() as cur:
        _ensure_partitions_for(cur, table, arrow)
        if replace_where is not None:
            cur.execute(f"DELETE FROM {target} WHERE {replace_where}", params)
        return _copy_arrow(cur, target, arrow)


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
    arrow = to_arrow(table, data)
    present = pc.unique(arrow.column(key_filter))
    values = present.drop_null().to_pylist()
    column = _quote_ident(key_filter)
    condition = f"{column} = ANY(%s)"
    if present.null_count:
        condition = f"({condition} OR {column} IS NULL)"
    return publish(settings, table, arrow, replace_where=condition, params=(values,))


def publish_reads_day(settings: Settings, reads: pa.Table | pd.DataFrame | Iterable[pa.RecordBatch], day: date) -> int:
    """Replace one UTC day of anpr_reads with ``reads``, in one transaction; returns rows published.

    Readers see the old day or the new one, never a mix, and re-publishing a day replaces it. The rows
    are COPYed into a fresh unindexed table that then replaces the day's partition (ATTACH builds its
    indexes in bulk): several times faster than COPY into an indexed partition after TRUNCATE. Every
    read must fall on ``day`` (UTC). ``reads`` may be a stream of Arrow batches (a day of London reads
    need not fit in memory); a batch that breaks the rule rolls the whole day back.
    """
    table = SILVER_ANPR_READS
    if isinstance(reads, (pa.Table, pd.DataFrame)):
        batches: Iterable[pa.Table | pa.RecordBatch] = [to_arrow(table, reads)]
    else:
        batches = reads
    start, end = _utc_midnight(day), _utc_midnight(day + timedelta(days=1))

    def checked(batch: pa.Table | pa.RecordBatch) -> pa.Table:
        arrow = to_arrow(table, batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch]))
        if arrow.num_rows:
            read_at = arrow.column("read_at")
            outside = pc.sum(
                pc.or_(
                    pc.less(read_at, pa.scalar(start, read_at.type)),
                    pc.greater_equal(read_at, pa.scalar(end, read_at.type)),
                )
            ).as_py()
            if outside:
                raise ValueError(
                    f"{outside} of {arrow.num_rows} reads fall outside {day.isoformat()} (UTC): publish each "
                    "read_date of silver anpr_reads separately"
                )
        return arrow

    parent = _qualified(table.postgis_name or "")
    name = partition_name(table, day)
    loading = f"{name}_load"
    part_column = _quote_ident(table.postgis_partition_by_day or "")
    with _transaction(settings) as conn, conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {_qualified(loading)}")
        cur.execute(f"CREATE TABLE {_qualified(loading)} (LIKE {parent} INCLUDING DEFAULTS INCLUDING GENERATED)")
        # A CHECK matching the partition bound lets ATTACH skip its validation scan.
        cur.execute(
            f"ALTER TABLE {_qualified(loading)} ADD CONSTRAINT {_quote_ident(loading + '_bound')} "
            f"CHECK ({part_column} IS NOT NULL AND {part_column} >= %s AND {part_column} < %s)",
            (start, end),
        )
        copied = sum(_copy_arrow(cur, _qualified(loading), checked(batch)) for batch in batches)
        cur.execute(f"DROP TABLE IF EXISTS {_qualified(name)}")
        cur.execute(
            f"ALTER TABLE {parent} ATTACH PARTITION {_qualified(loading)} FOR VALUES FROM (%s) TO (%s)",
            (start, end),
        )
        cur.execute(f"ALTER TABLE {_qualified(loading)} RENAME TO {_quote_ident(name)}")
        cur.execute(f"ALTER TABLE {_qualified(name)} DROP CONSTRAINT {_quote_ident(loading + '_bound')}")
        # ATTACH named the indexes after the loading table; give them the partition's name.
        cur.execute("SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = %s", (SCHEMA, name))
        for (index,) in cur.fetchall():
            if index.startswith(loading):
                renamed = name + index[len(loading) :]
                cur.execute(f"ALTER INDEX {_qualified(index)} RENAME TO {_quote_ident(renamed)}")
        return copied


def _upsert(cur: Any, table: Table, arrow: pa.Table, keep: Sequence[str] = ()) -> int:
    """INSERT ... ON CONFLICT (key) DO UPDATE through a temp table; ``keep`` columns keep their value."""
    target = _qualified(table.postgis_name or "")
    key = primary_key_columns(table)
    staging = f"_staging_{table.postgis_name}"
    cur.execute(f"CREATE TEMP TABLE {staging} (LIKE {target}) ON COMMIT DROP")
    copied = _copy_arrow(cur, staging, arrow)
    columns = arrow.column_names
    updates = [c for c in columns if c not in key and c not in keep]
    cur.execute(
        f"INSERT INTO {target} ({', '.join(map(_quote_ident, columns))}) "
        f"SELECT {', '.join(map(_quote_ident, columns))} FROM {staging} "
        f"ON CONFLICT ({', '.join(map(_quote_ident, key))}) DO UPDATE SET "
        + ", ".join(f"{_quote_ident(c)} = EXCLUDED.{_quote_ident(c)}" for c in updates)
    )
    cur.execute(f"DROP TABLE {staging}")
    return copied


def _require_unique_key(table: Table, arrow: pa.Table) -> None:
    key = primary_key_columns(table)
    distinct = arrow.group_by(list(key)).aggregate([]).num_rows
    if distinct != arrow.num_rows:
        raise ValueError(
            f"{arrow.num_rows - distinct} rows of {table.qualified_name} repeat a key {key}; "
            "deduplicate before publishing"
        )


def flatten_evidence(flags: pa.Table) -> pa.Table:
    """One row per evidence item of each flag: the rows of ``das.flag_evidence`` (evidence_no from 0)."""
    evidence = flags.column("evidence").combine_chunks()
    parents = pc.list_parent_indices(evidence)
    items = pc.list_flatten(evidence)
    offsets = evidence.offsets.to_numpy()
    parent_index = parents.to_numpy(zero_copy_only=False).astype(np.int64)
    value_index = offsets[0] + np.arange(len(items), dtype=np.int64)
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        "flag_id": flags.column("flag_id").take(parents),
        "evidence_no": pa.array(value_index - offsets[parent_index], pa.int32()),
    }
    for field in items.type:
        columns[field.name] = items.field(field.name)
    return to_arrow(FLAG_EVIDENCE, pa.table(columns))


def publish_flags(settings: Settings, flags: pa.Table | pd.DataFrame) -> dict[str, int]:
    """Upsert flags by flag_id, keeping the triage ``status`` of flags that already exist, and replace
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
    _require_unique_key(GOLD_FLAGS, arrow)
    evidence = flatten_evidence(raw)
    with _transaction(settings) as conn, conn.cursor() as cur:
        flags_written = _upsert(cur, GOLD_FLAGS, arrow, keep=("status",))
        cur.execute(
            f"DELETE FROM {_qualified(FLAG_EVIDENCE.postgis_name or '')} WHERE flag_id = ANY(%s)",
            (arrow.column("flag_id").to_pylist(),),
        )
        evidence_written = _copy_arrow(cur, _qualified(FLAG_EVIDENCE.postgis_name or ""), evidence)
    return {"flags": flags_written, "flag_evidence": evidence_written}


def publish_ingest_runs(settings: Settings, runs: pa.Table | pd.DataFrame) -> int:
    """Upsert ingest_runs rows by (ingest_run_id, source_checksum): a re-run replaces its own rows."""
    arrow = to_arrow(INGEST_RUNS, runs)
    _require_unique_key(INGEST_RUNS, arrow)
    with _transaction(settings) as conn, conn.cursor() as cur:
        return _upsert(cur, INGEST_RUNS, arrow)


# ---------------------------------------------------------------------------------------------------
# Reference boundaries
# ---------------------------------------------------------------------------------------------------


def boundary_rows(source: BoundarySource) -> pa.Table:
    """The rows of one boundary table from its GeoJSON: declared columns plus ``geom`` as hex EWKB."""
    import shapely
    from shapely.geometry import MultiPolygon, Polygon, shape

    features = json.loads(Path(source.path).read_text())["features"]
    geom_column = source.table.shapes[0]
    geoms: list[str] = []
    for feature in features:
        geometry = shape(feature["geometry"])
        if not geometry.is_valid:
            geometry = shapely.make_valid(geometry)
        polygons = [g for g in getattr(geometry, "geoms", [geometry]) if isinstance(g, Polygon | MultiPolygon)]
        parts = [p for g in polygons for p in (g.geoms if isinstance(g, MultiPolygon) else [g])]
        multi = shapely.set_srid(MultiPolygon(parts), geom_column.srid)
        geoms.append(shapely.to_wkb(multi, hex=True, include_srid=True))
    columns = {
        column: [feature["properties"].get(prop) for feature in features] for column, prop in source.properties.items()
    }
    arrow = to_arrow(source.table, pa.table(columns))
    return arrow.append_column(geom_column.name, pa.array(geoms, pa.string()))


def load_reference_data(settings: Settings) -> dict[str, int]:
    """(Re)load the boundary tables from the bundled GeoJSON samples; idempotent, one transaction."""
    counts: dict[str, int] = {}
    with _transaction(settings) as conn, conn.cursor() as cur:
        for source in BOUNDARY_SOURCES:
            target = _qualified(source.table.postgis_name or "")
            cur.execute(f"DELETE FROM {target}")
            counts[source.table.postgis_name or ""] = _copy_arrow(cur, target, boundary_rows(source))
    return counts


# ---------------------------------------------------------------------------------------------------
# Benchmark helper
# ---------------------------------------------------------------------------------------------------


def synthetic_reads(rows: int, day: date, *, cameras: int = 500, plates: int = 50_000, seed: int = 7) -> pa.Table:
    """Plausible anpr_reads rows for one day around central London (for throughput measurement)."""
    rng = np.random.default_rng(seed)
    camera_no = rng.integers(0, cameras, rows)
    cam_lon = -0.5 + 0.8 * np.random.default_rng(seed + 1).random(cameras)
    cam_lat = 51.3 + 0.35 * np.random.default_rng(seed + 2).random(cameras)
    from pyproj import Transformer

    cam_e, cam_n = Transformer.from_crs(4326, 27700, always_xy=True).transform(cam_lon, cam_lat)
    start = np.datetime64(_utc_midnight(day).replace(tzinfo=None), "us")
    read_at = start + rng.integers(0, 86_400_000_000, rows).astype("timedelta64[us]")
    plate_no = rng.integers(0, plates, rows)
    plates_text = np.char.add("AB", np.char.zfill(plate_no.astype(str), 5))
    data = {
        "read_id": [f"syn-{day:%Y%m%d}-{i}" for i in range(rows)],
        "camera_id": np.char.add("CAM", camera_no.astype(str)),
        "plate": plates_text,
        "plate_raw": plates_text,
        "read_at": pa.array(read_at, pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC")),
        "confidence": rng.random(rows),
        "country": np.full(rows, "GB"),
        "direction": np.full(rows, None),
        "lane": np.full(rows, None),
        "image_uri": np.full(rows, None),
        "longitude": cam_lon[camera_no],
        "latitude": cam_lat[camera_no],
        "easting": cam_e[camera_no],
        "northing": cam_n[camera_no],
        "h3_cell": np.full(rows, None),
        "source_file": np.full(rows, "synthetic"),
        "ingest_run_id": np.full(rows, "synthetic"),
    }
    return to_arrow(SILVER_ANPR_READS, pa.table({k: pa.array(v) for k, v in data.items()}))


def publish_throughput(
    settings: Settings, rows: int = 200_000, day: date = date(2000, 1, 1), *, keep: bool = False
) -> dict[str, float]:
    """Measure publish_reads_day rows/s on synthetic reads (day 2000-01-01 by default, dropped after)."""
    reads = synthetic_reads(rows, day)
    started = time.perf_counter()
    published = publish_reads_day(settings, reads, day)
    seconds = time.perf_counter() - started
    if not keep:
        drop_reads_day(settings, day)
    return {"rows": float(published), "seconds": seconds, "rows_per_s": published / seconds if seconds else 0.0}
