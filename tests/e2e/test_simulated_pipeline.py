"""The detectors' regression guard: simulate -> the whole pipeline -> eval, with a precision/recall floor.

Runs the CI-sized scenario through the real pipeline (landing files, ingest, Great Expectations, Delta, PostGIS,
Spark detectors) and asserts per-type precision >= 0.9 and recall >= 0.9 against the planted ground truth.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from das.config import Settings
from das_tools.evaluation import evaluate
from das_tools.localstack.postgres import connect
from das_tools.simulator import default_small_scenario, run_simulation
from jobs.tasks import run_landing
from schemas.tables import FLAG_FIELDS, FLAG_TYPES
from tests.postgres_fixtures import child_env, own_database

pytestmark = pytest.mark.e2e

FLOOR = 0.9
# The latest Wednesday before today: always the same weekday (weekend traffic has another profile), so
# that the figures GOVERNANCE.md publishes are this scenario's whatever day CI runs on.
_TODAY = datetime.now(timezone.utc).date()
READS_DAY = _TODAY - timedelta(days=(_TODAY.weekday() - 2) % 7 or 7)


@pytest.fixture(scope="module")
def pipeline(pg_settings: Settings, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    landing = tmp_path_factory.mktemp("sim_landing")
    lake = tmp_path_factory.mktemp("sim_lake")
    # Its own database in the shared cluster: other e2e tests publish into the default one.
    with own_database(pg_settings, "das_simulated") as db:
        settings = db.model_copy(update={"lake_root": str(lake)})
        result = run_simulation(default_small_scenario(seed=42, start_date=READS_DAY), landing, progress=False)
        summary = run_landing(landing, settings=settings)
        yield settings, landing, result.truth, summary


def _das(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    das = str(Path(sys.executable).with_name("das"))
    done = subprocess.run([das, *args], env=child_env(settings), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def _flags_json(settings: Settings, *options: str) -> list[dict]:  # type: ignore[type-arg]
    return json.loads(_das(settings, "flags", "--json", *options).stdout)


def test_das_eval_command_reports_every_type(pipeline) -> None:  # type: ignore[no-untyped-def]
    settings, landing, truth, _ = pipeline
    # The command as an analyst runs it (a separate process): it once aborted at exit after printing.
    report = json.loads(_das(settings, "eval", "--truth", str(landing / "truth.json"), "--json").stdout)
    in_process = json.loads(json.dumps(evaluate(_flags_json(settings), truth).to_dict()))
    assert report == in_process


def test_every_flag_type_meets_the_quality_floor(pipeline) -> None:  # type: ignore[no-untyped-def]
    settings, _, truth, _ = pipeline
    report = evaluate(_flags_json(settings), truth)
    print(report.format_table())
    failures = report.failures(FLOOR, FLOOR)
    assert not failures, "\n".join(failures)
    assert set(truth["flags"]) == set(FLAG_TYPES)


def test_flags_json_follows_the_contract(pipeline) -> None:  # type: ignore[no-untyped-def]
    flags = _flags_json(pipeline[0])
    assert flags
    assert [f["score"] for f in flags] == sorted((f["score"] for f in flags), reverse=True)  # strongest first
    strong = _flags_json(pipeline[0], "--min-score", "0.5")
    assert strong == [f for f in flags if f["score"] >= 0.5] and 0 < len(strong) < len(flags)
    for flag in flags:
        assert tuple(flag) == FLAG_FIELDS
        assert 0.0 <= flag["score"] <= 1.0
        assert isinstance(flag["related"], list) and flag["evidence"], flag["flag_id"]
        assert flag["window_start"] <= flag["window_end"]
        for piece in flag["evidence"]:
            assert piece["kind"] in ("read", "crime", "camera", "cell")


def test_reconciliation_and_postgis_flags_with_evidence(pipeline) -> None:  # type: ignore[no-untyped-def]
    settings, _, _, summary = pipeline
    for source, s in summary.ingests.items():
        assert s["rows_landed"] == s["rows_published"] + s["rows_quarantined"] + s["rows_duplicate"], source
    with connect(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT flag_type, count(*) FROM das.flags GROUP BY 1")
        in_postgis = dict(cur.fetchall())
        cur.execute(
            "SELECT count(*) FROM das.flags f WHERE NOT EXISTS "
            "(SELECT 1 FROM das.flag_evidence e WHERE e.flag_id = f.flag_id)"
        )
        assert cur.fetchone()[0] == 0  # every flag shows its evidence
        cur.execute("SELECT count(*) FROM das.anpr_reads")
        assert cur.fetchone()[0] == summary.table_rows["silver/anpr_reads"]
        # Every ingest run's quality checks reached PostGIS with the run (the engineer view reads them there).
        cur.execute(
            "SELECT count(DISTINCT r.ingest_run_id), count(DISTINCT q.ingest_run_id), count(q.*) "
            "FROM das.ingest_runs r LEFT JOIN das.quality_results q USING (ingest_run_id) "
            "WHERE r.status = 'succeeded' AND r.rows_published > 0"
        )
        runs, checked, checks = cur.fetchone()
        assert runs == checked > 0 and checks >= runs * 5
    assert set(in_postgis) == set(summary.flags["flags_by_type"]) - {
        t for t, n in summary.flags["flags_by_type"].items() if n == 0
    }


def test_rerunning_the_landing_changes_nothing(pipeline) -> None:  # type: ignore[no-untyped-def]
    settings, landing, _, first = pipeline
    before = {f["flag_id"] for f in _flags_json(settings)}
    again = run_landing(landing, settings=settings)
    assert again.table_rows == first.table_rows
    for s in again.ingests.values():
        assert s["rows_published"] == 0 and s["files_skipped"] == s["files"]
    assert {f["flag_id"] for f in _flags_json(settings)} == before


GOVERNANCE = Path(__file__).resolve().parents[2] / "GOVERNANCE.md"
BEGIN, END = "<!-- das eval: begin -->", "<!-- das eval: end -->"


def test_governance_publishes_the_current_measured_figures(pipeline) -> None:  # type: ignore[no-untyped-def]
    """GOVERNANCE.md's precision/recall table is the evaluation of this very scenario, character for character."""
    settings, _, truth, _ = pipeline
    text = GOVERNANCE.read_text()
    published = text[text.index(BEGIN) + len(BEGIN) : text.index(END)].strip().strip("`").strip()
    measured = evaluate(_flags_json(settings), truth).format_table().strip()
    assert published == measured, (
        f"GOVERNANCE.md is out of date: paste this table, as `das eval` prints it for the CI scenario, between its "
        f"markers:\n{measured}"
    )


