"""The audit log: searches run through audited functions (which record themselves), plus the report and the
tamper check. Rows are appended only by ``das.audit()`` in the database; triggers refuse UPDATE, DELETE and
TRUNCATE, and each row's hash covers the previous row's, so an edit made by bypassing them breaks the chain."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from das.config import Settings
from das.postgis.connection import transaction

SEARCH_PLATE = (
    "SELECT read_id, plate, plate_raw, read_at, camera_id, camera_name, camera_type, longitude, latitude, confidence"
    " FROM das.search_plate(%s, %s, %s, %s, %s)"
)


def search_plate(
    settings: Settings, plate: str, t_from: datetime, t_to: datetime, purpose: str, case_ref: str | None = None
) -> list[dict[str, Any]]:
    """Reads of a plate (``*`` and ``?`` wildcards) through the audited function: the search is logged."""
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute(SEARCH_PLATE, (plate, t_from, t_to, purpose, case_ref))
        columns = [d.name for d in cur.description or ()]
        return [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]


def record(settings: Settings, action: str, parameters: dict[str, Any], purpose: str | None, rows: int) -> int:
    """Append one row for an action the pipeline itself takes (retention, exports); returns its id."""
    import json

    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT das.audit(%s, %s::jsonb, %s, NULL, %s)", (action, json.dumps(parameters), purpose, rows))
        return int(cur.fetchone()[0])  # type: ignore[index]


def report(settings: Settings, since: datetime | None = None, user: str | None = None) -> list[dict[str, Any]]:
    """Searches by user, action and purpose: how many, how many rows, first and last."""
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT user_name, action, purpose, count(*), coalesce(sum(rows_returned), 0), min(at), max(at) "
            "FROM das.audit_log WHERE (%s::timestamptz IS NULL OR at >= %s) AND (%s::text IS NULL OR user_name = %s) "
            "GROUP BY user_name, action, purpose ORDER BY user_name, action, max(at) DESC",
            (since, since, user, user),
        )
        return [
            {
                "user": u,
                "action": a,
                "purpose": p,
                "searches": n,
                "rows": int(r),
                "first": f.isoformat(),
                "last": last.isoformat(),
            }
            for u, a, p, n, r, f, last in cur.fetchall()
        ]


@dataclass(frozen=True)
class Verification:
    rows: int
    problems: list[str]

    @property
    def intact(self) -> bool:
        return not self.problems


def verify(settings: Settings) -> Verification:
    """Recompute every row's hash and check each row names its predecessor's."""
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT audit_id, prev_hash, row_hash, lag(row_hash) OVER (ORDER BY audit_id), "
            "encode(sha256(convert_to(das.audit_row_text(prev_hash, audit_id, at, user_name, action, parameters, "
            "purpose, case_ref, rows_returned), 'UTF8')), 'hex') FROM das.audit_log ORDER BY audit_id"
        )
        rows = cur.fetchall()
    problems = []
    for index, (audit_id, prev_hash, row_hash, previous, expected) in enumerate(rows):
        if row_hash != expected:
            problems.append(f"row {audit_id}: its content does not match its hash (changed after it was written)")
        if index > 0 and prev_hash != previous:
            problems.append(f"row {audit_id}: does not follow row before it (a row was removed or inserted)")
    return Verification(len(rows), problems)
