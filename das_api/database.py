"""The server's connections: a small pool of das_api logins, each request in its user's group role.

das_api is NOINHERIT and holds nothing but the right to read token hashes and to take the four group roles. A
request's transaction starts with SET LOCAL ROLE das_<role> and names its user in das.on_behalf_of, which
das.acting_user() (the audit log, the triage history) trusts only from das_api. Everything ends with the
transaction: the next request on the same connection starts as das_api again.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg2
from psycopg2 import sql

from das.config import Settings
from das.errors import ServiceError
from das.users import group_role

STATEMENT_TIMEOUT_MS = 30_000  # no request holds a connection longer than this


@dataclass(frozen=True)
class Principal:
    """The authenticated user of a request."""

    name: str
    role: str


class Database:
    def __init__(self, settings: Settings, size: int = 8) -> None:
        self._dsn = settings.api_libpq_dsn
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)

    def _connect(self) -> Any:
        try:
            conn = psycopg2.connect(self._dsn, connect_timeout=5, application_name="das serve")
        except psycopg2.OperationalError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ServiceError(
                f"das serve cannot reach PostGIS as das_api ({first}): run `das up` (local), or set "
                "DAS_API_DATABASE_URL to the das_api login of the managed database"
            ) from exc
        return conn

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        if not self._slots.acquire(timeout=30):
            raise ServiceError("das serve is busy: every database connection is in use; try again")
        conn = None
        try:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = self._connect()
            if conn.closed:
                conn = self._connect()
            yield conn
        finally:
            if conn is not None:
                if conn.closed or conn.get_transaction_status() != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
                    with contextlib.suppress(psycopg2.Error):
                        conn.close()
                else:
                    self._idle.put(conn)
            self._slots.release()

    @contextlib.contextmanager
    def as_user(self, user: Principal) -> Iterator[Any]:
        """A cursor in one transaction, in the user's group role, committed on success."""
        with self.connection() as conn:
            try:
                with conn, conn.cursor() as cur:
                    cur.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(group_role(user.role))))
                    cur.execute(
                        "SELECT set_config('das.on_behalf_of', %s, true), set_config('statement_timeout', %s, true)",
                        (user.name, str(STATEMENT_TIMEOUT_MS)),
                    )
                    yield cur
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
                conn.close()
                raise ServiceError(f"the connection to PostGIS was lost ({exc}); nothing was changed: retry") from exc

    @contextlib.contextmanager
    def as_server(self) -> Iterator[Any]:
        """A cursor as das_api itself: only the token hashes are readable."""
        with self.connection() as conn, conn, conn.cursor() as cur:
            yield cur

    def close(self) -> None:
        while True:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                return
            with contextlib.suppress(psycopg2.Error):
                conn.close()
