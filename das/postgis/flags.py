"""Reading flags as investigators see them: from PostGIS, where triage status lives, a page at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from das.config import Settings
from das.errors import DasError
from das.postgis.connection import transaction
from schemas.model import EVIDENCE_FIELDS
from schemas.tables import FLAG_FIELDS

_SCALAR_FIELDS = [f for f in FLAG_FIELDS if f != "evidence"]


@dataclass(frozen=True)
class FlagFilter:
    flag_type: str | None = None
    status: str | None = None
    since: datetime | None = None  # window ends at or after
    min_score: float = 0.0
    limit: int | None = None
    offset: int = 0
    flag_id: str | None = None


def load_flags(
    settings: Settings,
    where: FlagFilter = FlagFilter(),
    *,
    with_status: bool = False,
    with_evidence: bool = True,
    purpose: str | None = None,
    case_ref: str | None = None,
) -> list[dict[str, Any]]:
    """Flags strongest first (score, then type and id: a stable order for paging), each with its evidence.

    With a ``purpose`` the evidence is read through ``das.view_flag_evidence``: one audit row per flag, and the
    only way an investigator's role may read it. Without one it is read directly, which only roles granted
    SELECT on ``das.flag_evidence`` may do; others get an error naming the fix.
    """
    columns = ", ".join(f"f.{c}" for c in _SCALAR_FIELDS)
    query = (
        f"SELECT {columns}, f.status FROM das.flags f "
        "WHERE (%(flag_id)s::text IS NULL OR f.flag_id = %(flag_id)s) "
        "AND (%(type)s::text IS NULL OR f.flag_type = %(type)s) "
        "AND (%(status)s::text IS NULL OR f.status = %(status)s) "
        "AND (%(since)s::timestamptz IS NULL OR f.window_end >= %(since)s) AND f.score >= %(min_score)s "
        "ORDER BY f.score DESC, f.flag_type, f.flag_id LIMIT %(limit)s OFFSET %(offset)s"
    )
    params = {
        "type": where.flag_type,
        "status": where.status,
        "since": where.since,
        "min_score": where.min_score,
        "limit": where.limit,
        "offset": where.offset,
        "flag_id": where.flag_id,
    }
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute(query, params)
        rows = [dict(zip([*_SCALAR_FIELDS, "status"], r, strict=True)) for r in cur.fetchall()]
        ids = [r["flag_id"] for r in rows]
        if not with_evidence:
            evidence: dict[str, list[dict[str, Any]]] = {}
        elif purpose is not None:
            evidence = {i: _audited_evidence(cur, i, purpose, case_ref) for i in ids}
        else:
            cur.execute("SELECT has_table_privilege('das.flag_evidence', 'SELECT')")
            privilege = cur.fetchone()
            if not (privilege and privilege[0]):
                raise DasError(
                    f"role {settings.pg_user!r} reads flag evidence only through the audited view: give a purpose "
                    "(`das flags --json --purpose 'why, at least 10 characters'`, one audit row per flag) or use "
                    "`das flag show FLAG_ID --purpose ...`"
                )
            evidence = _evidence(cur, ids)
    out = []
    for row in rows:
        flag = {k: row[k] for k in _SCALAR_FIELDS}
        flag["evidence"] = evidence.get(row["flag_id"], [])
        flag["related"] = list(flag["related"] or [])
        if with_status:
            flag["status"] = row["status"]
        out.append({k: flag[k] for k in (*FLAG_FIELDS, *(["status"] if with_status else []))})
    return out


def _evidence(cur: Any, flag_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    if not flag_ids:
        return {}
    names = [n for n, _ in EVIDENCE_FIELDS]
    cur.execute(
        f"SELECT flag_id, {', '.join(names)} FROM das.flag_evidence WHERE flag_id = ANY(%s) "
        "ORDER BY flag_id, evidence_no",
        (flag_ids,),
    )
    found: dict[str, list[dict[str, Any]]] = {}
    for flag_id, *values in cur.fetchall():
        found.setdefault(flag_id, []).append(dict(zip(names, values, strict=True)))
    return found


def _audited_evidence(cur: Any, flag_id: str, purpose: str, case_ref: str | None) -> list[dict[str, Any]]:
    names = [n for n, _ in EVIDENCE_FIELDS]
    cur.execute(
        f"SELECT {', '.join(names)} FROM das.view_flag_evidence(%s, %s, %s)",  # ordered by evidence_no
        (flag_id, purpose, case_ref),
    )
    return [dict(zip(names, values, strict=True)) for values in cur.fetchall()]


def flag_detail(settings: Settings, flag_id: str, purpose: str, case_ref: str | None = None) -> dict[str, Any] | None:
    """One flag with its status and its evidence, read through the audited view (logged with ``purpose``)."""
    found = load_flags(settings, FlagFilter(flag_id=flag_id), with_status=True, purpose=purpose, case_ref=case_ref)
    return found[0] if found else None
