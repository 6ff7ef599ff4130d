"""The local PostgreSQL + PostGIS cluster manager against the machine's real PostgreSQL binaries."""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg2
import psycopg2.extensions
import pytest

from das.config import Settings
from das.errors import ServiceError
from das_tools.localstack.postgres import (
    CLUSTERS_ROOT,
    LOCATION_FILE,
    SERVICE_USERS,
    PostgresMissingError,
    check_database,
    connect,
    down,
    external_cluster_dir,
    find_bin_dir,
    format_status,
    server_major_version,
    status,
    up,
)
from tests.postgres_fixtures import free_port, make_pg_home, start_or_give_up

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def own_cluster() -> Iterator[Settings]:
    """Settings for a second cluster these tests may start and stop (the shared one must stay up)."""
    home = make_pg_home("das-pg-lifecycle-")
    settings = Settings(home=home, pg_port=free_port())
    yield settings
    try:
        down(settings)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _scalar(cur: psycopg2.extensions.cursor) -> Any:
    row = cur.fetchone()
    assert row is not None
    return row[0]


def _dead_pid() -> int:
    """The pid of a process that has certainly exited (and been reaped)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_up_is_idempotent_and_down_twice_is_fine(own_cluster: Settings) -> None:
    assert status(own_cluster).running is False

    start_or_give_up(own_cluster)
    first = status(own_cluster)
    second = up(own_cluster)

    assert first.running and second.running
    assert second.pid == first.pid  # the second up reused the running server
    assert second.port == own_cluster.pg_port
    assert any("already running" in note for note in second.notes)
    assert (own_cluster.logs_dir / "postgres.log").stat().st_size > 0
    assert "running" in format_status(second)

    down(own_cluster)
    after_second_down = down(own_cluster)
    assert after_second_down.running is False
    assert status(own_cluster).running is False
    assert "stopped" in format_status(status(own_cluster))
    with pytest.raises(psycopg2.OperationalError):
        connect(own_cluster)


def test_stale_pid_file_is_removed_and_the_cluster_starts(
    own_cluster: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    start_or_give_up(own_cluster)
    pid_file = own_cluster.pg_data_dir / "postmaster.pid"
    real_lines = pid_file.read_text().splitlines()
    down(own_cluster)
    assert not pid_file.exists()

    # What a crash leaves behind: the server's own pid file naming a process that is gone.
    stale_pid = _dead_pid()
    pid_file.write_text("\n".join([str(stale_pid), *real_lines[1:]]) + "\n")
    assert status(own_cluster).running is False

    with caplog.at_level(logging.WARNING, logger="das_tools.localstack.postgres"):
        started = up(own_cluster)

    assert started.running
    assert started.pid != stale_pid
    assert any("stale" in note and str(stale_pid) in note for note in started.notes)
    assert any("stale" in record.getMessage() for record in caplog.records)
    down(own_cluster)


def test_a_running_cluster_on_another_port_is_reported(own_cluster: Settings) -> None:
    start_or_give_up(own_cluster)
    try:
        moved = own_cluster.model_copy(update={"pg_port": own_cluster.pg_port + 1})
        with pytest.raises(ServiceError, match=rf"already running on port {own_cluster.pg_port}"):
            up(moved)
    finally:
        down(own_cluster)


def test_databases_exist_and_postgis_works(pg_settings: Settings, pg_conn: psycopg2.extensions.connection) -> None:
    current = status(pg_settings)
    assert current.running
    assert {"das", "airflow"} <= set(current.databases)
    assert current.postgis_version is not None

    with pg_conn.cursor() as cur:
        cur.execute("SELECT current_database(), postgis_full_version()")
        row = cur.fetchone()
        assert row is not None
        database, full_version = row
        cur.execute("SELECT ST_Distance(ST_GeogFromText('POINT(0 51)'), ST_GeogFromText('POINT(0 52)'))")
        one_degree_m = _scalar(cur)
    assert database == "das"
    assert full_version.startswith('POSTGIS="3')
    assert 110_000 < one_degree_m < 112_000  # one degree of latitude is about 111 km
    assert pg_conn.autocommit is False


def test_connect_reaches_a_named_database(pg_settings: Settings) -> None:
    conn = connect(pg_settings, "airflow")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT current_database()")
            assert _scalar(cur) == "airflow"
    finally:
        conn.close()


def test_pg_conn_rolls_back_what_a_test_wrote(pg_settings: Settings, pg_conn: psycopg2.extensions.connection) -> None:
    with pg_conn.cursor() as cur:
        cur.execute("CREATE TABLE rollback_probe (id int)")
    pg_conn.rollback()  # what the fixture does at teardown
    other = connect(pg_settings)
    try:
        with other.cursor() as cur:
            cur.execute("SELECT to_regclass('public.rollback_probe')")
            assert _scalar(cur) is None
    finally:
        other.close()


def test_port_in_use_is_a_one_line_error_naming_the_port(tmp_path: Path) -> None:
    home = make_pg_home("das-pg-busy-")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        busy_port = squatter.getsockname()[1]
        settings = Settings(home=home, pg_port=busy_port)
        try:
            with pytest.raises(ServiceError) as raised:
                up(settings)
        finally:
            shutil.rmtree(home, ignore_errors=True)
    message = str(raised.value)
    assert str(busy_port) in message
    assert "DAS_PG_PORT" in message
    assert "\n" not in message
    assert not isinstance(raised.value, PostgresMissingError)


def test_empty_pg_bin_dir_is_an_error_naming_the_setting_and_installs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty_bin = tmp_path / "empty-bin"
    empty_bin.mkdir()
    # An apt-get that only records being called: an explicit DAS_PG_BIN_DIR must never trigger an install.
    fake_bin = tmp_path / "fake-apt"
    fake_bin.mkdir()
    called = tmp_path / "apt-get-was-called"
    fake_apt = fake_bin / "apt-get"
    fake_apt.write_text(f"#!/bin/sh\ntouch {called}\nexit 1\n")
    fake_apt.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}{os.environ['PATH']}")

    settings = Settings(home=tmp_path / "home", pg_port=free_port(), pg_bin_dir=empty_bin)
    with pytest.raises(PostgresMissingError) as raised:
        up(settings)

    message = str(raised.value)
    assert "DAS_PG_BIN_DIR" in message
    assert str(empty_bin) in message
    assert "initdb" in message
    assert "\n" not in message
    assert not called.exists()
    assert not settings.pg_data_dir.exists()


def test_unreachable_managed_database_is_a_one_line_error(tmp_path: Path) -> None:
    nobody_port = free_port()
    settings = Settings(
        home=tmp_path / "home",
        database_url=f"postgresql+psycopg2://das:s3cret@127.0.0.1:{nobody_port}/das",
    )
    with pytest.raises(ServiceError) as raised:
        check_database(settings)
    message = str(raised.value)
    assert "DAS_DATABASE_URL" in message
    assert str(nobody_port) in message
    assert "s3cret" not in message
    assert "\n" not in message
    assert status(settings).running is False


def test_up_with_a_managed_database_starts_nothing_locally(pg_settings: Settings, tmp_path: Path) -> None:
    # The shared cluster plays the managed PostGIS; this home must stay empty.
    managed = Settings(home=tmp_path / "managed-home", database_url=pg_settings.sqlalchemy_url)
    result = up(managed)
    assert result.managed and result.running
    assert result.postgis_version is not None
    assert not managed.pg_data_dir.exists()
    assert down(managed).running  # down leaves a managed database alone


def test_missing_postgis_names_the_package_for_the_server_version(tmp_path: Path) -> None:
    real_bin = find_bin_dir(Settings(home=tmp_path / "probe"))
    if real_bin is None:
        pytest.skip("no PostgreSQL binaries on this machine to build a PostGIS-less bin dir from")
    # A bin dir with the real server but a share dir without postgis.control in it.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("initdb", "pg_ctl", "postgres"):
        (bin_dir / name).symlink_to(real_bin / name)
    empty_share = tmp_path / "share"
    (empty_share / "extension").mkdir(parents=True)
    pg_config = bin_dir / "pg_config"
    pg_config.write_text(f"#!/bin/sh\necho {empty_share}\n")
    pg_config.chmod(0o755)
    major = server_major_version(real_bin)

    settings = Settings(home=tmp_path / "home", pg_port=free_port(), pg_bin_dir=bin_dir)
    with pytest.raises(PostgresMissingError) as raised:
        up(settings)

    message = str(raised.value)
    assert f"postgresql-{major}-postgis-3" in message
    assert "PostGIS" in message
    assert "\n" not in message
    assert not settings.pg_data_dir.exists()


# ---------------------------------------------------------------------------------------------
# Where the cluster lives for root in a private home, and for a user who is not root

needs_root = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="only as root does the server run as a service user that may be unable to reach DAS_HOME "
    "(and only root can switch to another user); as anyone else the tests above already cover the cluster",
)


@pytest.fixture
def private_home() -> Iterator[Settings]:
    """Settings whose DAS_HOME sits in a root-owned mode-700 directory, like a project in /root."""
    top = Path(tempfile.mkdtemp(prefix="das-pg-private-"))
    top.chmod(0o700)
    settings = Settings(home=top / "project" / ".das", pg_port=free_port())
    try:
        yield settings
    finally:
        with contextlib.suppress(ServiceError):
            down(settings)
        shutil.rmtree(external_cluster_dir(settings), ignore_errors=True)
        shutil.rmtree(top, ignore_errors=True)


def _service_user_name() -> str:
    for name in SERVICE_USERS:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name).pw_name
    raise AssertionError(f"up() ran as root but none of {SERVICE_USERS} exists")


def _user_can_search(user: str, path: Path) -> bool:
    return subprocess.run(["test", "-x", str(path)], user=user, extra_groups=[], cwd="/").returncode == 0


def _count_rows(settings: Settings, table: str) -> int | None:
    """Rows in ``table`` of the das database, None when the table does not exist."""
    conn = connect(settings)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass(%s)", (table,))
            if _scalar(cur) is None:
                return None
            cur.execute(f"SELECT count(*) FROM {table}")
            return int(_scalar(cur))
    finally:
        conn.close()


@needs_root
def test_root_with_das_home_in_a_private_directory_gets_a_cluster_outside_it_that_keeps_its_data(
    private_home: Settings,
) -> None:
    settings = private_home
    cluster_dir = external_cluster_dir(settings)
    assert not cluster_dir.exists()

    start_or_give_up(settings)
    # The situation this is about: the service user cannot get into DAS_HOME at all.
    assert not _user_can_search(_service_user_name(), settings.home_abs)
    first = status(settings)
    assert first.running
    assert first.data_dir == cluster_dir / "data"
    assert first.socket_dir == cluster_dir / "socket"
    assert first.log_file == cluster_dir / "postgres.log"
    assert cluster_dir.parent == CLUSTERS_ROOT
    assert cluster_dir.stat().st_mode & 0o777 == 0o700
    assert (cluster_dir / "data").stat().st_mode & 0o777 == 0o700
    assert (settings.home_abs / LOCATION_FILE).read_text().splitlines()[0] == str(cluster_dir)
    assert not (settings.pg_data_dir / "PG_VERSION").exists()
    assert "running" in format_status(first)
    assert str(cluster_dir / "data") in format_status(first)

    # Both ways in work: TCP (what the app uses) and the unix socket.
    conn = connect(settings)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE survives_restart (id int)")
            cur.execute("INSERT INTO survives_restart VALUES (1), (2)")
        conn.commit()
    finally:
        conn.close()
    with (
        contextlib.closing(
            psycopg2.connect(
                host=str(first.socket_dir),
                port=settings.pg_port,
                user=settings.pg_user,
                password=settings.local_password(settings.pg_user),
                dbname=settings.pg_database,
            )
        ) as over_socket,
        over_socket.cursor() as cur,
    ):
        cur.execute("SELECT count(*) FROM survives_restart")
        assert _scalar(cur) == 2

    stopped = down(settings)
    assert stopped.running is False
    assert stopped.data_dir == cluster_dir / "data"  # down found the same cluster

    again = up(settings)
    assert again.running
    assert again.data_dir == cluster_dir / "data"
    assert not any("initialised" in note for note in again.notes)
    assert _count_rows(settings, "survives_restart") == 2
    down(settings)
    assert status(settings).running is False


@needs_root
def test_deleting_das_home_also_discards_its_cluster_outside_it(private_home: Settings) -> None:
    settings = private_home
    start_or_give_up(settings)
    conn = connect(settings)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE from_the_old_home (id int)")
        conn.commit()
    finally:
        conn.close()
    down(settings)

    shutil.rmtree(settings.home_abs)  # what 'make clean' does
    assert any("left over" in note for note in status(settings).notes)
    fresh = up(settings)

    assert fresh.running
    assert fresh.data_dir == external_cluster_dir(settings) / "data"
    assert any("removed" in note and str(external_cluster_dir(settings)) in note for note in fresh.notes)
    assert _count_rows(settings, "from_the_old_home") is None
    assert (settings.home_abs / LOCATION_FILE).is_file()
    down(settings)


def _in_child_as(user: pwd.struct_passwd, work: Callable[[], str]) -> tuple[int, str]:
    """Run ``work`` in a forked child that has become ``user`` for good; (exit code, its text or error)."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe and never returns
        code = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            text = work()
            code = 0
        except BaseException as exc:  # everything must reach the parent
            text = f"{type(exc).__name__}: {exc}"
        finally:
            os.write(write_end, text.encode())
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as reader:
        text = reader.read()
    _, wait_status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(wait_status), text


