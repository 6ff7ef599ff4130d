"""Users: a database login in one of the four group roles, and an API token (only its scrypt hash is stored).

``add`` prints the password and token once; ``revoke`` ends both the login (and its open sessions) and the token.
Role membership is what grants rights: the grants and row-level security are in migration 0005.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from psycopg2 import sql

from das.config import Settings
from das.credentials import new_token, token_hash, token_lookup, token_matches
from das.errors import DasError
from das.postgis.connection import transaction
from schemas.governance import ROLES

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{2,40}$")
RESERVED_PREFIXES = ("das_", "pg_")


class UserError(DasError):
    """A user name, role or token that cannot be used."""


@dataclass(frozen=True)
class NewUser:
    name: str
    role: str
    db_password: str
    api_token: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "role": self.role, "db_password": self.db_password, "api_token": self.api_token}


def group_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    return f"das_{role}"


def _check_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name) or name.startswith(RESERVED_PREFIXES):
        raise UserError(
            f"user name {name!r} must be 3-41 lower-case letters, digits or '_', start with a letter, and not start "
            f"with {' or '.join(RESERVED_PREFIXES)}"
        )
    return name


def add(settings: Settings, name: str, role: str) -> NewUser:
    """Create the login role (in its group) and the API token; the caller shows both secrets once."""
    group = group_role(role)
    _check_name(name)
    password, token = secrets.token_urlsafe(24), new_token()
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))
        if cur.fetchone() is not None:
            raise UserError(f"user {name!r} exists already; revoke it first or choose another name")
        cur.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD %s IN ROLE {}").format(sql.Identifier(name), sql.Identifier(group)),
            (password,),
        )
        cur.execute(
            "INSERT INTO das.api_users (name, role, token_lookup, token_hash, created_at) VALUES (%s, %s, %s, %s, %s)",
            (name, role, token_lookup(token), token_hash(token), datetime.now(UTC)),
        )
        cur.execute(
            "SELECT das.audit('user_added', jsonb_build_object('name', %s::text, 'role', %s::text), NULL, NULL, 1)",
            (name, role),
        )
    return NewUser(name, role, password, token)


def list_users(settings: Settings) -> list[dict[str, Any]]:
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT name, role, created_at, revoked_at FROM das.api_users ORDER BY name")
        return [
            {"name": n, "role": r, "created_at": c.isoformat(), "revoked_at": v.isoformat() if v else None}
            for n, r, c, v in cur.fetchall()
        ]


def revoke(settings: Settings, name: str) -> None:
    """No more logins, no open sessions, no valid token; the role and its audit rows stay."""
    _check_name(name)
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT role FROM das.api_users WHERE name = %s AND revoked_at IS NULL", (name,))
        row = cur.fetchone()
        if row is None:
            raise UserError(f"no active user {name!r}; `das users list` shows them")
        cur.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(sql.Identifier(name)))
        cur.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(group_role(row[0])), sql.Identifier(name)))
        cur.execute("UPDATE das.api_users SET revoked_at = %s WHERE name = %s", (datetime.now(UTC), name))
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (name,))
        cur.execute("SELECT das.audit('user_revoked', jsonb_build_object('name', %s::text), NULL, NULL, 1)", (name,))


def authenticate(settings: Settings, token: str) -> tuple[str, str] | None:
    """(name, role) of the active user whose token this is, or None (unknown, revoked or forged)."""
    if not token or len(token) > 200:
        return None
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT name, role, token_hash FROM das.api_users WHERE token_lookup = %s AND revoked_at IS NULL",
            (token_lookup(token),),
        )
        row = cur.fetchone()
    if row is None or not token_matches(token, row[2]):
        return None
    return row[0], row[1]
