"""The ``das`` command line: local services, ingest, the whole pipeline, flags, simulation and benchmarks."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any

import typer

from das.config import SAMPLES_DIR, get_settings
from das.errors import DasError

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__, rich_markup_mode=None)
bench_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode=None, help="Benchmarks: results go to BENCHMARKS.md-ready tables."
)
app.add_typer(bench_app, name="bench")
users_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode=None, help="Users: a database login in a role group, and an API token."
)
app.add_typer(users_app, name="users")
search_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode=None, help="Audited searches: each needs a purpose and is logged."
)
app.add_typer(search_app, name="search")
audit_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode=None, help="The audit log: who searched what, why, and is it intact."
)
app.add_typer(audit_app, name="audit")
flag_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="One flag: its evidence and triage.")
app.add_typer(flag_app, name="flag")
retention_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode=None, help="Retention: delete what has expired, everywhere."
)
app.add_typer(retention_app, name="retention")


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"das {version('das')}")
        raise typer.Exit()


@app.callback()
def main_options(
    show_version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version and exit")
    ] = False,
    log_format: Annotated[
        str,
        typer.Option("--log-format", envvar="DAS_LOG_FORMAT", help="console (readable) or json (one object per line)"),
    ] = "console",
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="warnings and errors only, no progress bars")] = False,
) -> None:
    """das: ingest, serve and investigate ANPR, CCTV and crime data, with governance built in."""
    from das import progress
    from das.logs import configure_logging

    _choice(log_format, "--log-format", ["console", "json"])
    configure_logging(
        "json" if log_format == "json" else "console", "DEBUG" if verbose else "WARNING" if quiet else "INFO"
    )
    if log_format == "console" and not quiet and sys.stderr.isatty():
        progress.install(progress.tqdm_reporter)


def _choice(value: str | None, option: str, valid: Sequence[str]) -> None:
    """An enumerated option is checked before any work starts, and the error lists the valid values."""
    if value is not None and value not in valid:
        typer.echo(f"das: error: {option} {value!r} is not one of {', '.join(valid)}", err=True)
        raise typer.Exit(code=2)


def _fail(exc: Exception) -> None:
    typer.echo(f"das: error: {exc}", err=True)
    raise typer.Exit(code=1)


def _echo_report(produce: Callable[[], str]) -> None:
    """Print what ``produce`` returns; a DasError becomes one line on stderr and exit code 1."""
    try:
        typer.echo(produce())
    except DasError as exc:
        _fail(exc)


def _serving_database_ready() -> Any:
    """Start the local PostGIS (or check the managed one) and migrate it; returns its status."""
    from das import postgis
    from das_tools.localstack import postgres as local_postgres

    settings = get_settings()
    status_ = local_postgres.up(settings)
    postgis.migrate(settings)
    return status_


@app.command()
def up() -> None:
    """Start the project-local PostGIS (or check the managed one), create databases, run migrations."""
    from das_tools.localstack import postgres as local_postgres

    try:
        status_ = _serving_database_ready()
    except DasError as exc:
        _fail(exc)
    typer.echo(local_postgres.format_status(status_))
    typer.echo("migrations: at head")


@app.command()
def down() -> None:
    """Stop the project-local PostGIS."""
    from das_tools.localstack import postgres as local_postgres

    try:
        typer.echo(local_postgres.format_status(local_postgres.down(get_settings())))
    except DasError as exc:
        _fail(exc)


@app.command()
def status() -> None:
    """What is running: PostGIS, the lake location, Spark master."""
    from das_tools.localstack import postgres as local_postgres

    settings = get_settings()
    try:
        current = local_postgres.status(settings)
    except DasError as exc:
        _fail(exc)
        raise
    typer.echo(local_postgres.format_status(current))
    typer.echo(f"lake: {settings.lake} (backend {settings.lake_backend})")
    typer.echo(f"spark master: {settings.spark_master}")
    typer.echo(f"landing: {settings.landing}")
    if not current.running:
        typer.echo("das: PostGIS is not running: `das up` starts it", err=True)
        raise typer.Exit(code=1)


@app.command()
def ingest(
    source: Annotated[
        str,
        typer.Argument(
            help="a source name: cameras, crimes, anpr, hotlist, lfr_deployments, lfr_alerts, ...; lfr = both"
        ),
    ],
    path: Annotated[Path, typer.Argument(help="a landing file or folder")],
    publish: Annotated[bool, typer.Option(help="also publish the changes to PostGIS")] = True,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="re-ingest files whose earlier run did not reconcile")
    ] = False,
) -> None:
    """Ingest one file or folder through the same code the DAGs run. A shared landing folder's name (lfr) ingests
    each of its sources in turn, and prints each one's summary under its name."""
    from jobs import tasks
    from jobs.sources import ingest_names, sources_landing_in

    _choice(source, "source", ingest_names())  # before Spark starts
    summaries: dict[str, Any] = {}
    try:
        for spec in sources_landing_in(source):
            summary = tasks.ingest(spec.name, path, retry_failed=retry_failed)
            if publish:
                _serving_database_ready()
                summary["published"] = tasks.publish(spec.name, summary)
            summaries[spec.name] = summary
    except DasError as exc:
        _fail(exc)
    summary = summaries.get(source, summaries)
    typer.echo(json.dumps(summary, indent=2, default=str))


