"""The PostGIS adapter: engine, migrations, boundary loading and bulk publishing into schema ``das``.

Publishing uses COPY FROM STDIN (CSV written by Arrow), never row inserts, and each publish is one
transaction that first removes the slice it replaces, so re-publishing the same slice is idempotent.
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Iterator, Sequence
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
from psycopg2 import sql
from psycopg2.extensions import connection as PgConnection
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from das.config import REPO_ROOT, Settings
from das.errors import ServiceError
from schemas.model import Table
from schemas.postgis import SCHEMA, copy_columns, primary_key_columns, served_tables
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
    where = settings.database_url and "DAS_DATABASE_URL" or f"{settings.pg_host}:{settings.pg_port}"
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


def include_name(name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
    """Alembic filter: only schema ``das`` is ours (PostGIS keeps its own tables in ``public``)."""
    if type_ == "schema":
        return name == SCHEMA
    return True


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic filter: daily partitions are created on publish, not by migrations."""
    if type_ == "table" and reflected and name and any(p.match(name) for p in _PARTITION_PATTERNS):
        return False
    return True


def prepare_database(connection: Connection) -> None:
    """What must exist before Alembic runs: the PostGIS extension and schema ``das`` (its version table)."""
    connection.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
    connection.commit()


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
