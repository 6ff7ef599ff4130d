"""The project-local PostgreSQL + PostGIS cluster: find or install the binaries, start, stop, report.

The cluster's data dir, unix socket and log live under DAS_HOME and it listens on 127.0.0.1 only, so it
never touches a system cluster. When ``DAS_DATABASE_URL`` points at a managed PostGIS, nothing runs
locally: ``up`` only checks that database and its postgis extension.

PostgreSQL refuses to run as root, so when we are root (CI, containers) the server runs as a system
user (``postgres`` if the Debian package made one, else ``das-pg``) that owns the data directory.
That user may be unable to reach DAS_HOME (a project in root's mode-700 home): then the cluster lives
in ``/var/lib/das/clusters/<sha256 of the DAS_HOME path>/`` ({data,socket,postgres.log}) instead,
and ``DAS_HOME/pg.location`` names it. The cluster belongs to that DAS_HOME while the file exists:
``das up`` discards a cluster there whose DAS_HOME was deleted, as deleting ``DAS_HOME/pg`` would.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import pwd
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from das.config import Settings
from das.credentials import generated
from das.errors import ServiceError

log = logging.getLogger(__name__)

REQUIRED_BINARIES = ("initdb", "pg_ctl", "postgres")
ADMIN_ROLE = "das_admin"  # the local cluster's superuser: setup only, never the pipeline
SERVICE_USERS = ("postgres", "das-pg")  # preferred first; the second is created when neither exists
FALLBACK_USER = "das-pg"
START_TIMEOUT_S = 60
CONNECT_TIMEOUT_S = 10
# Linux limits a unix socket path to 107 bytes; ".s.PGSQL.NNNNN" takes 14 of them plus a slash.
MAX_SOCKET_DIR_LEN = 107 - 15
COMPOSE_FILE = "infra/docker-compose.yml"
CREATECLUSTER_DROP_IN = Path("/etc/postgresql-common/createcluster.d/das-no-main-cluster.conf")
# Clusters of DAS_HOMEs the service user cannot reach (as root only); one directory per DAS_HOME path.
CLUSTERS_ROOT = Path("/var/lib/das/clusters")
LOCATION_FILE = "pg.location"  # in DAS_HOME: names the cluster directory under CLUSTERS_ROOT


class PostgresMissingError(ServiceError):
    """The PostgreSQL or PostGIS binaries are not on this machine and could not be installed."""


@dataclass
class ClusterStatus:
    running: bool
    managed: bool  # True when DAS_DATABASE_URL points at a database we do not run
    host: str
    port: int | None
    pid: int | None = None
    data_dir: Path | None = None
    socket_dir: Path | None = None
    log_file: Path | None = None
    version: str | None = None
    postgis_version: str | None = None
    databases: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # things up() did or noticed, e.g. a removed stale pid


def format_status(status: ClusterStatus) -> str:
    """Human-readable multi-line status for ``das status``."""
    where = f"{status.host}:{status.port}"
    if status.managed:
        state = "reachable" if status.running else "unreachable"
        head = f"PostgreSQL (managed, DAS_DATABASE_URL) at {where}: {state}"
    else:
        state = f"running (pid {status.pid})" if status.running else "stopped"
        head = f"PostgreSQL (local) {state} on {where}"
    lines = [head]
    if status.version:
        lines.append(f"  version:   {status.version}")
    if status.postgis_version:
        lines.append(f"  postgis:   {status.postgis_version}")
    if status.data_dir:
        lines.append(f"  data dir:  {status.data_dir}")
    if status.socket_dir:
        lines.append(f"  socket:    {status.socket_dir}")
    if status.log_file:
        lines.append(f"  log:       {status.log_file}")
    if status.databases:
        lines.append(f"  databases: {', '.join(status.databases)}")
    lines.extend(f"  note:      {note}" for note in status.notes)
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Locations: under DAS_HOME, or under CLUSTERS_ROOT when the service user cannot reach DAS_HOME


@dataclass(frozen=True)
class ClusterLayout:
    """Where one cluster keeps its files."""

    data_dir: Path
    socket_dir: Path
    log_file: Path
    external: bool  # True: under CLUSTERS_ROOT, outside DAS_HOME

    @property
    def usable_socket_dir(self) -> Path | None:
        """The socket directory, or None when its path is too long for a unix socket (TCP only then)."""
        return self.socket_dir if len(str(self.socket_dir)) <= MAX_SOCKET_DIR_LEN else None


def _home_layout(settings: Settings) -> ClusterLayout:
    return ClusterLayout(
        data_dir=settings.pg_data_dir,
        socket_dir=settings.home_abs / "pg_socket",
        log_file=settings.logs_dir / "postgres.log",
        external=False,
    )


def external_cluster_dir(settings: Settings) -> Path:
    """The directory under CLUSTERS_ROOT for this DAS_HOME (used only as root, when DAS_HOME is unreachable)."""
    digest = hashlib.sha256(str(settings.home_abs).encode()).hexdigest()[:16]
    return CLUSTERS_ROOT / digest


def _external_layout(settings: Settings) -> ClusterLayout:
    base = external_cluster_dir(settings)
    return ClusterLayout(
        data_dir=base / "data", socket_dir=base / "socket", log_file=base / "postgres.log", external=True
    )


def _location_file(settings: Settings) -> Path:
    return settings.home_abs / LOCATION_FILE


def _bound_to_home(settings: Settings) -> bool:
    """Whether DAS_HOME/pg.location names this DAS_HOME's external cluster (so the cluster is still its own)."""
    try:
        first_line = _location_file(settings).read_text().splitlines()[0].strip()
    except (OSError, IndexError):
        return False
    return first_line == str(external_cluster_dir(settings))