def _iso_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        _fail(DasError(f"{option} {value!r} is not ISO 8601, e.g. 2024-04-01T00:00:00Z"))
        raise
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="the user's name (their database login)")],
    role: Annotated[str, typer.Option("--role", help="engineer | analyst | investigator | auditor")],
    as_json: Annotated[bool, typer.Option("--json", help="print {name, role, db_password, api_token}")] = False,
) -> None:
    """Create a user: a login role in the role's group, with a database password and an API token (shown once)."""
    from das import users

    try:
        user = users.add(get_settings(), name, role)
    except DasError as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps(user.as_dict()))
        return
    typer.echo(f"user {user.name} ({user.role}) created; these are shown once, keep them safe:")
    typer.echo(f"  database password: {user.db_password}")
    typer.echo(f"  API token:         {user.api_token}")


@users_app.command("list")
def users_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every user, their role, and whether they were revoked."""
    from das import users

    try:
        rows = users.list_users(get_settings())
    except DasError as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        state = f"revoked {row['revoked_at']}" if row["revoked_at"] else "active"
        typer.echo(f"{row['name']:<24} {row['role']:<14} {state}")


@users_app.command("revoke")
def users_revoke(name: Annotated[str, typer.Argument(help="the user to revoke")]) -> None:
    """End a user's database login (and open sessions) and API token."""
    from das import users

    try:
        users.revoke(get_settings(), name)
    except DasError as exc:
        _fail(exc)
    typer.echo(f"user {name} revoked: no login, no token")


