"""The PostGIS adapter: connections, migrations, boundary loading and bulk publishing into schema ``das``.

- ``connection``: engines, one-transaction contexts, identifier quoting;
- ``copy``: Arrow -> COPY FROM STDIN (CSV written by Arrow), never row inserts;
- ``partitions``: daily partitions of tables declared with ``postgis_partition_by_day``;
- ``publish``: replace, upsert and day-partition publishing, each one transaction;
- ``migrations``: Alembic and the drift check; ``boundaries``: the reference boundaries;
- ``h3_cells``: the served H3 cell outlines; ``quarantine``: the quarantine summary for engineers.
"""

from das.postgis.boundaries import boundary_rows, load_boundaries, load_reference_data
from das.postgis.connection import engine, engine_for_url, transaction
from das.postgis.copy import to_arrow
from das.postgis.migrations import migrate, migration_options, prepare_database, schema_drift
from das.postgis.partitions import drop_day_partition, list_day_partitions, partition_name
from das.postgis.publish import (
    flatten_evidence,
    publish,
    publish_day_partition,
    publish_flags,
    publish_replace,
    publish_upsert,
)
from das.postgis.quarantine import publish_quarantine_counts

__all__ = [
    "boundary_rows",
    "drop_day_partition",
    "engine",
    "engine_for_url",
    "flatten_evidence",
    "list_day_partitions",
    "load_boundaries",
    "load_reference_data",
    "migrate",
    "migration_options",
    "partition_name",
    "prepare_database",
    "publish",
    "publish_day_partition",
    "publish_flags",
    "publish_quarantine_counts",
    "publish_replace",
    "publish_upsert",
    "schema_drift",
    "to_arrow",
    "transaction",
]
