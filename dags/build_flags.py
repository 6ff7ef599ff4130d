"""
# build_flags

Triggered whenever new silver data exists (the silver Assets of reads, crimes, hotlist and cameras). Runs the
pattern detectors (hotlist_hit, cloned_plate, convoy, vehicle_near_crimes, near_repeat, emerging_hotspot,
camera_silent) as Spark jobs over silver Delta, merges the flags into gold by their deterministic flag_id, and
publishes them with their evidence to PostGIS (`das.flags`, `das.flag_evidence`), keeping investigators' triage
status. Logic lives in `jobs.tasks` and `jobs.detectors`; this file only wires it.
"""

from airflow.sdk import DAG

from jobs.orchestration import build_flags_dag

dag: DAG = build_flags_dag(doc_md=__doc__)
