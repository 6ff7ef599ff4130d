"""DAG building blocks: team conventions, Assets, and the factory the thin files in ``dags/`` call.

Tasks only call functions in ``jobs.tasks``; nothing here does IO at import time, so DAG files parse without a
database or services.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from functools import reduce
from operator import or_
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Asset, Param, dag, task
from airflow.sdk.exceptions import AirflowSkipException

from jobs.ingest.spec import SourceSpec
from jobs.sources import source_specs, sources_landing_before
from schemas.tables import GOLD_FLAGS

log = logging.getLogger("das.alerts")

OWNER = "das-data-engineering"
START = datetime(2024, 1, 1, tzinfo=timezone.utc)
FLAGS_ASSET = Asset(f"das://{GOLD_FLAGS.qualified_name}")
INGEST_DOC = """
Every landed row is published, quarantined with a reason (`quarantine/rejected_rows`), or counted as a
duplicate; `ingest_runs` records the reconciliation per file. Re-runs and backfills are no-ops for files
already ingested (identified by checksum). Logic lives in `jobs`; the DAG file only wires it.
"""


def silver_asset(spec: SourceSpec) -> Asset:
    return Asset(spec.asset_uri)


def alert_on_failure(context: dict[str, Any]) -> None:
    """Failure callback: a log line, an append to DAS_HOME/logs/alerts.log, and the configured notifiers
    (``DAS_ALERTS__WEBHOOK_URL`` signed with ``DAS_ALERTS__WEBHOOK_SECRET``, ``DAS_ALERTS__SMTP_*``)."""
    from das.config import get_settings
    from das.notify import notify

    ti = context.get("task_instance")
    details = {
        "at": datetime.now(timezone.utc).isoformat(),
        "dag_id": getattr(ti, "dag_id", "?"),
        "task_id": getattr(ti, "task_id", "?"),
        "run_id": context.get("run_id"),
        "error": str(context.get("exception")),
    }
    message = " ".join(f"{k}={v}" for k, v in details.items())
    log.error("ALERT %s", message)
    settings = get_settings()
    deliveries = notify(settings.alerts, f"das: {details['dag_id']}.{details['task_id']} failed", details)
    failed = [f"{d.channel}: {d.error}" for d in deliveries if not d.ok]
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    with Path(settings.logs_dir, "alerts.log").open("a", encoding="utf-8") as handle:
        handle.write(f"ALERT {message}" + (f" (not delivered: {'; '.join(failed)})" if failed else "") + "\n")


def _settings() -> Any:
    from das.config import get_settings

    return get_settings()


POSTGIS_CONN_ID = "das_postgis"
# Pools bound what runs at once: Spark tasks each hold a JVM (driver memory and cores), PostGIS tasks a connection
# and COPY bandwidth. Create them with ``airflow pools import`` (docs/deploy.md) or ``das airflow``.
SPARK_POOL = "das_spark"
POSTGIS_POOL = "das_postgis"


def pools() -> dict[str, dict[str, Any]]:
    """The pools the DAGs use, in ``airflow pools import`` form, sized from settings."""
    settings = _settings()
    return {
        SPARK_POOL: {"slots": settings.spark_pool_slots, "description": "das tasks that run a Spark application"},
        POSTGIS_POOL: {"slots": settings.postgis_pool_slots, "description": "das tasks that publish to PostGIS"},
    }


LIBPQ_EXTRAS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "application_name", "options")


def task_settings() -> Any:
    """The settings a task runs with: PostGIS from the ``das_postgis`` Airflow Connection when one is defined
    (read with the providers-postgres hook, so the secret can live in any secrets backend), else ``DAS_*``."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook
    from airflow.sdk.exceptions import AirflowNotFoundException
    from sqlalchemy.engine import URL

    settings = _settings()
    try:
        conn = PostgresHook.get_connection(POSTGIS_CONN_ID)
    except AirflowNotFoundException:
        return settings
    extras = conn.extra_dejson
    url = URL.create(
        "postgresql+psycopg2",
        username=conn.login,
        password=conn.password,
        host=conn.host,
        port=conn.port,
        database=conn.schema or settings.pg_database,
        query={k: str(extras[k]) for k in LIBPQ_EXTRAS if k in extras},
    )
    return settings.model_copy(update={"database_url": url.render_as_string(hide_password=False)})


DEFAULT_ARGS: dict[str, Any] = {
    "owner": OWNER,
    "execution_timeout": timedelta(minutes=_settings().task_timeout_minutes),
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "on_failure_callback": alert_on_failure,
}