def test_no_secret_reaches_the_logs_the_lake_or_the_tables(pipeline) -> None:  # type: ignore[no-untyped-def]
    from das.credentials import pseudonym_key
    from das_tools.localstack.postgres import ADMIN_ROLE

    settings, _, _, _ = pipeline
    secrets = {
        "pipeline password": settings.local_password(settings.pg_user),
        "superuser password": settings.local_password(ADMIN_ROLE),
        "pseudonym key": pseudonym_key(settings).decode(),
    }
    assert all(secrets.values())
    files = [p for root in (Path(settings.lake), settings.logs_dir, settings.data_docs_dir) for p in root.rglob("*")]
    contents = [p.read_bytes() for p in files if p.is_file()]
    assert len(contents) > 50  # the lake, Data Docs and logs really are there
    conn = connect(settings)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'das'")
            tables = [r[0] for r in cur.fetchall()]
            for table in tables:
                cur.execute(f"SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM das.\"{table}\" t")
                contents.append(cur.fetchone()[0].encode())  # type: ignore[index]
    finally:
        conn.close()
    for what, secret in secrets.items():
        leaked = [i for i, blob in enumerate(contents) if secret.encode() in blob]  # type: ignore[union-attr]
        assert not leaked, f"the {what} appears in {len(leaked)} file(s) or table(s)"


def test_the_flags_listing_pages_shows_ids_and_status_and_a_flag_is_shown_with_its_evidence(pipeline) -> None:  # type: ignore[no-untyped-def]
    settings, _, _, _ = pipeline
    everything = _flags_json(settings)
    assert _flags_json(settings, "--limit", "5", "--offset", "5") == everything[5:10]
    listing = _das(settings, "flags", "--limit", "3").stdout.splitlines()
    assert all(f["flag_id"] in line and " new " in line for f, line in zip(everything[:3], listing, strict=False))
    flag = everything[0]
    shown = _das(settings, "flag", "show", flag["flag_id"], "--purpose", "reviewing the top lead", "--json")
    detail = json.loads(shown.stdout)
    assert detail["status"] == "new" and detail["evidence"] == flag["evidence"] and detail["summary"] == flag["summary"]
    from das import audit

    views = [r for r in audit.report(settings) if r["action"] == "view_flag"]
    assert views and views[0]["purpose"] == "reviewing the top lead"