@needs_root
def test_a_user_who_is_not_root_runs_the_server_itself_with_data_under_das_home() -> None:
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no 'nobody' user on this machine to play a user without root")
    if find_bin_dir(Settings(home=Path(tempfile.gettempdir()) / "das-probe")) is None:
        pytest.skip("no PostgreSQL binaries on this machine")
    top = Path(tempfile.mkdtemp(prefix="das-pg-nonroot-"))
    os.chown(top, nobody.pw_uid, nobody.pw_gid)
    top.chmod(0o700)  # private to that user, like any home
    settings = Settings(home=top / ".das", pg_port=free_port())

    def as_that_user() -> str:
        started = up(settings)
        server_uid = os.stat(f"/proc/{started.pid}").st_uid if Path("/proc").is_dir() else os.geteuid()
        lines = [str(os.geteuid()), str(started.data_dir), str(server_uid), str(started.running)]
        with contextlib.closing(connect(settings)) as conn, conn.cursor() as cur:
            cur.execute("SELECT postgis_version()")
            lines.append(str(_scalar(cur)))
        lines.append(str(down(settings).running))
        return "\n".join(lines)

    try:
        code, text = _in_child_as(nobody, as_that_user)
        assert code == 0, text
        euid, data_dir, server_uid, running, postgis_version, running_after_down = text.splitlines()
        assert euid == server_uid == str(nobody.pw_uid)  # the server ran as that user, not a service user
        assert data_dir == str(settings.pg_data_dir)
        assert running == "True" and running_after_down == "False"
        assert postgis_version.startswith("3")
        assert (settings.pg_data_dir / "PG_VERSION").stat().st_uid == nobody.pw_uid
        assert not external_cluster_dir(settings).exists()
    finally:
        pid_file = settings.pg_data_dir / "postmaster.pid"
        if pid_file.exists():  # the child failed half way: stop what it started
            with contextlib.suppress(ValueError, OSError):
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGTERM)
        shutil.rmtree(top, ignore_errors=True)


