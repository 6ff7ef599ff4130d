"""Alembic environment for schema ``das``: target metadata generated from the table declarations.

``das.postgis.migrate(settings)`` passes an open connection in ``config.attributes["connection"]``;
the alembic CLI falls back to the URL from ``das.config`` settings.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from alembic.operations import ops
from geoalchemy2 import alembic_helpers
from sqlalchemy.engine import Connection

from das.config import get_settings
from das.postgis import engine_for_url, migration_options, prepare_database
from schemas.postgis import METADATA

config = context.config


def _write_revision(context_: Any, revision: Any, directives: list[Any]) -> None:
    """GeoAlchemy2's rewriter, plus explicit table comments: its create_geospatial_table drops them."""
    alembic_helpers.writer(context_, revision, directives)
    for script in directives:
        upgrade = script.upgrade_ops.ops
        for position in range(len(upgrade) - 1, -1, -1):
            op = upgrade[position]
            if isinstance(op, alembic_helpers.CreateGeospatialTableOp):
                declared = METADATA.tables.get(f"{op.schema}.{op.table_name}")
                comment = op.comment or (declared.comment if declared is not None else None)
                op.comment = None
                if comment:
                    upgrade.insert(position + 1, ops.CreateTableCommentOp(op.table_name, comment, schema=op.schema))


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=METADATA,
        **migration_options(),
        process_revision_directives=_write_revision,
        render_item=alembic_helpers.render_item,
        **kwargs,  # type: ignore[arg-type]
    )


def run_migrations_offline() -> None:
    _configure(
        url=config.get_main_option("sqlalchemy.url") or get_settings().sqlalchemy_url,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    prepare_database(connection)
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or get_settings().sqlalchemy_url
    with engine_for_url(url).connect() as conn:
        _run(conn)
        conn.commit()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
