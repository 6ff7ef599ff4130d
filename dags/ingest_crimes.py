"""
# ingest_crimes

Ingest crime records (data.police.uk street CSV, police.uk API JSON, generic incident CSV, or mapped CSV) from
`<landing>/crimes/` into bronze and silver Delta, with occurrence windows and location precision, then publish
`das.crimes`. Daily.

Every landed row is published, quarantined with a reason (`quarantine/rejected_rows`), or counted as a
duplicate; `ingest_runs` records the reconciliation per file. Re-runs and backfills are no-ops for files
already ingested (identified by checksum). Logic lives in `jobs.tasks`; this file only wires it.
"""

from airflow.sdk import DAG

from jobs.orchestration import build_ingest_dag

dag: DAG = build_ingest_dag("crimes", doc_md=__doc__)