def build_ingest_dag(spec: SourceSpec) -> DAG:
    """landing/<source> -> bronze + silver Delta (validated) -> PostGIS; emits the silver Asset."""
    source = spec.name

    @dag(
        dag_id=spec.dag_id,
        schedule=_settings().schedules.get(spec.dag_id, spec.schedule),
        dagrun_timeout=timedelta(minutes=_settings().dagrun_timeout_minutes),
        start_date=START,
        catchup=False,  # ingest is by file checksum: a backfill run re-checks landing and is a no-op if done
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["das", "ingest", source],
        doc_md=f"# {spec.dag_id}\n\n{spec.description} Schedule `{spec.schedule}`.\n{INGEST_DOC}",
    )
    def ingest_dag() -> None:
        @task(pool=SPARK_POOL)
        def ingest_to_silver() -> dict[str, Any]:
            from jobs import tasks

            # Sources sharing a landing folder go in registry order: alerts never before the deployments that
            # landed with them (an alert of a deployment not yet ingested would be quarantined).
            for earlier in sources_landing_before(spec):
                done = tasks.ingest(earlier.name, settings=task_settings())
                tasks.publish(earlier.name, done, settings=task_settings())
            return tasks.ingest(source, settings=task_settings())

        @task(pool=POSTGIS_POOL)
        def publish_to_postgis(summary: dict[str, Any]) -> dict[str, Any]:
            from jobs import tasks

            return {"summary": summary, "published": tasks.publish(source, summary, settings=task_settings())}

        @task(outlets=[silver_asset(spec)])
        def announce_changes(done: dict[str, Any]) -> None:
            """The silver Asset is emitted only when silver changed: no landing, no detector run."""
            if not silver_changed(done["summary"]):
                raise AirflowSkipException(f"nothing new in {spec.silver.qualified_name}: no Asset event")

        announce_changes(publish_to_postgis(ingest_to_silver()))  # type: ignore[arg-type]  # XComs

    return ingest_dag()


def silver_changed(summary: dict[str, Any]) -> bool:
    return bool(
        summary.get("rows_published")
        or summary.get("rows_withdrawn")
        or summary.get("recovered_runs")
        or summary.get("rows_updated")
    )


def build_flags_dag(doc_md: str) -> DAG:
    """Triggered by any silver Asset: run the detectors, merge into gold flags, publish to PostGIS."""

    @dag(
        dag_id="build_flags",
        dagrun_timeout=timedelta(minutes=_settings().dagrun_timeout_minutes),
        schedule=reduce(or_, [silver_asset(s) for s in source_specs() if s.feeds_detectors]),
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["das", "flags", "detectors"],
        doc_md=doc_md,
        params={"day": Param(None, type=["null", "string"], format="date", description="recompute this past day")},
    )
    def flags_dag() -> None:
        @task(outlets=[FLAGS_ASSET], pool=SPARK_POOL)
        def detect_and_publish(params: dict[str, Any] | None = None) -> dict[str, Any]:
            from datetime import date

            from jobs import tasks

            day = (params or {}).get("day")
            return tasks.detect(settings=task_settings(), day=date.fromisoformat(day) if day else None)

        detect_and_publish()

    return flags_dag()


def build_retention_dag(doc_md: str) -> DAG:
    """Daily: delete what has expired from every layer and PostGIS, vacuum it away, log it in the audit log."""

    @dag(
        dag_id="retention",
        dagrun_timeout=timedelta(minutes=_settings().dagrun_timeout_minutes),
        schedule=_settings().schedules.get("retention", "@daily"),
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["das", "governance", "retention"],
        doc_md=doc_md,
    )
    def retention_dag() -> None:
        @task(pool=SPARK_POOL)
        def apply_retention() -> dict[str, Any]:
            from jobs import tasks

            return tasks.retention(settings=task_settings())

        apply_retention()

    return retention_dag()


def build_maintenance_dag(doc_md: str) -> DAG:
    """Daily upkeep of the lake and PostGIS."""

    @dag(
        dag_id="maintenance",
        dagrun_timeout=timedelta(minutes=_settings().dagrun_timeout_minutes),
        schedule=_settings().schedules.get("maintenance", "@daily"),
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["das", "maintenance"],
        doc_md=doc_md,
    )
    def maintenance_dag() -> None:
        @task(pool=SPARK_POOL)
        def maintain() -> dict[str, Any]:
            from jobs import tasks

            return tasks.maintain(settings=task_settings())

        maintain()

    return maintenance_dag()
