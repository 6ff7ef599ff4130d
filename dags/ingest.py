"""
# ingest DAGs

One DAG per source spec (`jobs.sources`): `ingest_cameras`, `ingest_hotlist`, `ingest_crimes`, `ingest_anpr`.
Each ingests `<landing>/<source>/` into bronze and silver Delta (validated by Great Expectations before publish),
publishes the changes to PostGIS, and emits the source's silver Asset. This file only wires them.
"""

from airflow.sdk import DAG

from jobs.orchestration import build_ingest_dag
from jobs.sources import source_specs

INGEST_DAGS: dict[str, DAG] = {spec.dag_id: build_ingest_dag(spec) for spec in source_specs()}
globals().update(INGEST_DAGS)  # Airflow collects the DAGs of a module from its globals
