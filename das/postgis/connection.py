"""Connections to the serving database, and SQL identifier quoting."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
from psycopg2.extensions import connection as PgConnection
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from das.config import Settings
from das.errors import ServiceError
from schemas.postgis import SCHEMA

# The login role is usually called "das" too, so the default search_path ("$user", public) would make
# schema das the default schema and Alembic would then compare it as schema None. Pin it.
_SEARCH_PATH_OPTION = "-c search_path=public"


def engine_for_url(url: str) -> Engine:
    """An unpooled engine (callers are short-lived jobs) with the search_path pinned to ``public``."""
    return create_engine(url, poolclass=NullPool, connect_args={"options": _SEARCH_PATH_OPTION})


def engine(settings: Settings) -> Engine:
    """A SQLAlchemy engine on the serving database; always name ``das.`` objects explicitly."""
    return engine_for_url(settings.sqlalchemy_url)


def unreachable(settings: Settings, exc: Exception) -> ServiceError:
    where = "DAS_DATABASE_URL" if settings.database_url else f"{settings.pg_host}:{settings.pg_port}"
    return ServiceError(
        f"PostGIS at {where} is unreachable ({_first_line(exc)}); start the local "
        "cluster with `das up` or point DAS_DATABASE_URL at a running PostGIS"
    )


@contextmanager
def transaction(settings: Settings) -> Iterator[PgConnection]:
    """One psycopg2 transaction: committed on success, rolled back on any error."""
    try:
        conn = psycopg2.connect(settings.libpq_dsn)
    except psycopg2.OperationalError as exc:
        raise unreachable(settings, exc) from exc
    try:
        with conn:  # commits or rolls back
            yield conn
    except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
        raise ServiceError(
            f"the connection to PostGIS was lost during a transaction ({_first_line(exc)}); nothing of it was "
            "committed: retry once the database is back (an Airflow task retries by itself)"
        ) from exc
    finally:
        with contextlib.suppress(psycopg2.Error):
            conn.close()


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def qualified(name: str) -> str:
    """``das."name"``: a table or index of the serving schema, quoted."""
    return f"{SCHEMA}.{quote_ident(name)}"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
