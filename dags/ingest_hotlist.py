"""
# ingest_hotlist

Ingest vehicle-of-interest hotlists from `<landing>/hotlist/` into silver Delta and publish `das.hotlist`.
Every 15 minutes; new entries trigger retro-hit checks through the silver Asset.

Every landed row is published, quarantined with a reason (`quarantine/rejected_rows`), or counted as a
duplicate; `ingest_runs` records the reconciliation per file. Re-runs and backfills are no-ops for files
already ingested (identified by checksum). Logic lives in `jobs.tasks`; this file only wires it.
"""

from airflow.sdk import DAG

from jobs.orchestration import build_ingest_dag

dag: DAG = build_ingest_dag("hotlist", doc_md=__doc__)
