"""Alembic migrations of schema ``das``, and the drift check against the declarations."""

from __future__ import annotations

from typing import Any

import psycopg2
from psycopg2 import sql
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection

from das.config import PACKAGE_DIR, Settings
from das.credentials import generated
from das.postgis.boundaries import load_reference_data
from das.postgis.connection import engine, transaction, unreachable
from das.postgis.partitions import PARTITION_PATTERNS
from schemas.governance import API_LOGIN
from schemas.postgis import METADATA, SCHEMA

ALEMBIC_INI = PACKAGE_DIR / "postgis" / "alembic" / "alembic.ini"  # package data


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic filter: only schema ``das`` is ours (PostGIS keeps its own tables in ``public``)."""
    if type_ == "schema":
        return name == SCHEMA
    return True


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic filter: daily partitions are created on publish, not by migrations."""
    is_partition = bool(name) and any(p.match(name or "") for p in PARTITION_PATTERNS)
    return not (type_ == "table" and reflected and is_partition)


def prepare_database(connection: Connection) -> None:
    """What must exist before Alembic runs: the PostGIS extension and schema ``das`` (its version table)."""
    connection.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
    connection.commit()


def schema_drift(settings: Settings, metadata: MetaData | None = None) -> list[Any]:
    """Differences between the migrated database and the declarations (Alembic's autogenerate diff).

    Empty when every declaration change has its migration; otherwise generate one with
    ``alembic -c das/postgis/alembic/alembic.ini revision --autogenerate -m "..."``.
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
    cfg.set_main_option("script_location", str(ALEMBIC_INI.parent))
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
            raise unreachable(settings, exc) from exc
        raise
    finally:
        eng.dispose()
    if settings.uses_local_postgres:
        enable_api_login(settings)
    if load_boundaries:
        load_reference_data(settings)


def enable_api_login(settings: Settings) -> None:
    """Local database: das_api (created NOLOGIN by migration 0007) logs in with its generated password.

    A managed database's DBA does this once instead and gives das serve DAS_API_DATABASE_URL.
    """
    password = settings.local_password(API_LOGIN) or generated(settings, f"pg-{API_LOGIN}.password")
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD %s").format(sql.Identifier(API_LOGIN)), (password,))