def _initialised(data_dir: Path) -> bool:
    return (data_dir / "PG_VERSION").is_file()


def cluster_layout(settings: Settings) -> ClusterLayout:
    """The locations of this DAS_HOME's cluster as found on disk.

    Under DAS_HOME unless we are root and the cluster was made under CLUSTERS_ROOT. Before the first
    ``up`` this is the DAS_HOME layout; ``up`` decides where a new cluster goes.
    """
    home = _home_layout(settings)
    if os.geteuid() != 0 or _initialised(home.data_dir):
        return home
    external = _external_layout(settings)
    return external if _initialised(external.data_dir) else home


def socket_dir(settings: Settings) -> Path:
    return cluster_layout(settings).socket_dir


def log_file(settings: Settings) -> Path:
    return cluster_layout(settings).log_file


def _pid_file(data_dir: Path) -> Path:
    return data_dir / "postmaster.pid"


# ---------------------------------------------------------------------------------------------
# Finding (and, as root on Debian, installing) the binaries


def _has_binaries(bin_dir: Path) -> bool:
    return all(os.access(bin_dir / name, os.X_OK) for name in REQUIRED_BINARIES)


def _pg_config_bindir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if not pg_config:
        return None
    try:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return Path(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else None


def _debian_bin_dirs() -> list[Path]:
    """``/usr/lib/postgresql/NN/bin`` directories, newest major first."""
    found = []
    for candidate in Path("/usr/lib/postgresql").glob("*/bin"):
        major = candidate.parent.name
        if major.isdigit():
            found.append((int(major), candidate))
    return [path for _, path in sorted(found, reverse=True)]


def find_bin_dir(settings: Settings) -> Path | None:
    """The directory holding initdb/pg_ctl/postgres, or None when this machine has none.

    An explicit ``DAS_PG_BIN_DIR`` must hold them: that is an error, not a reason to look elsewhere.
    """
    if settings.pg_bin_dir is not None:
        bin_dir = settings.pg_bin_dir.expanduser()
        if not _has_binaries(bin_dir):
            missing = [n for n in REQUIRED_BINARIES if not os.access(bin_dir / n, os.X_OK)]
            raise PostgresMissingError(
                f"DAS_PG_BIN_DIR={bin_dir} has no PostgreSQL server binaries ({', '.join(missing)} "
                "missing): point it at the directory from 'pg_config --bindir' or unset it"
            )
        return bin_dir
    from_pg_config = _pg_config_bindir()
    # Debian's pg_config comes with libpq-dev and may name a bindir without the server in it.
    if from_pg_config and _has_binaries(from_pg_config):
        return from_pg_config
    for candidate in _debian_bin_dirs():
        if _has_binaries(candidate):
            return candidate
    return None


def server_major_version(bin_dir: Path) -> int:
    out = _run([str(bin_dir / "postgres"), "--version"], what="postgres --version")
    match = re.search(r"\(PostgreSQL\)\s+(\d+)", out)
    if not match:
        raise ServiceError(f"could not read the PostgreSQL version from {bin_dir / 'postgres'}: {out!r}")
    return int(match.group(1))


def _extension_dir(bin_dir: Path, major: int) -> Path:
    pg_config = bin_dir / "pg_config"
    if os.access(pg_config, os.X_OK):
        out = subprocess.run([str(pg_config), "--sharedir"], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            return Path(out.stdout.strip()) / "extension"
    return Path(f"/usr/share/postgresql/{major}/extension")


def postgis_available(bin_dir: Path, major: int) -> bool:
    return (_extension_dir(bin_dir, major) / "postgis.control").is_file()


def _can_apt_install() -> bool:
    return os.geteuid() == 0 and Path("/etc/debian_version").exists() and shutil.which("apt-get") is not None


def _apt_env() -> dict[str, str]:
    return {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}


def _apt(cmd: list[str], packages: Sequence[str]) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, env=_apt_env())
    if result.returncode != 0:
        detail = _last_line(result.stderr) or _last_line(result.stdout) or f"exit code {result.returncode}"
        raise PostgresMissingError(
            f"'{' '.join(cmd)}' failed ({detail}): install {' '.join(packages)} by hand "
            f"or run PostGIS from {COMPOSE_FILE} and set DAS_DATABASE_URL"
        )


def _apt_candidate_major() -> int | None:
    """The PostgreSQL major the distribution's ``postgresql`` metapackage would install."""
    out = subprocess.run(["apt-cache", "depends", "postgresql"], capture_output=True, text=True)
    match = re.search(r"Depends:\s+postgresql-(\d+)\b", out.stdout)
    return int(match.group(1)) if match else None


def _skip_debian_main_cluster() -> None:
    """Keep the fresh package install from creating (and starting) the system cluster on port 5432.

    das runs its own cluster under DAS_HOME; postgresql-common reads this drop-in when the server
    package is configured.
    """
    drop_in = CREATECLUSTER_DROP_IN
    if drop_in.exists():
        return
    drop_in.parent.mkdir(parents=True, exist_ok=True)
    drop_in.write_text(
        "# Written by das (das_tools.localstack.postgres): das runs its own cluster under DAS_HOME.\n"
        "create_main_cluster = false\n"
    )


def _install_with_apt(server_major: int | None) -> None:
    """apt-get install postgis for ``server_major``, or (None) postgresql and its matching postgis."""
    _apt(["apt-get", "update"], ["postgresql", f"postgresql-{server_major or 'NN'}-postgis-3"])
    if server_major is None:
        _skip_debian_main_cluster()
        major = _apt_candidate_major()
        packages = ["postgresql"] + ([f"postgresql-{major}-postgis-3"] if major else [])
    else:
        packages = [f"postgresql-{server_major}-postgis-3"]
    log.warning("installing %s with apt-get (this machine lacks them)", " ".join(packages))
    _apt(["apt-get", "install", "-y", "--no-install-recommends", *packages], packages)


def _missing_message(what: str, packages: str) -> str:
    return (
        f"{what}: install the Debian/Ubuntu packages {packages} (as root 'das up' does this itself), "
        f"set DAS_PG_BIN_DIR, or run PostGIS from {COMPOSE_FILE} and set DAS_DATABASE_URL"
    )


def ensure_binaries(settings: Settings) -> Path:
    """Return the server bin dir, installing postgresql + postgis as root on Debian when missing."""
    bin_dir = find_bin_dir(settings)
    if bin_dir is None:
        if not _can_apt_install():
            raise PostgresMissingError(
                _missing_message("PostgreSQL server binaries not found", "postgresql postgresql-NN-postgis-3")
            )
        _install_with_apt(server_major=None)
        bin_dir = find_bin_dir(settings)
        if bin_dir is None:
            raise PostgresMissingError(
                _missing_message("PostgreSQL was installed but its binaries were not found", "postgresql")
            )
    major = server_major_version(bin_dir)
    if not postgis_available(bin_dir, major):
        package = f"postgresql-{major}-postgis-3"
        # Only install next to the distribution's own PostgreSQL, never into a hand-picked bin dir.
        if settings.pg_bin_dir is not None or not _can_apt_install():
            raise PostgresMissingError(
                _missing_message(f"PostGIS is not installed for PostgreSQL {major} in {bin_dir}", package)
            )
        _install_with_apt(server_major=major)
        if not postgis_available(bin_dir, major):
            raise PostgresMissingError(_missing_message(f"PostGIS still missing after installing {package}", package))
    return bin_dir


# ---------------------------------------------------------------------------------------------
# Running commands, as the service user when we are root


@dataclass(frozen=True)
class _ServiceUser:
    name: str
    uid: int
    gid: int


def _service_user() -> _ServiceUser | None:
    """None when we are not root (the server runs as us); else the system user that owns the cluster."""
    if os.geteuid() != 0:
        return None
    for name in SERVICE_USERS:
        try:
            entry = pwd.getpwnam(name)
            return _ServiceUser(name, entry.pw_uid, entry.pw_gid)
        except KeyError:
            continue
    useradd = shutil.which("useradd")
    if not useradd:
        raise ServiceError(
            "PostgreSQL cannot run as root and there is no 'postgres' user nor useradd to create "
            f"'{FALLBACK_USER}': create a system user named {FALLBACK_USER} or run das as a normal user"
        )
    result = subprocess.run(
        [
            useradd,
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            FALLBACK_USER,
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise ServiceError(f"could not create the system user {FALLBACK_USER}: {result.stderr.strip()}")
    entry = pwd.getpwnam(FALLBACK_USER)
    log.warning("created system user %s to run PostgreSQL (it refuses to run as root)", FALLBACK_USER)
    return _ServiceUser(FALLBACK_USER, entry.pw_uid, entry.pw_gid)


def _server_env() -> dict[str, str]:
    # Stray PG* variables (PGDATA, PGPORT...) would silently redirect initdb/pg_ctl.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_MESSAGES"] = "C"
    return env


def _run(cmd: list[str], *, what: str, log_path: Path | None = None, user: _ServiceUser | None = None) -> str:
    """Run a server command (dropping to the service user if given); one-line ServiceError on failure."""
    kwargs: dict[str, object] = {}
    if user is not None:
        # Same effect as 'runuser -u USER --' without depending on PAM or util-linux.
        kwargs = {"user": user.uid, "group": user.gid, "extra_groups": [], "cwd": "/"}
    try:
        result = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            env=_server_env(),
            timeout=START_TIMEOUT_S + 30,
            **kwargs,  # type: ignore[call-overload]
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ServiceError(f"{what} could not run ({exc})" + _see_log(log_path)) from exc
    if result.returncode != 0:
        detail = _last_line(result.stderr) or _last_line(result.stdout) or f"exit code {result.returncode}"
        raise ServiceError(f"{what} failed: {detail}" + _see_log(log_path))
    return result.stdout


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _see_log(log_path: Path | None) -> str:
    return f"; see {log_path}" if log_path is not None else ""


def _chown_tree(path: Path, user: _ServiceUser) -> None:
    os.chown(path, user.uid, user.gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), user.uid, user.gid, follow_symlinks=False)


def _user_passes(user: _ServiceUser, test_flag: str, path: Path) -> bool:
    """Whether ``test <flag> path`` succeeds as the service user (so it can search every directory on the way)."""
    probe = subprocess.run(["test", test_flag, str(path)], user=user.uid, group=user.gid, extra_groups=[], cwd="/")
    return probe.returncode == 0


def _home_reachable(settings: Settings, user: _ServiceUser) -> bool:
    """Whether the service user can search DAS_HOME and its logs dir (then the cluster can live there).

    Both are made here (as any das command would); a mode-700 home above them makes this False.
    """
    settings.home_abs.mkdir(parents=True, exist_ok=True)
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    return all(_user_passes(user, "-x", path) for path in (settings.home_abs, settings.logs_dir))


def _check_reachable_by(user: _ServiceUser, layout: ClusterLayout) -> None:
    sock_dir = layout.usable_socket_dir
    for path in (layout.data_dir, layout.log_file, *([sock_dir] if sock_dir else [])):
        if _user_passes(user, "-w", path):
            continue
        if layout.external:
            fix = f"make {CLUSTERS_ROOT} and its parents searchable by '{user.name}' (chmod 755)"
        else:
            fix = (
                f"make its parent directories searchable again (chmod o+x), or move {layout.data_dir} away "
                f"and run 'das up' to make a new cluster under {CLUSTERS_ROOT}"
            )
        raise ServiceError(f"the PostgreSQL service user '{user.name}' cannot write {path}: {fix}")


def _prepare_external(settings: Settings, layout: ClusterLayout, user: _ServiceUser) -> None:
    """Make the cluster directory under CLUSTERS_ROOT (owned by the service user) and DAS_HOME/pg.location."""
    cluster = layout.data_dir.parent
    try:
        for parent in (CLUSTERS_ROOT.parent, CLUSTERS_ROOT):
            if not parent.is_dir():
                parent.mkdir(parents=True, exist_ok=True)
                parent.chmod(0o755)
        for path in (cluster, layout.data_dir, layout.socket_dir):
            path.mkdir(exist_ok=True)
        (cluster / "das_home").write_text(f"{settings.home_abs}\n")
        layout.log_file.touch(exist_ok=True)
        if any(path.stat().st_uid != user.uid for path in (cluster, layout.data_dir, layout.socket_dir)):
            _chown_tree(cluster, user)
        os.chown(layout.log_file, user.uid, user.gid)
        for path in (cluster, layout.data_dir, layout.socket_dir):
            path.chmod(0o700)
        _location_file(settings).write_text(
            f"{cluster}\n"
            f"# The PostgreSQL cluster of this DAS_HOME lives in the directory above: the service user "
            f"'{user.name}' cannot reach {settings.home_abs}.\n"
            "# Written by 'das up'. Without this file 'das up' treats that cluster as left over by a deleted "
            "DAS_HOME and replaces it.\n"
        )
    except OSError as exc:
        raise ServiceError(
            f"cannot set up the PostgreSQL cluster directory {cluster} ({exc.strerror or exc}), needed because "
            f"'{user.name}' cannot reach {settings.home_abs}: make {CLUSTERS_ROOT.parent} writable by root "
            f"or set DAS_HOME to a directory '{user.name}' can reach"
        ) from exc


# ---------------------------------------------------------------------------------------------
# Process state


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _is_postgres_process(pid: int) -> bool:
    """A live pid that is a postgres server (pids get reused after a crash or reboot)."""
    if not _pid_alive(pid):
        return False
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return True  # no /proc: trust the pid
    return comm.startswith(("postgres", "postmaster"))


def _read_pid_file(data_dir: Path) -> tuple[int, int | None] | None:
    """(pid, port) from postmaster.pid, or None when there is none or it is unreadable."""
    try:
        lines = _pid_file(data_dir).read_text().splitlines()
    except OSError:
        return None
    try:
        pid = int(lines[0])
    except (IndexError, ValueError):
        return None
    port = int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None
    return pid, port


def _running_pid(data_dir: Path) -> tuple[int, int | None] | None:
    entry = _read_pid_file(data_dir)
    if entry is None or not _is_postgres_process(entry[0]):
        return None
    return entry


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR like the server itself: lingering TIME_WAIT connections do not count as "in use".
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise
    return False


def _data_dir_version(data_dir: Path) -> str | None:
    try:
        return (data_dir / "PG_VERSION").read_text().strip()
    except OSError:
        return None


# ---------------------------------------------------------------------------------------------
# Connections


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def _local_dsn(settings: Settings, database: str, role: str | None = None) -> dict[str, Any]:
    role = role or settings.pg_user
    return {
        "host": "127.0.0.1",
        "port": settings.pg_port,
        "user": role,
        "password": settings.local_password(role),
        "dbname": database,
        "connect_timeout": CONNECT_TIMEOUT_S,
    }


def connect(settings: Settings, database: str | None = None, *, admin: bool = False) -> psycopg2.extensions.connection:
    """A psycopg2 connection (autocommit off) to the das database, or to ``database`` in the same server; as the
    pipeline's role, or with ``admin`` as the local cluster's superuser."""
    if admin:
        if settings.database_url:
            raise ServiceError("no admin connection to a managed database (DAS_DATABASE_URL): ask its DBA")
        return psycopg2.connect(**_local_dsn(settings, database or settings.pg_database, ADMIN_ROLE))
    if settings.database_url:
        overrides: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_S}
        if database:
            overrides["dbname"] = database
        return psycopg2.connect(settings.libpq_dsn, **overrides)
    return psycopg2.connect(**_local_dsn(settings, database or settings.pg_database))


def _url_dsn(url: str) -> str:
    return url.replace("postgresql+psycopg2://", "postgresql://", 1)


def check_database(settings: Settings, enable_postgis: bool = True) -> ClusterStatus:
    """Check the managed database (DAS_DATABASE_URL) is reachable and has postgis, creating it if allowed."""
    if not settings.database_url:
        raise ServiceError("check_database is for a managed database: DAS_DATABASE_URL is not set")
    shown = _redact(settings.database_url)
    try:
        conn = psycopg2.connect(settings.libpq_dsn, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg2.Error as exc:
        raise ServiceError(
            f"cannot reach the database at {shown} (DAS_DATABASE_URL): {_last_line(str(exc))}; "
            "check host, port, credentials and network, or unset DAS_DATABASE_URL for the local cluster"
        ) from exc
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
            row = cur.fetchone()
            if row is None and enable_postgis:
                try:
                    cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
                except psycopg2.Error as exc:
                    raise ServiceError(
                        f"postgis is not enabled in {shown} and this user may not enable it "
                        f"({_last_line(str(exc))}): ask the DBA to run CREATE EXTENSION postgis there"
                    ) from exc
            status = _describe(conn, settings)
    finally:
        conn.close()
    if settings.airflow_database_url:
        try:
            airflow_dsn = _url_dsn(settings.airflow_database_url)
            psycopg2.connect(airflow_dsn, connect_timeout=CONNECT_TIMEOUT_S).close()
        except psycopg2.Error as exc:
            raise ServiceError(
                f"cannot reach Airflow's database at {_redact(settings.airflow_database_url)} "
                f"(DAS_AIRFLOW_DATABASE_URL): {_last_line(str(exc))}"
            ) from exc
    else:
        status.notes.append("DAS_AIRFLOW_DATABASE_URL is not set: Airflow needs its own metadata database")
    return status


def _describe(conn: psycopg2.extensions.connection, settings: Settings) -> ClusterStatus:
    """Status filled from a live connection to the das database."""
    with conn.cursor() as cur:
        cur.execute("SHOW server_version")
        version = cur.fetchone()[0]  # type: ignore[index]
        cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
        row = cur.fetchone()
        cur.execute("SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY datname")
        databases = [r[0] for r in cur.fetchall()]
    dsn = conn.get_dsn_parameters()
    return ClusterStatus(
        running=True,
        managed=settings.database_url is not None,
        host=dsn.get("host", settings.pg_host),
        port=int(dsn["port"]) if dsn.get("port") else None,
        version=version,
        postgis_version=row[0] if row else None,
        databases=databases,
    )


# ---------------------------------------------------------------------------------------------
# Cluster lifecycle


def status(settings: Settings) -> ClusterStatus:
    """Whether the local cluster (or the managed database) is up, with version and databases."""
    if settings.database_url:
        try:
            return check_database(settings, enable_postgis=False)  # status only looks
        except ServiceError as exc:
            parts = urlsplit(_url_dsn(settings.database_url))
            return ClusterStatus(
                running=False, managed=True, host=parts.hostname or "?", port=parts.port, notes=[str(exc)]
            )
    layout = cluster_layout(settings)
    current = ClusterStatus(
        running=False,
        managed=False,
        host="127.0.0.1",
        port=settings.pg_port,
        data_dir=layout.data_dir,
        socket_dir=layout.usable_socket_dir,
        log_file=layout.log_file,
        version=_data_dir_version(layout.data_dir),
    )
    if layout.external and not _bound_to_home(settings):
        current.notes.append(
            f"{_location_file(settings)} is missing: this cluster is left over from a deleted DAS_HOME "
            "and 'das up' will replace it"
        )
    running = _running_pid(layout.data_dir)
    if running is None:
        return current
    current.running = True
    current.pid, pid_port = running
    current.port = pid_port or settings.pg_port
    try:
        conn = psycopg2.connect(**{**_local_dsn(settings, "postgres"), "port": current.port})
    except psycopg2.Error as exc:
        current.notes.append(f"server process is up but not accepting connections: {_last_line(str(exc))}")
        return current
    try:
        live = _describe(conn, settings)
    finally:
        conn.close()
    current.version, current.databases = live.version, live.databases
    if settings.pg_database in live.databases:
        try:
            with connect(settings) as das_conn, das_conn.cursor() as cur:
                cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
                row = cur.fetchone()
                current.postgis_version = row[0] if row else None
            das_conn.close()
        except psycopg2.Error:
            pass
    return current


def _initdb_locale() -> str:
    """C.UTF-8 when the C library has it (sane ctype for non-ASCII text), else plain C."""
    out = subprocess.run(["locale", "-a"], capture_output=True, text=True) if shutil.which("locale") else None
    names = {line.strip().lower() for line in out.stdout.splitlines()} if out else set()
    return "C.UTF-8" if names & {"c.utf8", "c.utf-8"} else "C"


def _write_server_conf(settings: Settings, data_dir: Path, sock_dir: Path | None) -> None:
    """Connection settings live in das.conf, rewritten on every start so a changed DAS_PG_PORT applies."""
    main_conf = data_dir / "postgresql.conf"
    include = "include_if_exists = 'das.conf'"
    text = main_conf.read_text()
    if include not in text:
        main_conf.write_text(text.rstrip("\n") + f"\n\n# Added by das: connection settings.\n{include}\n")
    sockets = str(sock_dir).replace("'", "''") if sock_dir else ""
    (data_dir / "das.conf").write_text(
        "# Written by das_tools.localstack.postgres on every start; edits are overwritten.\n"
        "listen_addresses = '127.0.0.1'\n"
        f"port = {settings.pg_port}\n"
        f"unix_socket_directories = '{sockets}'\n"
        "# Bulk loads: a table created and filled in one transaction (each day's loading table) skips the WAL\n"
        "# at wal_level minimal. A project-local server has no replicas or archive to feed; a managed one keeps\n"
        "# its own settings. Index builds on ATTACH sort in memory rather than in temp files.\n"
        "wal_level = minimal\n"
        "max_wal_senders = 0\n"
        "archive_mode = off\n"
        "maintenance_work_mem = '1GB'\n"
        "autovacuum_work_mem = '256MB'\n"
        "max_wal_size = '4GB'\n"
    )


def _remove_stale_pid_file(data_dir: Path) -> str | None:
    entry = _read_pid_file(data_dir)
    pid_file = _pid_file(data_dir)
    if entry is None and not pid_file.exists():
        return None
    if entry is not None and _is_postgres_process(entry[0]):
        return None
    pid_file.unlink()
    pid_text = entry[0] if entry else "unreadable"
    note = f"removed stale {pid_file} (pid {pid_text} is not running)"
    log.warning(note)
    return note


def _ensure_roles_and_databases(settings: Settings) -> None:
    """The pipeline's owner role (not a superuser), Airflow's role, their databases, and PostGIS; as the admin."""
    roles = [(settings.pg_user, ["LOGIN", "CREATEROLE", "NOSUPERUSER"])]
    databases = [(settings.pg_database, settings.pg_user)]
    if not settings.airflow_database_url:
        roles.append((settings.airflow_role, ["LOGIN", "NOSUPERUSER"]))
        databases.append((settings.airflow_database, settings.airflow_role))
    conn = connect(settings, "postgres", admin=True)
    try:
        conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
        with conn.cursor() as cur:
            for role, options in roles:
                password = settings.local_password(role) or generated(settings, f"pg-{role}.password")
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
                verb = "ALTER" if cur.fetchone() else "CREATE"
                cur.execute(
                    sql.SQL("{} ROLE {} WITH " + " ".join(options) + " PASSWORD %s").format(
                        sql.SQL(verb), sql.Identifier(role)
                    ),
                    (password,),
                )
            for name, owner in databases:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cur.fetchone() is None:
                    cur.execute(
                        sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(owner))
                    )
                    log.info("created database %s owned by %s", name, owner)
    finally:
        conn.close()
    enable_postgis(settings, settings.pg_database)


def enable_postgis(settings: Settings, database: str) -> None:
    """PostGIS in ``database`` (an extension only a superuser may create), as the admin."""
    conn = connect(settings, database, admin=True)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    except psycopg2.Error as exc:
        raise ServiceError(
            f"could not enable postgis in database {database}: {_last_line(str(exc))}; "
            "install the postgresql-NN-postgis-3 package matching the server"
        ) from exc
    finally:
        conn.close()


def _wait_accepting(settings: Settings, layout: ClusterLayout, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            psycopg2.connect(**{**_local_dsn(settings, "postgres", ADMIN_ROLE), "connect_timeout": 2}).close()
            return
        except psycopg2.OperationalError as exc:
            if time.monotonic() > deadline:
                raise ServiceError(
                    f"PostgreSQL on 127.0.0.1:{settings.pg_port} is not accepting connections "
                    f"({_last_line(str(exc))}); see {layout.log_file}"
                ) from exc
            time.sleep(0.2)


def _stop(settings: Settings, layout: ClusterLayout) -> None:
    bin_dir = find_bin_dir(settings)
    if bin_dir is None:
        raise PostgresMissingError(_missing_message("cannot stop PostgreSQL: pg_ctl not found", "postgresql"))
    _run(
        [
            str(bin_dir / "pg_ctl"),
            "stop",
            "-D",
            str(layout.data_dir),
            "-m",
            "fast",
            "-w",
            "-t",
            str(START_TIMEOUT_S),
        ],
        what="pg_ctl stop",
        log_path=layout.log_file,
        user=_service_user(),
    )
    log.info("PostgreSQL in %s stopped", layout.data_dir)


def _discard_orphaned_cluster(settings: Settings, layout: ClusterLayout) -> str:
    """Stop and delete an external cluster whose DAS_HOME was deleted (its pg.location is gone)."""
    if _running_pid(layout.data_dir) is not None:
        _stop(settings, layout)
    cluster = layout.data_dir.parent
    shutil.rmtree(cluster)
    note = f"removed {cluster}, the cluster of an earlier {settings.home_abs} (no {LOCATION_FILE} in it)"
    log.warning(note)
    return note


def up(settings: Settings) -> ClusterStatus:
    """Start the local cluster (initialising it the first time) and ensure the das and airflow databases.

    Idempotent: on a running cluster it only ensures the databases. With DAS_DATABASE_URL set it starts
    nothing and checks the managed database instead.
    """
    if settings.database_url:
        return check_database(settings)

    notes: list[str] = []
    layout = cluster_layout(settings)
    if layout.external and not _bound_to_home(settings):
        notes.append(_discard_orphaned_cluster(settings, layout))
        layout = _home_layout(settings)
    running = _running_pid(layout.data_dir)
    if running is not None:
        pid, running_port = running
        if running_port is not None and running_port != settings.pg_port:
            raise ServiceError(
                f"the cluster in {layout.data_dir} is already running on port {running_port}, not "
                f"DAS_PG_PORT={settings.pg_port}: run 'das down' then 'das up', "
                f"or set DAS_PG_PORT={running_port}"
            )
        _wait_accepting(settings, layout)
        _ensure_roles_and_databases(settings)
        result = status(settings)
        result.notes.append(f"already running (pid {pid})")
        return result

    bin_dir = ensure_binaries(settings)
    stale = _remove_stale_pid_file(layout.data_dir)
    if stale:
        notes.append(stale)
    if _port_in_use("127.0.0.1", settings.pg_port):
        raise ServiceError(
            f"port {settings.pg_port} on 127.0.0.1 is already in use by another process: stop it or "
            f"choose another port with DAS_PG_PORT (e.g. DAS_PG_PORT={settings.pg_port + 1})"
        )

    user = _service_user()
    if user is not None and not _initialised(layout.data_dir) and not _home_reachable(settings, user):
        # A project in root's mode-700 home: the service user cannot get in, so the cluster lives outside.
        layout = _external_layout(settings)
        notes.append(f"'{user.name}' cannot reach {settings.home_abs}: cluster in {layout.data_dir.parent}")
    data_dir, logs, sock_dir = layout.data_dir, layout.log_file, layout.usable_socket_dir
    if sock_dir is None:
        notes.append(f"DAS_HOME path too long for a unix socket; TCP 127.0.0.1:{settings.pg_port} only")
    if layout.external:
        assert user is not None  # only root places a cluster outside DAS_HOME
        _prepare_external(settings, layout, user)
    else:
        for path in (data_dir, logs.parent, *([sock_dir] if sock_dir else [])):
            path.mkdir(parents=True, exist_ok=True)
        data_dir.chmod(0o700)
        logs.touch(exist_ok=True)
        if user is not None:
            if data_dir.stat().st_uid != user.uid:
                _chown_tree(data_dir, user)
            os.chown(logs, user.uid, user.gid)
            if sock_dir:
                os.chown(sock_dir, user.uid, user.gid)
    if user is not None:
        _check_reachable_by(user, layout)

    if not _initialised(data_dir):
        if any(data_dir.iterdir()):
            raise ServiceError(
                f"{data_dir} is not empty but holds no PostgreSQL cluster: move it away and run 'das up' again"
            )
        # No trust: every connection authenticates with scram-sha-256; the superuser's password is generated
        # into DAS_HOME/secrets (owner-only) and handed to initdb through a file only the server user reads.
        admin_password = generated(settings, f"pg-{ADMIN_ROLE}.password")
        pwfile = data_dir.parent / f".initdb-{os.getpid()}.pw"
        descriptor = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(admin_password + "\n")
        if user is not None:
            os.chown(pwfile, user.uid, user.gid)
        try:
            _run(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data_dir),
                    "--auth=scram-sha-256",
                    "-U",
                    ADMIN_ROLE,
                    f"--pwfile={pwfile}",
                    "--encoding=UTF8",
                    f"--locale={_initdb_locale()}",
                ],
                what=f"initdb of {data_dir}",
                user=user,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        log.info("initialised a PostgreSQL cluster in %s", data_dir)
        notes.append(f"initialised {data_dir}")
    elif settings.local_password(ADMIN_ROLE) is None:
        raise ServiceError(
            f"the cluster in {data_dir} was created before das used passwords (it trusts every local connection); "
            f"stop it and remove it so `das up` creates a secured one: das down && rm -rf {data_dir} "
            "(das run rebuilds PostGIS from the lake)"
        )
    _write_server_conf(settings, data_dir, sock_dir)
    _run(
        [
            str(bin_dir / "pg_ctl"),
            "start",
            "-D",
            str(data_dir),
            "-l",
            str(logs),
            "-w",
            "-t",
            str(START_TIMEOUT_S),
        ],
        what=f"pg_ctl start on port {settings.pg_port}",
        log_path=logs,
        user=user,
    )
    log.info("PostgreSQL started on 127.0.0.1:%s", settings.pg_port)
    _wait_accepting(settings, layout)
    _ensure_roles_and_databases(settings)
    result = status(settings)
    result.notes.extend(notes)
    return result


def down(settings: Settings) -> ClusterStatus:
    """Stop the local cluster (fast mode: roll back open transactions). Stopping a stopped cluster is fine."""
    if settings.database_url:
        current = status(settings)
        current.notes.append("managed database (DAS_DATABASE_URL): nothing local to stop")
        return current
    layout = cluster_layout(settings)
    if _running_pid(layout.data_dir) is not None:
        _stop(settings, layout)
    return status(settings)
