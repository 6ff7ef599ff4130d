"""
# retention

Daily. Deletes what the retention policy (`DAS_RETENTION__*`) says has expired: ANPR reads after 12 months from
bronze, silver and their PostGIS day partitions; quarantined rows after 30 days; audit rows after 7 years. Vacuum
then removes the files, so time travel cannot bring them back. Flags keep their summary; their expired read
evidence is marked expired (hotlist hits keep theirs). What was removed goes to the audit log. Logic lives in
`jobs.retention`; this file only wires it.
"""

from airflow.sdk import DAG

from jobs.orchestration import build_retention_dag

dag: DAG = build_retention_dag(doc_md=__doc__)
