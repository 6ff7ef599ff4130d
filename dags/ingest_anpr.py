"""
# ingest_anpr

Micro-batch ingest of ANPR plate reads (CSV or JSONL) from `<landing>/anpr/` every 5 minutes: normalise
plates, UTC times, locate each read at its camera's position at read time, dedupe by read_id, validate (Great
Expectations) before publish, then replace the touched day partitions of `das.anpr_reads`.

Every landed row is published, quarantined with a reason (`quarantine/rejected_rows`), or counted as a
duplicate; `ingest_runs` records the reconciliation per file. Re-runs and backfills are no-ops for files
already ingested (identified by checksum). Logic lives in `jobs.tasks`; this file only wires it.
"""

from airflow.sdk import DAG

from jobs.orchestration import build_ingest_dag

dag: DAG = build_ingest_dag("anpr", doc_md=__doc__)
