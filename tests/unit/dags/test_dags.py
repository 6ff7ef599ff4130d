"""Every DAG imports without a database or services and follows the team's conventions."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

DAGS_FOLDER = Path(__file__).resolve().parents[3] / "dags"
EXPECTED = {
    "ingest_cameras",
    "ingest_crimes",
    "ingest_hotlist",
    "ingest_anpr",
    "ingest_video_events",
    "ingest_lfr_deployments",
    "ingest_lfr_alerts",
    "build_flags",
    "retention",
    "maintenance",
}


@pytest.fixture(scope="module")
def dagbag():  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))


def test_every_dag_imports_without_errors(dagbag) -> None:  # type: ignore[no-untyped-def]
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == EXPECTED


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_dag_conventions(dagbag, dag_id: str) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.dags[dag_id]
    assert dag.doc_md and dag_id in dag.doc_md
    assert dag.tags and "das" in dag.tags
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.dagrun_timeout is not None, f"{dag_id} has no dagrun_timeout"
    for task in dag.tasks:
        assert task.execution_timeout is not None, f"{dag_id}.{task.task_id} has no execution_timeout"
        assert task.owner == "das-data-engineering"
        assert task.retries >= 1
        assert task.on_failure_callback, f"{dag_id}.{task.task_id} has no failure alert"
        if task.task_id != "announce_changes":  # the announce task does no work: the default pool
            assert task.pool in ("das_spark", "das_postgis"), f"{dag_id}.{task.task_id} is in no das pool"


def test_the_ingest_dag_runs_one_spark_application(dagbag) -> None:  # type: ignore[no-untyped-def]
    """Only the ingest task starts Spark; publishing reads the lake as Arrow (see tests of jobs.publish)."""
    pools = {t.task_id: t.pool for t in dagbag.dags["ingest_anpr"].tasks}
    assert pools == {
        "ingest_to_silver": "das_spark",
        "publish_to_postgis": "das_postgis",
        "announce_changes": "default_pool",
    }


def test_pools_are_sized_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from das.config import reset_settings_cache
    from jobs.orchestration import pools

    monkeypatch.setenv("DAS_SPARK_POOL_SLOTS", "3")
    reset_settings_cache()
    try:
        assert pools()["das_spark"]["slots"] == 3 and pools()["das_postgis"]["slots"] == 4
    finally:
        monkeypatch.delenv("DAS_SPARK_POOL_SLOTS")
        reset_settings_cache()


def test_tasks_take_postgis_from_the_airflow_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from das.config import reset_settings_cache
    from jobs.orchestration import task_settings

    monkeypatch.delenv("AIRFLOW_CONN_DAS_POSTGIS", raising=False)
    reset_settings_cache()
    assert task_settings().database_url is None  # no Connection: the DAS_* settings
    connection = {
        "conn_type": "postgres",
        "host": "postgis.force.internal",
        "port": 6432,
        "login": "das",
        "password": "p@ss:word/1",
        "schema": "das_prod",
        "extra": {"sslmode": "verify-full", "ignored_extra": "x"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_DAS_POSTGIS", json.dumps(connection))
    try:
        settings = task_settings()
    finally:
        reset_settings_cache()
    assert settings.database_url == (
        "postgresql+psycopg2://das:p%40ss%3Aword%2F1@postgis.force.internal:6432/das_prod?sslmode=verify-full"
    )
    assert settings.libpq_dsn.startswith("postgresql://das:")


def test_ingest_dags_emit_silver_assets_and_flags_dag_consumes_them(dagbag) -> None:  # type: ignore[no-untyped-def]
    uris = set()
    for source in ("cameras", "crimes", "hotlist", "anpr"):
        dag = dagbag.dags[f"ingest_{source}"]
        outlets = [o for t in dag.tasks for o in t.outlets]
        uris |= {o.uri for o in outlets}
    assert uris == {"das://silver/cameras", "das://silver/crimes", "das://silver/hotlist", "das://silver/anpr_reads"}
    flags = dagbag.dags["build_flags"]
    assert type(flags.timetable).__name__ == "AssetTriggeredTimetable"
    lfr = {
        o.uri for s in ("lfr_deployments", "lfr_alerts") for t in dagbag.dags[f"ingest_{s}"].tasks for o in t.outlets
    }
    assert lfr == {"das://silver/lfr_deployments", "das://silver/lfr_alerts"}
    assert not any(uri in str(flags.timetable.asset_condition) for uri in lfr)  # LFR feeds no detector
    assert "anpr_reads" in str(flags.timetable.asset_condition)


def test_schedules_come_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from das.config import reset_settings_cache
    from jobs.orchestration import build_ingest_dag
    from jobs.sources import ANPR

    monkeypatch.setenv("DAS_SCHEDULES", '{"ingest_anpr": "*/10 * * * *"}')
    reset_settings_cache()
    try:
        assert build_ingest_dag(ANPR).schedule == "*/10 * * * *"
    finally:
        monkeypatch.delenv("DAS_SCHEDULES")
        reset_settings_cache()
    assert build_ingest_dag(ANPR).schedule == ANPR.schedule