def test_the_same_pipeline_on_a_spark_standalone_cluster_raises_the_same_flags(pipeline, pg_settings) -> None:  # type: ignore[no-untyped-def]
    """DAS_SPARK_MASTER=spark://…: a master and two workers, each its own JVM (pyspark's spark-class), run the
    CI scenario through `das run` in a child process; the flags are the local run's, to the id and score."""
    import shutil
    import tempfile

    from das_tools.localstack import spark_cluster

    settings, landing, _, _ = pipeline
    local = {(f["flag_id"], round(f["score"], 6)) for f in _flags_json(settings)}
    work = Path(tempfile.mkdtemp(prefix="das-cluster-"))
    try:
        copied = work / "landing"  # as simulated: a later test adds a file to the shared landing folder
        shutil.copytree(landing, copied, ignore=shutil.ignore_patterns("later-day.csv"))
        with (
            own_database(pg_settings, "das_on_cluster") as db,
            spark_cluster.running(work / "spark", workers=2, cores=1, memory="2g") as cluster,
        ):
            # The same DAS_HOME (so the same pseudonym key and flag ids), its own lake and database.
            on_cluster = db.model_copy(update={"lake_root": str(work / "lake")})
            env = {
                **child_env(on_cluster),
                "DAS_SPARK_MASTER": cluster.master_url,
                "DAS_SPARK_CONF": json.dumps({"spark.executor.memory": "1500m", "spark.driver.host": "127.0.0.1"}),
            }
            das = str(Path(sys.executable).with_name("das"))
            done = subprocess.run(
                [das, "run", "--landing", str(copied), "--json"], env=env, capture_output=True, text=True, timeout=1200
            )
            assert done.returncode == 0, done.stderr[-3000:] + "\nexecutors:\n" + cluster.executor_logs()
            executors = cluster.executor_dirs()
            assert {p.parents[2].name for p in executors} == {"worker-0", "worker-1"}, executors  # both did work
            flags = subprocess.run(
                [das, "flags", "--json"], env=env, capture_output=True, text=True, timeout=300, check=True
            )
        remote = {(f["flag_id"], round(f["score"], 6)) for f in json.loads(flags.stdout)}
        assert remote == local
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_a_backfill_of_a_past_day_reproduces_its_flags(pipeline) -> None:  # type: ignore[no-untyped-def]
    """build_flags for a past day (the DAG's ``day`` param): the same flags, even after a later day has landed."""
    from datetime import timedelta

    from das.lake import DeltaRsLake
    from jobs import tasks
    from schemas.tables import GOLD_FLAGS, SILVER_ANPR_READS

    settings, landing, _, _ = pipeline
    rt = tasks.runtime(settings)
    day = rt.lake.read(SILVER_ANPR_READS).agg({"read_date": "max"}).collect()[0][0]
    read_based = ("hotlist_hit", "cloned_plate", "convoy", "vehicle_near_crimes", "camera_silent")

    def flags_of_day() -> set[tuple[str, float]]:
        lake = DeltaRsLake(rt.spark, settings.lake)
        rows = lake.read(GOLD_FLAGS).where(f"to_date(window_start) <= '{day}' AND to_date(window_end) >= '{day}'")
        return {(r["flag_id"], round(r["score"], 9)) for r in rows.collect() if r["flag_type"] in read_based}

    before = flags_of_day()
    assert before
    later = landing / "anpr" / "later-day.csv"
    from datetime import UTC, datetime

    stamp = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()  # today: the reads end before today
    assert stamp[:10] > str(day)
    later.write_text(f"read_id,camera_id,plate,read_at\nlater-1,{_a_camera(settings)},ZZ11ZZZ,{stamp}\n")
    tasks.ingest("anpr", settings=settings, path=landing / "anpr")
    tasks.detect(settings=settings, day=day)
    assert flags_of_day() == before


def _a_camera(settings: Settings) -> str:
    from das.lake import read_arrow
    from schemas.tables import SILVER_CAMERAS

    return str(read_arrow(settings, SILVER_CAMERAS).column("camera_id")[0].as_py())
