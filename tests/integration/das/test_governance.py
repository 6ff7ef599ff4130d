"""Governance against a real PostGIS: roles with grants and row-level security, pseudonymised analyst reads,
purpose-bound audited searches, an append-only hash-chained audit log, users and tokens, and attacks on them."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from das import audit, postgis, users
from das.config import Settings
from das.credentials import plate_hash, pseudonym_key
from das.errors import DasError
from das_tools.bench.synthetic import synthetic_reads
from das_tools.localstack.postgres import connect
from schemas.tables import SILVER_ANPR_READS
from tests.postgres_fixtures import login_env, own_database, query

DAY = date(2024, 6, 4)
RAW_PLATE_COLUMNS = {"plate", "plate_raw", "subject", "related"}


@pytest.fixture(scope="module")
def db(pg_settings: Settings) -> Iterator[Settings]:
    with own_database(pg_settings, "das_governance_test", load_boundaries=False) as settings:
        postgis.publish_day_partition(settings, SILVER_ANPR_READS, synthetic_reads(500, DAY, plates=40), DAY)
        yield settings


@pytest.fixture(scope="module")
def people(db: Settings) -> dict[str, users.NewUser]:
    suffix = secrets.token_hex(3)
    return {
        role: users.add(db, f"{role[:5]}_{suffix}", role) for role in ("analyst", "investigator", "auditor", "engineer")
    }


def login(db: Settings, user: users.NewUser, password: str | None = None) -> Any:
    return psycopg2.connect(
        host="127.0.0.1", port=db.pg_port, dbname=db.pg_database, user=user.name, password=password or user.db_password
    )


def refused(conn: Any, sql: str, params: Any = None) -> bool:
    try:
        query(conn, sql, params)
    except (psycopg2.errors.InsufficientPrivilege, psycopg2.errors.UndefinedFunction):
        conn.rollback()
        return True
    return False


def test_an_analyst_counts_and_joins_on_pseudonyms_and_can_never_read_a_plate(db: Settings, people) -> None:  # type: ignore[no-untyped-def]
    conn = login(db, people["analyst"])
    try:
        ((reads, pseudonyms),) = query(
            conn, "SELECT count(*), count(DISTINCT plate_hash) FROM das.anpr_reads_pseudonymised"
        )
        assert (reads, pseudonyms) == (500, 40)
        sample = synthetic_reads(500, DAY, plates=40).column("plate")[0].as_py()
        expected = plate_hash(pseudonym_key(db), sample)
        assert query(conn, "SELECT count(*) > 0 FROM das.anpr_reads_pseudonymised WHERE plate_hash = %s", (expected,))
        for sql in (
            "SELECT plate FROM das.anpr_reads LIMIT 1",
            "SELECT * FROM das.hotlist",
            "SELECT subject FROM das.flags",
            "SELECT plate FROM das.flag_evidence",
            "SELECT * FROM das.plate_history('AB00001', now() - interval '9 years', now())",
            "SELECT * FROM das.vehicles_near(-0.1, 51.5, 500, now() - interval '9 years', now())",
            "SELECT * FROM das.search_plate('AB*', now() - interval '9 years', now(), 'analysing traffic')",
            "SELECT * FROM das.audit_log",
        ):
            assert refused(conn, sql), sql
        # Nothing the analyst may read has a column that holds plates.
        readable = query(
            conn,
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'das' "
            "AND has_column_privilege('das.' || quote_ident(table_name), column_name, 'SELECT')",
        )
        assert readable and not {c for _, c in readable} & RAW_PLATE_COLUMNS
    finally:
        conn.close()


def test_an_investigator_searches_only_through_audited_functions_with_a_purpose(db: Settings, people) -> None:  # type: ignore[no-untyped-def]
    investigator = people["investigator"]
    conn = login(db, investigator)
    conn.autocommit = True
    try:
        assert refused(conn, "SELECT * FROM das.anpr_reads LIMIT 1")
        assert refused(conn, "SELECT * FROM das.anpr_reads_pseudonymised LIMIT 1")
        for purpose in (None, "", "too short"):
            with pytest.raises(psycopg2.errors.InvalidParameterValue, match="purpose of at least 10"):
                query(conn, "SELECT * FROM das.search_plate('AB*', now() - interval '9 years', now(), %s)", (purpose,))
        plate = synthetic_reads(500, DAY, plates=40).column("plate")[0].as_py()
        rows = query(
            conn,
            "SELECT plate FROM das.search_plate(%s, %s, %s, %s, %s)",
            (plate, DAY, DAY + timedelta(days=1), "stolen vehicle enquiry", "CAD-123"),
        )
        assert rows and {r[0] for r in rows} == {plate}
        wildcard = query(
            conn,
            "SELECT count(*) FROM das.search_plate('AB0000?', %s, %s, 'pattern enquiry here')",
            (DAY, DAY + timedelta(days=1)),
        )
        assert wildcard[0][0] > len(rows)
        injected = query(
            conn,
            "SELECT count(*) FROM das.search_plate(%s, %s, %s, %s)",
            ("'; DROP TABLE das.anpr_reads; --", DAY, DAY + timedelta(days=1), "injection attempt test"),
        )
        assert injected == [(0,)]
        mine = query(
            conn, "SELECT action, parameters, purpose, case_ref, rows_returned FROM das.audit_log ORDER BY audit_id"
        )
        assert (
            "search_plate",
            {"plate": plate, "from": mine[0][1]["from"], "to": mine[0][1]["to"]},
            "stolen vehicle enquiry",
            "CAD-123",
            len(rows),
        ) == mine[0]
        assert len(mine) == 3  # RLS: only their own searches, and failed ones were not run
    finally:
        conn.close()
    owner = connect(db)
    try:
        assert query(owner, "SELECT count(*) FROM das.anpr_reads") == [(500,)]  # the injection did nothing
    finally:
        owner.close()


def test_nobody_rewrites_the_audit_log_and_verify_detects_tampering(db: Settings, people) -> None:  # type: ignore[no-untyped-def]
    audit.record(db, "export", {"what": "test"}, "exporting for a test", 1)
    auditor = login(db, people["auditor"])
    try:
        assert query(auditor, "SELECT count(*) FROM das.audit_log")[0][0] >= 1
        for sql in ("UPDATE das.audit_log SET purpose = 'x'", "DELETE FROM das.audit_log", "TRUNCATE das.audit_log"):
            assert refused(auditor, sql), sql
    finally:
        auditor.close()
    owner = connect(db)  # even the pipeline's own role cannot
    try:
        for sql in ("UPDATE das.audit_log SET purpose = 'x'", "DELETE FROM das.audit_log", "TRUNCATE das.audit_log"):
            with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="append-only"):
                query(owner, sql)
            owner.rollback()
    finally:
        owner.close()
    assert audit.verify(db).intact
    admin = connect(db, admin=True)  # a superuser can bypass the triggers: the chain shows it
    try:
        query(admin, "ALTER TABLE das.audit_log DISABLE TRIGGER audit_log_no_update")
        query(
            admin,
            "UPDATE das.audit_log SET rows_returned = 0 WHERE audit_id = (SELECT min(audit_id) FROM das.audit_log)",
        )
        query(admin, "ALTER TABLE das.audit_log ENABLE TRIGGER audit_log_no_update")
        admin.commit()
        result = audit.verify(db)
        assert not result.intact and "does not match its hash" in result.problems[0]
        query(admin, "ALTER TABLE das.audit_log DISABLE TRIGGER audit_log_no_update")
        query(admin, "DELETE FROM das.audit_log")  # leave an intact (empty) log for the other tests
        query(admin, "ALTER TABLE das.audit_log ENABLE TRIGGER audit_log_no_update")
        admin.commit()
    finally:
        admin.close()


def test_tokens_revocation_and_forgeries(db: Settings, people) -> None:  # type: ignore[no-untyped-def]
    engineer = people["engineer"]
    assert users.authenticate(db, engineer.api_token) == (engineer.name, "engineer")
    forged = engineer.api_token[:-4] + "AAAA"
    assert users.authenticate(db, forged) is None
    assert users.authenticate(db, "") is None and users.authenticate(db, "x" * 10_000) is None
    engine = login(db, engineer)
    try:
        assert query(engine, "SELECT count(*) >= 0 FROM das.ingest_runs")
        assert refused(engine, "SELECT * FROM das.flags")
        assert refused(engine, "SELECT * FROM das.search_plate('AB*', now(), now(), 'engineer trying this')")
    finally:
        engine.close()
    users.revoke(db, engineer.name)
    assert users.authenticate(db, engineer.api_token) is None
    with pytest.raises(psycopg2.OperationalError):
        login(db, engineer).close()
    listed = {u["name"]: u for u in users.list_users(db)}
    assert listed[engineer.name]["revoked_at"] is not None
    with pytest.raises(DasError, match="no active user"):
        users.revoke(db, engineer.name)


@pytest.mark.parametrize("name", ["Robert'); DROP ROLE das; --", "das_admin", "pg_x", "a", "ok name"])
def test_user_names_that_could_inject_or_impersonate_are_refused(db: Settings, name: str) -> None:
    with pytest.raises(DasError, match="user name"):
        users.add(db, name, "analyst")


def test_the_cli_search_needs_a_purpose_and_runs_as_the_investigator(db: Settings, people, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    investigator = people["investigator"]
    env = login_env(db, investigator.name, investigator.db_password)
    das = str(Path(sys.executable).with_name("das"))
    window = ["--from", DAY.isoformat(), "--to", (DAY + timedelta(days=1)).isoformat()]
    no_purpose = subprocess.run([das, "search", "plate", "AB*", *window], env=env, capture_output=True, text=True)
    assert no_purpose.returncode != 0 and "--purpose" in no_purpose.stderr
    short = subprocess.run(
        [das, "search", "plate", "AB*", "--purpose", "because", *window], env=env, capture_output=True, text=True
    )
    assert short.returncode == 1 and "at least 10 characters" in short.stderr
    done = subprocess.run(
        [
            das,
            "search",
            "plate",
            "AB0000*",
            "--purpose",
            "burglary series enquiry",
            "--case",
            "OP-7",
            "--json",
            *window,
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)
    report = audit.report(db, user=investigator.name)
    assert any(r["purpose"] == "burglary series enquiry" for r in report)
    assert datetime.fromisoformat(report[0]["last"]) > datetime.now(UTC) - timedelta(minutes=5)


def test_the_users_commands_print_the_secrets_once_as_json_and_revoke(db: Settings) -> None:
    from tests.postgres_fixtures import child_env

    das = str(Path(sys.executable).with_name("das"))
    env = child_env(db)
    name = f"cli_{secrets.token_hex(3)}"
    added = subprocess.run(
        [das, "users", "add", name, "--role", "auditor", "--json"], env=env, capture_output=True, text=True
    )
    assert added.returncode == 0, added.stderr
    user = json.loads(added.stdout)
    assert set(user) == {"name", "role", "db_password", "api_token"} and user["role"] == "auditor"
    listed = subprocess.run([das, "users", "list", "--json"], env=env, capture_output=True, text=True)
    assert user["api_token"] not in listed.stdout and user["db_password"] not in listed.stdout
    assert any(u["name"] == name and u["revoked_at"] is None for u in json.loads(listed.stdout))
    bad = subprocess.run([das, "users", "add", "x", "--role", "superuser"], env=env, capture_output=True, text=True)
    assert bad.returncode == 1 and "unknown role 'superuser'" in bad.stderr
    injected = subprocess.run(
        [das, "audit", "report", "--user", "x' OR '1'='1", "--json"], env=env, capture_output=True, text=True
    )
    assert injected.returncode == 0 and json.loads(injected.stdout) == []
    revoked = subprocess.run([das, "users", "revoke", name], env=env, capture_output=True, text=True)
    assert revoked.returncode == 0, revoked.stderr
    assert users.authenticate(db, user["api_token"]) is None


def test_an_investigator_lists_flags_and_reads_evidence_only_through_the_audited_view(  # type: ignore[no-untyped-def]
    db: Settings, people
) -> None:
    import pandas as pd

    from tests.integration.das.test_postgis import flag_row

    postgis.publish_flags(db, pd.DataFrame([flag_row("GOV-F1", 0.8, ["r1", "r2"]), flag_row("GOV-F2", 0.3, ["r3"])]))
    investigator = people["investigator"]
    env = login_env(db, investigator.name, investigator.db_password)
    das = str(Path(sys.executable).with_name("das"))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([das, *args], env=env, capture_output=True, text=True, timeout=120)

    listing = run("flags")
    assert listing.returncode == 0, listing.stderr
    assert "GOV-F1" in listing.stdout and "2 flag(s)" in listing.stdout
    refused_json = run("flags", "--json")
    assert refused_json.returncode == 1 and "audited view" in refused_json.stderr and "--purpose" in refused_json.stderr
    with_purpose = run("flags", "--json", "--purpose", "weekly review of leads", "--case", "OP-9")
    assert with_purpose.returncode == 0, with_purpose.stderr
    listed = {f["flag_id"]: f for f in json.loads(with_purpose.stdout)}
    assert [e["ref_id"] for e in listed["GOV-F1"]["evidence"]] == ["r1", "r2"]
    shown = run("flag", "show", "GOV-F2", "--purpose", "checking this one lead", "--json")
    assert shown.returncode == 0, shown.stderr
    assert [e["ref_id"] for e in json.loads(shown.stdout)["evidence"]] == ["r3"]
    conn = login(db, investigator)
    try:
        views = query(
            conn,
            "SELECT parameters->>'flag_id', purpose, case_ref FROM das.audit_log WHERE action = 'view_flag' "
            "ORDER BY audit_id",
        )
    finally:
        conn.close()
    assert views[-3:] == [
        ("GOV-F1", "weekly review of leads", "OP-9"),
        ("GOV-F2", "weekly review of leads", "OP-9"),
        ("GOV-F2", "checking this one lead", None),
    ]
