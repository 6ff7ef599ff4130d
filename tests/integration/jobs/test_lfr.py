"""Live facial recognition end to end: the fixture built to the Met's published totals ingests through the same
task functions the DAGs run, reconciles, publishes to PostGIS, and the oversight report (CLI and API, as each role)
reproduces the published totals exactly. Bad records are quarantined with their reason; a deployment with fewer
faces than alerts fails the quality gate and nothing is published.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from das import users
from das.config import Settings, reset_settings_cache
from das.errors import QualityGateError
from das.lake import DeltaRsLake
from das.oversight import POOLED
from das_api import create_app
from das_cli.main import app
from das_tools.simulator.lfr import MET_PUBLISHED, write_met_published_fixture
from jobs import tasks
from schemas.tables import QUARANTINE, SILVER_LFR_ALERTS, SILVER_LFR_DEPLOYMENTS
from tests.postgres_fixtures import elsewhere, own_database

pytestmark = pytest.mark.integration
NOW = datetime(2025, 10, 1, tzinfo=UTC)
PERIOD = ["--from", "2024-09-01", "--to", "2025-08-31"]


def ingest_lfr(settings: Settings, folder: Path) -> dict[str, dict[str, Any]]:
    """Both LFR sources, deployments first, each ingested and published (what `das ingest lfr` does)."""
    done = {}
    for name in ("lfr_deployments", "lfr_alerts"):
        done[name] = tasks.ingest(name, folder, settings=settings, now=NOW)
        done[name]["published"] = tasks.publish(name, done[name], settings=settings)
    return done


@pytest.fixture(scope="module")
def met(pg_settings: Settings, spark: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    landing = tmp_path_factory.mktemp("lfr-landing")
    write_met_published_fixture(landing)
    with own_database(pg_settings, "das_lfr_test") as db:
        settings = elsewhere(db, tmp_path_factory.mktemp("lfr-home"))
        yield {"db": db, "settings": settings, "landing": landing, "first": ingest_lfr(settings, landing / "lfr")}


def report_json(db: Settings, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    monkeypatch.setenv("DAS_HOME", str(db.home_abs))  # the cluster's home: `das up` finds it running
    monkeypatch.setenv("DAS_PG_PORT", str(db.pg_port))
    monkeypatch.setenv("DAS_PG_DATABASE", db.pg_database)
    reset_settings_cache()
    try:
        done = CliRunner().invoke(app, ["report", "lfr", *args])
    finally:
        reset_settings_cache()
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout) if "--json" in args else done.stdout


def test_both_sources_reconcile_and_a_rerun_changes_nothing(met: dict[str, Any]) -> None:
    first = met["first"]
    deployments, alerts = first["lfr_deployments"], first["lfr_alerts"]
    assert (deployments["files"], deployments["rows_landed"], deployments["rows_published"]) == (1, 203, 203)
    assert (alerts["files"], alerts["rows_landed"], alerts["rows_published"]) == (1, 2077, 2077)
    assert deployments["published"]["lfr_deployments"] == 203 and alerts["published"]["lfr_alerts"] == 2077
    again = ingest_lfr(met["settings"], met["landing"] / "lfr")
    assert all(s["files_skipped"] == 1 and s["rows_published"] == 0 for s in again.values())


def test_the_cli_report_reproduces_the_published_totals(met: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    report = report_json(met["db"], monkeypatch, *PERIOD, "--json")
    total = report["total"]
    assert (
        total["deployments"],
        total["faces_scanned"],
        total["alerts"],
        total["false_alerts"],
        total["arrests"],
    ) == (203, 3_100_000, 2_077, 10, 962)
    assert total["true_matches"] == MET_PUBLISHED.true_matches
    assert total["false_alert_rate"] == pytest.approx(10 / 2077)
    assert total["false_alerts_per_1000_faces"] == pytest.approx(10 / 3100)
    # Each breakdown adds up to the total.
    for part in ("boroughs", "deployments"):
        assert sum(r["alerts"] for r in report[part]) == 2077
        assert sum(r["faces_scanned"] for r in report[part]) == 3_100_000
    assert sum(b["deployments"] for b in report["boroughs"]) == 203 and len(report["deployments"]) == 203
    assert {b["borough"] for b in report["boroughs"]} >= {"Croydon", "Westminster", "Newham"}  # boroughs loaded
    groups = report["false_alerts_by_group"]
    assert sum(g["alerts"] for g in groups) == 2077 and sum(g["false_alerts"] for g in groups) == 10
    assert all(g["warning"] for g in groups)  # ten false alerts across six groups: nothing can be concluded
    assert "too small" in report["group_comparison_warning"]
    text = report_json(met["db"], monkeypatch, *PERIOD)
    assert "deployments 203" in text and "faces scanned 3,100,000" in text and "arrests 962" in text


def test_a_period_selects_deployments_by_their_start(met: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    autumn = report_json(met["db"], monkeypatch, "--from", "2024-09-01", "--to", "2024-11-30", "--json")
    rest = report_json(met["db"], monkeypatch, "--from", "2024-12-01", "--to", "2025-08-31", "--json")
    assert 0 < autumn["total"]["deployments"] < 203
    assert autumn["total"]["deployments"] + rest["total"]["deployments"] == 203
    assert autumn["total"]["alerts"] + rest["total"]["alerts"] == 2077
    # One day's deployment: its few alerts' recorded groups are pooled, never shown one by one.
    day = report_json(met["db"], monkeypatch, "--from", "2024-10-02", "--to", "2024-10-02", "--json")
    groups = day["false_alerts_by_group"]
    assert 0 < day["total"]["alerts"] < 60 and sum(g["alerts"] for g in groups) == day["total"]["alerts"]
    assert all(g["alerts"] >= 10 or g["group"] == POOLED for g in groups)
    assert any(g["group"] == POOLED for g in groups)


def test_the_api_serves_the_report_to_every_role(met: dict[str, Any]) -> None:
    db = met["db"]
    suffix = secrets.token_hex(3)
    people = {role: users.add(db, f"lfr_{role}_{suffix}", role) for role in ("analyst", "auditor", "engineer")}
    with TestClient(create_app(db)) as client:
        for person in people.values():
            response = client.get(
                "/api/reports/lfr",
                params={"from": "2024-09-01T00:00:00Z", "to": "2025-09-01T00:00:00Z"},
                headers={"Authorization": f"Bearer {person.api_token}"},
            )
            assert response.status_code == 200, response.text
            assert response.json()["total"]["alerts"] == 2077
        backwards = client.get(
            "/api/reports/lfr",
            params={"from": "2025-09-01T00:00:00Z", "to": "2024-09-01T00:00:00Z"},
            headers={"Authorization": f"Bearer {people['analyst'].api_token}"},
        )
        assert backwards.status_code == 422
        assert client.get("/api/reports/lfr", params={"from": "2024-09-01", "to": "2025-09-01"}).status_code == 401


def test_an_analyst_sees_the_aggregates_but_not_the_alerts(met: dict[str, Any]) -> None:
    db = met["db"]
    analyst = users.add(db, f"lfr_sql_analyst_{secrets.token_hex(3)}", "analyst")
    with (
        psycopg2.connect(
            host="127.0.0.1", port=db.pg_port, dbname=db.pg_database, user=analyst.name, password=analyst.db_password
        ) as conn,
        conn.cursor() as cur,
    ):
        cur.execute("SELECT sum(alerts) FROM das.lfr_report_deployments('2024-09-01', '2025-09-01')")
        assert cur.fetchone() == (2077,)
        cur.execute("SELECT count(*) FROM das.lfr_deployments")
        assert cur.fetchone() == (203,)
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("SELECT demographic_group FROM das.lfr_alerts")


def test_bad_records_are_quarantined_with_their_reason(met: dict[str, Any], tmp_path: Path) -> None:
    folder = tmp_path / "lfr"
    folder.mkdir()
    (folder / "more_alerts.csv").write_text(
        "alert_id,deployment_id,alerted_at,operator_verdict,outcome,demographic_group\n"
        "X-1,MET-LFR-0001,2024-10-02T04:00:00Z,true_match,arrest,\n"  # fine
        "X-2,NO-SUCH-DEPLOYMENT,2024-10-02T04:00:00Z,true_match,arrest,\n"
        "X-3,MET-LFR-0001,2024-10-02T04:00:00Z,maybe,arrest,\n"
        "X-4,MET-LFR-0001,2024-10-02T04:00:00Z,false_alert,detained,\n"
        "X-5,MET-LFR-0001,not a time,false_alert,no_action,\n"
    )
    (folder / "more_deployments.jsonl").write_text(
        '{"deployment_id": "X-D1", "location_name": "Soho", "longitude": -0.13, "latitude": 51.51, '
        '"starts_at": "2025-05-01T10:00:00Z", "faces_scanned": "lots"}\n'
    )
    done = ingest_lfr(met["settings"], folder)
    alerts, deployments = done["lfr_alerts"], done["lfr_deployments"]
    assert (alerts["rows_landed"], alerts["rows_published"], alerts["rows_quarantined"]) == (5, 1, 4)
    assert alerts["quarantine_reasons"] == {"unknown_deployment": 1, "invalid_value": 2, "invalid_timestamp": 1}
    assert (deployments["rows_landed"], deployments["rows_quarantined"]) == (1, 1)
    assert deployments["quarantine_reasons"] == {"invalid_value": 1}
    lake = DeltaRsLake(tasks.runtime(met["settings"]).spark, met["settings"].lake)
    quarantined = lake.read(QUARANTINE).where("source = 'lfr_alerts'").collect()
    details = {r["reason_code"]: r["reason_detail"] for r in quarantined}
    assert "NO-SUCH-DEPLOYMENT is not a known LFR deployment" in details["unknown_deployment"]


def test_fewer_faces_than_alerts_fails_the_gate_and_publishes_nothing(met: dict[str, Any], tmp_path: Path) -> None:
    lake = DeltaRsLake(tasks.runtime(met["settings"]).spark, met["settings"].lake)
    before = lake.version(SILVER_LFR_DEPLOYMENTS), lake.version(SILVER_LFR_ALERTS)
    alerts_of_first = Counter(r["deployment_id"] for r in lake.read(SILVER_LFR_ALERTS).collect())["MET-LFR-0001"]
    folder = tmp_path / "lfr"
    folder.mkdir()
    (folder / "corrected.csv").write_text(  # the deployment's faces corrected to fewer than its alerts
        "deployment_id,location_name,longitude,latitude,starts_at,ends_at,watchlist_size,faces_scanned\n"
        f"MET-LFR-0001,Oxford Circus,-0.1412,51.5170,2024-10-02T03:00:00Z,2024-10-02T07:00:00Z,15246,"
        f"{alerts_of_first - 1}\n"
    )
    with pytest.raises(QualityGateError, match="lfr_deployment_totals"):
        tasks.ingest("lfr_deployments", folder, settings=met["settings"], now=NOW)
    assert (lake.version(SILVER_LFR_DEPLOYMENTS), lake.version(SILVER_LFR_ALERTS)) == before