def test_no_connection_is_trusted_the_superuser_needs_its_password(pg_settings: Settings) -> None:
    """scram-sha-256 everywhere: without its password not even the superuser gets in, by TCP or the socket."""
    from das_tools.localstack.postgres import ADMIN_ROLE

    hosts = ["127.0.0.1"]
    socket_dir = status(pg_settings).socket_dir
    if socket_dir is not None:
        hosts.append(str(socket_dir))
    for host in hosts:
        for role in (ADMIN_ROLE, pg_settings.pg_user):
            with pytest.raises(psycopg2.OperationalError, match="password"):
                psycopg2.connect(host=host, port=pg_settings.pg_port, user=role, dbname="postgres", connect_timeout=5)
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(
            host="127.0.0.1", port=pg_settings.pg_port, user=ADMIN_ROLE, password="wrong", dbname="postgres"
        )
    secrets = pg_settings.home_abs / "secrets"
    assert oct(secrets.stat().st_mode & 0o777) == "0o700"
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in secrets.iterdir())


def test_the_pipeline_role_owns_its_database_but_is_no_superuser(pg_settings: Settings) -> None:
    conn = connect(pg_settings)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user")
            assert cur.fetchone() == (False, True)
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("COPY (SELECT 1) TO PROGRAM 'true'")
    finally:
        conn.rollback()
        conn.close()