@search_app.command("plate")
def search_plate(
    plate: Annotated[str, typer.Argument(help="a plate; * and ? are wildcards")],
    purpose: Annotated[str, typer.Option("--purpose", help="why you search (at least 10 characters); logged")],
    case_ref: Annotated[str | None, typer.Option("--case", help="case or incident reference")] = None,
    since: Annotated[str | None, typer.Option("--from", help="ISO time (default: 30 days ago)")] = None,
    until: Annotated[str | None, typer.Option("--to", help="ISO time (default: now)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A plate's reads, through the audited search (connect as yourself: DAS_PG_USER / DAS_PG_PASSWORD)."""
    from datetime import timedelta

    import psycopg2

    from das import audit

    if len(purpose.strip()) < 10:
        _fail(DasError("--purpose must say why, in at least 10 characters (it is written to the audit log)"))
    t_to = _iso_time(until, "--to") or datetime.now(timezone.utc)
    t_from = _iso_time(since, "--from") or t_to - timedelta(days=30)
    try:
        rows = audit.search_plate(get_settings(), plate, t_from, t_to, purpose, case_ref)
    except (DasError, psycopg2.Error) as exc:
        _fail(DasError(str(exc).strip().splitlines()[0]))
    if as_json:
        typer.echo(json.dumps([{k: _jsonable(v) for k, v in r.items()} for r in rows], indent=2))
        return
    for r in rows:
        typer.echo(f"{_jsonable(r['read_at'])}  {r['plate']:<10} {r['camera_id']:<16} {r['camera_name'] or ''}")
    typer.echo(f"{len(rows)} read(s); this search is in the audit log")


@audit_app.command("report")
def audit_report(
    since: Annotated[str | None, typer.Option("--since", help="ISO time")] = None,
    user: Annotated[str | None, typer.Option("--user", help="only this user")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Searches by user, action and purpose, with their volume."""
    from das import audit

    try:
        rows = audit.report(get_settings(), _iso_time(since, "--since"), user)
    except DasError as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        typer.echo(f"{r['user']:<16} {r['action']:<22} {r['searches']:>6} x {r['rows']:>8} rows  {r['purpose'] or ''}")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit log's hash chain: exit 1 when a row was changed, removed or inserted."""
    from das import audit

    try:
        result = audit.verify(get_settings())
    except DasError as exc:
        _fail(exc)
    for problem in result.problems:
        typer.echo(problem, err=True)
    if not result.intact:
        raise typer.Exit(code=1)
    typer.echo(f"audit log intact: {result.rows} rows, every hash chained")


@retention_app.command("run")
def retention_run(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Delete what has expired (DAS_RETENTION__*) from every layer and PostGIS, vacuum, and log it."""
    from jobs import tasks

    try:
        removed = tasks.retention()
    except DasError as exc:
        _fail(exc)
    typer.echo(json.dumps(removed, indent=2) if as_json else "\n".join(f"{k:<40} {v:>10,}" for k, v in removed.items()))


@app.command()
def maintain(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Compact small files, vacuum old ones, prune quality results, archive ingested landing files, ANALYZE."""
    from jobs import tasks

    try:
        report = tasks.maintain()
    except DasError as exc:
        _fail(exc)
    typer.echo(json.dumps(report, indent=2, default=str) if as_json else json.dumps(report, default=str))


@app.command()
def locks() -> None:
    """The cross-process locks: which are held, by which process, for what, and for how long."""
    from das.locks import list_locks

    found = list_locks(get_settings())
    for lock in found:
        if lock.held:
            typer.echo(f"{lock.name:<24} held by pid {lock.pid} on {lock.host} for {lock.age_s:,.0f} s: {lock.purpose}")
        else:
            typer.echo(f"{lock.name:<24} free")
    if not found:
        typer.echo("no locks yet")


@app.command()
def run(
    landing: Annotated[
        Path, typer.Option("--landing", help="folder with cameras/ crimes/ anpr/ hotlist/ (and video_events/ lfr/)")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
) -> None:
    """Run the whole pipeline once over everything in LANDING (the DAGs' own code path) and summarise."""
    from jobs import tasks

    if not landing.is_dir():
        _fail(
            DasError(
                f"--landing {landing} is not a folder; it should hold cameras/, crimes/, anpr/, hotlist/ "
                "(and video_events/, lfr/)"
            )
        )
    try:
        _serving_database_ready()
        summary = tasks.run_landing(landing)
    except DasError as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps(summary.__dict__, indent=2, default=str))
        return
    typer.echo("Rows per table:")
    for name, rows in summary.table_rows.items():
        typer.echo(f"  {name:<24} {rows:>12,}")
    typer.echo("Ingest (landed = published + quarantined + duplicates):")
    for source, s in summary.ingests.items():
        typer.echo(
            f"  {source:<10} landed {s['rows_landed']:>10,}  published {s['rows_published']:>10,}  "
            f"quarantined {s['rows_quarantined']:>8,}  duplicates {s['rows_duplicate']:>8,}  "
            f"files {s['files']} (skipped as already ingested: {s['files_skipped']})"
        )
    reasons = summary.quarantine_reasons()
    typer.echo("Quarantined rows by reason:" + ("" if reasons else " none"))
    for reason, count in reasons.most_common():
        typer.echo(f"  {reason:<28} {count:>10,}")
    typer.echo("Flags by type:")
    for flag_type, count in summary.flags.get("flags_by_type", {}).items():
        typer.echo(f"  {flag_type:<22} {count:>8,}")


def load_flags(
    flag_type: str | None = None,
    since: datetime | None = None,
    min_score: float = 0.0,
    *,
    status: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    purpose: str | None = None,
    case_ref: str | None = None,
) -> list[dict[str, Any]]:
    """Flags as investigators see them (PostGIS, with triage), as plain dicts with the contract fields."""
    from das.postgis.flags import FlagFilter
    from das.postgis.flags import load_flags as read_flags

    where = FlagFilter(flag_type, status, since, min_score, limit, offset)
    found = read_flags(get_settings(), where, purpose=purpose, case_ref=case_ref)
    return [{k: _jsonable(v) for k, v in f.items()} for f in found]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


@app.command()
def flags(
    flag_type: Annotated[str | None, typer.Option("--type", help="only this flag type")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="only flags whose window ends at/after this ISO time")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON array with the contract fields")] = False,
    min_score: Annotated[
        float, typer.Option("--min-score", help="only flags scoring at least this (0..1), e.g. 0.5 for strong leads")
    ] = 0.0,
    status: Annotated[str | None, typer.Option("--status", help="only flags with this triage status")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="at most this many (a page)")] = None,
    offset: Annotated[int, typer.Option("--offset", help="skip this many first (the next page)")] = 0,
    purpose: Annotated[
        str | None,
        typer.Option("--purpose", help="why you look; with --json the evidence is read through the audited view"),
    ] = None,
    case_ref: Annotated[str | None, typer.Option("--case", help="case or incident reference (with --purpose)")] = None,
) -> None:
    """Investigator flags from PostGIS, with their triage status, strongest first.

    The listing needs no purpose. With --json each flag carries its evidence: an investigator's role reads it
    only through the audited view, so give --purpose (one audit row per flag)."""
    from schemas.tables import FLAG_STATUSES, FLAG_TYPES

    _choice(flag_type, "--type", FLAG_TYPES)
    _choice(status, "--status", FLAG_STATUSES)
    since_ts = _iso_time(since, "--since")
    if purpose is not None and len(purpose.strip()) < 10:
        _fail(DasError("--purpose must say why, in at least 10 characters (it is written to the audit log)"))
    if as_json:
        try:
            rows = load_flags(
                flag_type,
                since_ts,
                min_score,
                status=status,
                limit=limit,
                offset=offset,
                purpose=purpose,
                case_ref=case_ref,
            )
        except DasError as exc:
            _fail(exc)
        typer.echo(json.dumps(rows, indent=2))
        return
    from das.postgis.flags import FlagFilter
    from das.postgis.flags import load_flags as read_flags

    try:
        listed = read_flags(
            get_settings(),
            FlagFilter(flag_type, status, since_ts, min_score, limit, offset),
            with_status=True,
            with_evidence=False,
        )
    except DasError as exc:
        _fail(exc)
    for f in listed:
        typer.echo(
            f"{f['score']:.2f}  {f['flag_id']}  {f['flag_type']:<20} {f['status']:<12} {f['subject']:<16} "
            f"{f['summary']}"
        )
    typer.echo(f"{len(listed)} flag(s)" + (f" from {offset + 1}" if offset else ""))


@flag_app.command("show")
def flag_show(
    flag_id: Annotated[str, typer.Argument(help="the flag's id (from das flags)")],
    purpose: Annotated[str, typer.Option("--purpose", help="why you look (at least 10 characters); logged")],
    case_ref: Annotated[str | None, typer.Option("--case", help="case or incident reference")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One flag: its summary, evidence and triage status. The view is written to the audit log."""
    import psycopg2

    from das.postgis.flags import flag_detail

    if len(purpose.strip()) < 10:
        _fail(DasError("--purpose must say why, in at least 10 characters (it is written to the audit log)"))
    settings = get_settings()
    try:
        flag = flag_detail(settings, flag_id, purpose, case_ref)  # evidence through the audited view
        if flag is None:
            _fail(DasError(f"no flag {flag_id!r}; `das flags` lists them with their ids"))
            raise typer.Exit(code=1)
    except (DasError, psycopg2.Error) as exc:
        _fail(DasError(str(exc).strip().splitlines()[0]))
        raise
    flag = {k: _jsonable(v) for k, v in flag.items()}
    if as_json:
        typer.echo(json.dumps(flag, indent=2))
        return
    typer.echo(f"{flag['flag_type']} {flag['flag_id']}  score {flag['score']:.2f}  status {flag['status']}")
    typer.echo(f"  {flag['summary']}")
    typer.echo(f"  window {flag['window_start']} .. {flag['window_end']}; related: {', '.join(flag['related']) or '-'}")
    for e in flag["evidence"]:
        typer.echo(
            f"  - {e['kind']:<6} {e['at'] or '':<27} {e['camera_id'] or '':<14} {e['plate'] or '':<10} "
            f"{e['detail'] or ''}"
        )


@app.command()
def runs(
    source: Annotated[str | None, typer.Option("--source", help="only this source")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="only runs whose files did not reconcile")] = False,
    limit: Annotated[int, typer.Option("--limit", help="the latest this many files")] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Ingest runs, a row per file, with their reconciliation: landed = published + quarantined + duplicates."""
    from das.postgis.connection import transaction
    from jobs.sources import source_names

    _choice(source, "--source", source_names())
    try:
        with transaction(get_settings()) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT ingest_run_id, source, source_file, status, rows_landed, rows_published, rows_quarantined, "
                "rows_duplicate, rows_updated, rows_conflicting, finished_at, message FROM das.ingest_runs "
                "WHERE (%s::text IS NULL OR source = %s) AND (NOT %s OR status = 'failed') "
                "ORDER BY finished_at DESC LIMIT %s",
                (source, source, failed, limit),
            )
            names = [d.name for d in cur.description or ()]
            rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    except DasError as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps([{k: _jsonable(v) for k, v in r.items()} for r in rows], indent=2))
        return
    for r in rows:
        ok = r["rows_landed"] == r["rows_published"] + r["rows_quarantined"] + r["rows_duplicate"]
        typer.echo(
            f"{_jsonable(r['finished_at'])}  {r['source']:<8} {r['status']:<10} landed {r['rows_landed']:>9,} = "
            f"{r['rows_published']:,} + {r['rows_quarantined']:,} + {r['rows_duplicate']:,} "
            f"{'ok' if ok else 'DOES NOT RECONCILE'}  {Path(r['source_file']).name}"
        )
    typer.echo(f"{len(rows)} file(s)")


@app.command()
def quarantine(
    source: Annotated[str | None, typer.Option("--source", help="only this source")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="only this reason code")] = None,
    limit: Annotated[int, typer.Option("--limit", help="at most this many rows")] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Quarantined rows: what was rejected, why, from which file (read from the lake, newest first)."""
    from das.lake import read_arrow
    from jobs.sources import source_names
    from schemas.tables import QUARANTINE, QUARANTINE_REASONS

    _choice(source, "--source", source_names())
    _choice(reason, "--reason", QUARANTINE_REASONS)
    rows = [
        r
        for r in read_arrow(get_settings(), QUARANTINE).to_pylist()
        if (source is None or r["source"] == source) and (reason is None or r["reason_code"] == reason)
    ]
    rows.sort(key=lambda r: (r["ingested_at"], r["source_file"], r["row_number"]), reverse=True)
    rows = rows[:limit]
    if as_json:
        typer.echo(json.dumps([{k: _jsonable(v) for k, v in r.items()} for r in rows], indent=2))
        return
    for r in rows:
        where = f"{Path(r['source_file']).name}:{r['row_number'] or 'file'}"
        typer.echo(f"{r['source']:<8} {r['reason_code']:<26} {where:<40} {r['reason_detail'] or ''}")
    typer.echo(f"{len(rows)} row(s)")


def _iso_date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO date: give YYYY-MM-DD, e.g. {date.today().isoformat()}", param_hint=option
        ) from None


REPORTS = ("briefing", "lfr")


@app.command("report")
def report(
    kind: Annotated[str, typer.Argument(help="briefing (the default) or lfr")] = "briefing",
    day: Annotated[str | None, typer.Option("--date", help="briefing: the UTC day to brief, YYYY-MM-DD")] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="folder for index.html and its PNGs (default DAS_HOME/reports/DATE/)")
    ] = None,
    period_from: Annotated[
        str | None, typer.Option("--from", help="lfr: deployments starting from this UTC day (or ISO time)")
    ] = None,
    period_to: Annotated[
        str | None, typer.Option("--to", help="lfr: up to and including this UTC day (or before this ISO time)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="lfr: the report as JSON, with every deployment")] = False,
) -> None:
    """`das report --date D`: the daily briefing, one static HTML page (index.html, PNGs beside it) of a UTC day:
    its flags and emerging hotspots on the borough map, the top leads, ANPR reads per hour, and crimes per borough
    against the weeks before; prints the page's path.

    `das report lfr --from D1 --to D2`: the live facial recognition oversight report of the deployments starting
    in that period: per deployment, per borough and in total, with false alerts by recorded demographic group."""
    _choice(kind, "report", REPORTS)
    if kind == "lfr":
        _lfr_report(period_from, period_to, as_json)
        return
    if day is None:
        _fail(DasError("the briefing needs --date YYYY-MM-DD (or `das report lfr --from ... --to ...`)"))
        raise AssertionError  # unreachable: _fail exits
    from jobs.briefing import write_briefing

    briefing_day = _iso_date(day, "--date")
    try:
        _serving_database_ready()
        page = write_briefing(get_settings(), briefing_day, out)
    except DasError as exc:
        _fail(exc)
        raise
    typer.echo(str(page))


def _period_bound(value: str | None, option: str, *, end: bool) -> datetime:
    """A day (the whole day: --to includes it) or an ISO time, as UTC."""
    if value is None:
        _fail(DasError(f"the LFR report needs {option}: a UTC day YYYY-MM-DD or an ISO time"))
        raise AssertionError
    if len(value) == 10:
        start = datetime.combine(_iso_date(value, option), datetime.min.time(), timezone.utc)
        return start + timedelta(days=1) if end else start
    moment = _iso_time(value, option)
    assert moment is not None
    return moment


def _lfr_report(period_from: str | None, period_to: str | None, as_json: bool) -> None:
    from das import oversight
    from das.postgis import serving
    from das.postgis.connection import transaction

    start = _period_bound(period_from, "--from", end=False)
    end = _period_bound(period_to, "--to", end=True)
    if end <= start:
        _fail(DasError(f"--to {period_to} is not after --from {period_from}"))
    try:
        _serving_database_ready()
        with transaction(get_settings()) as conn, conn.cursor() as cur:
            found = serving.lfr_report(cur, start, end)
    except DasError as exc:
        _fail(exc)
        raise
    typer.echo(json.dumps(_jsonable(found), indent=2) if as_json else oversight.render_text(found))


load_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Load reference data a force supplies.")
app.add_typer(load_app, name="load")


@load_app.command("boundaries")
def load_boundaries(
    file: Annotated[Path, typer.Argument(help="an ONS-style GeoJSON or GeoPackage of polygons, in any CRS")],
    kind: Annotated[str, typer.Option("--kind", help="borough | lsoa | ward")],
) -> None:
    """Replace one kind of boundaries with a file's areas (reprojected to EPSG:4326), in one transaction.

    The bundled samples are the default until a force loads its own; migrations never overwrite a loaded file."""
    from das import postgis
    from schemas.reference import BOUNDARY_KINDS

    _choice(kind, "--kind", list(BOUNDARY_KINDS))
    try:
        loaded = postgis.load_boundaries(get_settings(), file, kind)
    except DasError as exc:
        _fail(exc)
    table = BOUNDARY_KINDS[kind].table.postgis_name
    typer.echo(f"loaded {loaded:,} {kind} boundaries from {file} into das.{table}")


@app.command()
def simulate(
    out: Annotated[Path, typer.Option("--out", help="landing folder to write")],
    reads: Annotated[int, typer.Option(help="ANPR reads per day")] = 50_000,
    seed: Annotated[str, typer.Option(help="integer seed: same seed, same files")] = "42",
    days: Annotated[int, typer.Option(help="days of ANPR reads")] = 1,
    crime_days: Annotated[int, typer.Option(help="days of crimes")] = 35,
    cameras_file: Annotated[Path | None, typer.Option(help="cameras file (default: bundled TfL JamCams)")] = None,
    cameras: Annotated[int | None, typer.Option(help="use this many cameras (default: all available)")] = None,
    small: Annotated[bool, typer.Option("--small", help="the CI-sized scenario (50k reads, 300 cameras)")] = False,
    overwrite: Annotated[bool, typer.Option(help="replace an earlier simulation in --out")] = False,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Write landing files (cameras, crimes, anpr, hotlist) with planted patterns, plus truth.json."""
    from das_tools.simulator import SimulationParams, default_small_scenario, run_simulation

    try:
        if small:
            params = default_small_scenario(seed=_int_seed(seed))
        else:
            params = SimulationParams(
                seed=seed,  # type: ignore[arg-type]  # validated by SimulationParams with a clear error
                reads=reads,
                days_of_reads=days,
                crime_days=crime_days,
                cameras_file=cameras_file,
                cameras=cameras,
            )
        result = run_simulation(params, out, progress=progress, overwrite=overwrite)
    except DasError as exc:
        _fail(exc)
    typer.echo(result.summary())


def _int_seed(seed: str) -> int:
    try:
        return int(seed)
    except ValueError:
        _fail(DasError(f"--seed {seed!r} is not an integer"))
        raise


@app.command("eval")
def evaluate(
    truth: Annotated[Path, typer.Option("--truth", help="truth.json written by das simulate")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Precision, recall and F1 per flag type of the current flags against a simulation's truth."""
    from das_tools.evaluation import evaluate as run_eval

    if not truth.is_file():
        _fail(DasError(f"--truth {truth} does not exist; das simulate writes it into its --out folder"))
    report = run_eval(load_flags(), json.loads(truth.read_text()))
    typer.echo(json.dumps(report.to_dict(), indent=2) if as_json else report.format_table())


@bench_app.command("ingest")
def bench_ingest(
    reads: Annotated[int, typer.Option(help="ANPR reads in the landing CSV")] = 1_000_000,
    out: Annotated[Path | None, typer.Option(help="write the markdown result here")] = None,
) -> None:
    """Landing CSV -> validated silver Delta for ANPR reads, beside DuckDB CSV->Parquet on the same file."""
    from das_tools.bench.scenario import bench_ingest as run_bench

    _echo_report(lambda: run_bench(reads, out))


@bench_app.command("scenario")
def bench_scenario(
    reads: Annotated[int, typer.Option(help="ANPR reads per day")] = 1_000_000,
    out: Annotated[Path | None, typer.Option(help="write the markdown result here")] = None,
) -> None:
    """Simulate, ingest, validate, publish, detect (per detector) and end to end, with DuckDB references."""
    from das_tools.bench.scenario import bench_scenario as run_bench

    _echo_report(lambda: run_bench(reads, out))


@bench_app.command("convoy")
def bench_convoy(
    reads: Annotated[int, typer.Option(help="ANPR reads in the simulated day")] = 1_000_000,
    exact: Annotated[bool, typer.Option(help="also run the exact pairwise algorithm, the reference")] = True,
    out: Annotated[Path | None, typer.Option(help="write the markdown result here")] = None,
) -> None:
    """Convoy pairing by segment candidates beside the exact pairwise pairing: time, memory, the same pairs."""
    from das_tools.bench.convoy import bench_convoy as run_bench

    _echo_report(lambda: run_bench(reads, out, exact=exact))


@bench_app.command("publish")
def bench_publish(
    reads: Annotated[int, typer.Option(help="ANPR reads in the simulated day")] = 1_000_000,
    out: Annotated[Path | None, typer.Option(help="write the markdown result here")] = None,
) -> None:
    """One day of reads into PostGIS with the production publish, beside a plain COPY of the same rows."""
    from das_tools.bench.publish import bench_publish as run_bench

    _echo_report(lambda: run_bench(reads, out))


@bench_app.command("analyst")
def bench_analyst(
    reads: Annotated[int, typer.Option(help="ANPR reads in PostGIS, spread over --days")] = 30_000_000,
    days: Annotated[int, typer.Option(help="days the reads cover (one partition each)")] = 3,
    queries: Annotated[int, typer.Option(help="timed queries per function")] = 200,
    keep: Annotated[bool, typer.Option(help="keep the das_bench database and files for inspection")] = False,
    out: Annotated[Path | None, typer.Option(help="write the markdown result here")] = None,
) -> None:
    """Analyst functions in PostGIS (plate_history, vehicles_near, cameras_covering): p50/p95 latency, with DuckDB."""
    from das_tools.bench.analyst import bench_analyst as run_bench

    _echo_report(lambda: run_bench(reads, days=days, queries=queries, out=out, keep=keep))


@bench_app.command("stream")
def bench_stream(
    files: Annotated[int, typer.Option(help="ANPR files to land one by one, each with a hotlisted read")] = 20,
    trigger_seconds: Annotated[float, typer.Option(help="the stream's trigger interval")] = 1.0,
    out: Annotated[Path | None, typer.Option(help="write the markdown result here")] = None,
) -> None:
    """Streaming hotlist latency: file landed -> flag row in PostGIS, p50/p95/max (no DuckDB reference)."""
    from das_tools.bench.streaming import bench_stream_latency

    try:
        typer.echo(bench_stream_latency(files, out, trigger_seconds=trigger_seconds))
    except (DasError, ValueError) as exc:
        _fail(exc)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def airflow(ctx: typer.Context) -> None:
    """Run the Airflow CLI against the local setup, e.g. `das airflow standalone` or `das airflow dags list`."""
    from das_tools.localstack.airflow import airflow_environment, prepare_airflow

    env = {**os.environ, **airflow_environment(get_settings())}
    if ctx.args[:1] in (["standalone"], ["scheduler"]) or ctx.args[:2] in (["dags", "test"], ["tasks", "test"]):
        prepare_airflow(env)  # its metadata database migrated and the das pools there before anything runs
    executable = str(Path(sys.executable).with_name("airflow"))
    os.execvpe(executable, [executable, *ctx.args], env)


@app.command()
def demo(
    simulated: Annotated[
        bool, typer.Option(help="add a simulated day of ANPR traffic (with planted leads) to the real samples")
    ] = True,
) -> None:
    """Start PostGIS and run the whole pipeline: a simulated day of ANPR reads, hotlist and crimes at 300 real TfL
    camera sites (planted leads, so every detector has something to find) plus the bundled real Met crimes sample;
    ``--no-simulated``: the real samples only (cameras and crimes)."""
    import shutil
    import tempfile

    from das_tools.simulator import default_small_scenario, run_simulation

    landing = Path(tempfile.mkdtemp(prefix="das-demo-landing-"))
    day = None
    if simulated:
        params = default_small_scenario()
        result = run_simulation(params, landing, progress=False)
        day = params.resolved_start_date()
        typer.echo(result.summary())
    else:  # the simulation writes its own cameras, at 300 of these real JamCam sites, as ANPR cameras
        (landing / "cameras").mkdir()
        shutil.copy(SAMPLES_DIR / "tfl_jamcams_2024-04.geojson", landing / "cameras")
    (landing / "crimes").mkdir(exist_ok=True)
    shutil.copy(SAMPLES_DIR / "met_street_2023-01_sample.csv", landing / "crimes")
    run(landing=landing, as_json=False)
    settings = get_settings()
    typer.echo(
        f"Query it: PGPASSWORD=$(cat {settings.home_abs / 'secrets' / 'pg-das.password'}) "
        f"psql -h 127.0.0.1 -p {settings.pg_port} -U {settings.pg_user} {settings.pg_database} "
        "-c 'select count(*) from das.cameras'"
    )
    typer.echo("See it: das users add NAME --role investigator, then das serve and open http://127.0.0.1:8000/")
    if day is not None:
        typer.echo(f"The demo day is {day.isoformat()}: das report --date {day.isoformat()}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on (0.0.0.0 for every interface)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port", min=1, max=65535)] = 8000,
    notifier: Annotated[
        bool | None,
        typer.Option(help="also send new flags to the configured webhook/email (default: on when one is configured)"),
    ] = None,
) -> None:
    """The web app and its JSON API (OpenAPI at /openapi.json): log in with a token from `das users add`."""
    import uvicorn

    from das_api import create_app
    from jobs.flag_notifier import channels

    settings = get_settings()
    try:
        _serving_database_ready()
    except DasError as exc:
        _fail(exc)
    notify = bool(channels(settings.alerts)) if notifier is None else notifier
    typer.echo(
        f"das serve on http://{host}:{port}/ (API docs /docs); notifier {'on' if notify else 'off'}; Ctrl-C stops"
    )
    uvicorn.run(create_app(settings, notifier=notify), host=host, port=port, log_level="warning")


@app.command()
def notify(
    once: Annotated[bool, typer.Option("--once", help="one pass, then exit (for cron or an Airflow task)")] = False,
) -> None:
    """Send new flags (score >= DAS_ALERTS__FLAG_MIN_SCORE, and every hotlist hit) to the configured channels, each
    once; failed deliveries are retried with backoff and shown in the engineer view."""
    import threading

    from jobs.flag_notifier import channels, notify_once, run_forever

    settings = get_settings()
    if not channels(settings.alerts):
        _fail(DasError("no channel configured: set DAS_ALERTS__WEBHOOK_URL, or DAS_ALERTS__SMTP_HOST and _SMTP_TO"))
    try:
        _serving_database_ready()
        if once:
            typer.echo(json.dumps(notify_once(settings)))
            return
        typer.echo(f"notifying every {settings.alerts.flag_poll_seconds:g} s; Ctrl-C stops")
        run_forever(settings, threading.Event())
    except DasError as exc:
        _fail(exc)
    except KeyboardInterrupt:
        return


@app.command("stream-hotlist")
def stream_hotlist(
    landing: Annotated[
        Path | None, typer.Option("--landing", help="landing folder; its anpr/ is watched (default DAS_LANDING_DIR)")
    ] = None,
    trigger_seconds: Annotated[float, typer.Option("--trigger-seconds", help="micro-batch trigger interval")] = 1.0,
) -> None:
    """Raise hotlist hits from newly landed ANPR files into PostGIS within seconds; runs until Ctrl-C."""
    from jobs import tasks
    from jobs.streaming import start_hotlist_stream

    settings = get_settings()
    try:
        _serving_database_ready()
        rt = tasks.runtime(settings)
        query = start_hotlist_stream(rt.spark, rt.lake, settings, landing=landing, trigger_seconds=trigger_seconds)
    except DasError as exc:
        _fail(exc)
    typer.echo(f"watching {(landing or settings.landing) / 'anpr'} every {trigger_seconds:g} s; Ctrl-C stops")
    try:
        query.awaitTermination()
    except KeyboardInterrupt:
        typer.echo("stopping the hotlist stream")
    finally:
        query.stop()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
