"""The quarantine summary for engineers: rows of ``quarantine/rejected_rows`` counted into ``das.quarantine_counts``.

Publishing a source's runs replaces the counts of the files those runs read, so the summary follows re-ingests and
publishing twice changes nothing. Engineers read it through the view ``das.quarantine_summary`` (migration 0006);
analysts cannot: it names landing files and the pipeline's faults, not analysis data.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from das.config import Settings
from das.postgis.publish import publish
from schemas.operations import QUARANTINE_COUNTS

GROUP_BY = ("source", "reason_code", "source_file", "ingest_date")
# The lake columns the summary reads (never raw_record: it can be large and holds personal data).
QUARANTINE_COLUMNS = (*GROUP_BY, "whole_file", "ingested_at")


def quarantine_counts(rejected: pa.Table) -> pa.Table:
    """Rejected rows -> one row per (source, reason, file, day of ingest): how many, whether whole-file, when."""
    grouped = rejected.select(list(QUARANTINE_COLUMNS)).group_by(list(GROUP_BY), use_threads=False)
    counted = grouped.aggregate(
        [("source", "count"), ("whole_file", "any"), ("ingested_at", "min"), ("ingested_at", "max")]
    )
    columns = {
        **{name: counted.column(name) for name in GROUP_BY},
        "rows": counted.column("source_count"),
        "whole_file": counted.column("whole_file_any"),
        "first_ingested_at": counted.column("ingested_at_min"),
        "last_ingested_at": counted.column("ingested_at_max"),
    }
    return pa.table(columns).sort_by([(name, "ascending") for name in GROUP_BY])


def publish_quarantine_counts(settings: Settings, source: str, files: Sequence[str], rejected: pa.Table) -> int:
    """Replace the counts of ``source``'s ``files`` with those of ``rejected`` (their quarantined rows), in one
    transaction; returns the count rows written."""
    return publish(
        settings,
        QUARANTINE_COUNTS,
        quarantine_counts(rejected),
        replace_where="source = %s AND source_file = ANY(%s)",
        params=(source, list(files)),
    )
