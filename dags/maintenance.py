"""
# maintenance

Daily upkeep: compacts small Delta files (OPTIMIZE), vacuums files no table version within the time-travel window
needs (`DAS_MAINTENANCE__VACUUM_RETENTION_HOURS`), prunes old Great Expectations results, archives landing files
already ingested (the checksum ledger keeps their record) and refreshes PostGIS statistics (ANALYZE). Logic lives in
`jobs.maintenance`; this file only wires it.
"""

from airflow.sdk import DAG

from jobs.orchestration import build_maintenance_dag

dag: DAG = build_maintenance_dag(doc_md=__doc__)
