"""
# ingest_cameras

Ingest camera metadata (TfL JamCam GeoJSON, generic camera CSV, or any CSV/GeoJSON with a *.mapping.yaml) from
`<landing>/cameras/` into bronze and silver Delta, keeping camera history (SCD type 2), then publish
`das.cameras` to PostGIS. Hourly.

Every landed row is published, quarantined with a reason (`quarantine/rejected_rows`), or counted as a
duplicate; `ingest_runs` records the reconciliation per file. Re-runs and backfills are no-ops for files
already ingested (identified by checksum). Logic lives in `jobs.tasks`; this file only wires it.
"""

from airflow.sdk import DAG

from jobs.orchestration import build_ingest_dag

dag: DAG = build_ingest_dag("cameras", doc_md=__doc__)
