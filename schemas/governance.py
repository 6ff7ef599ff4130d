"""Governance tables, served in PostGIS only: the audit log, the API users and the triage history of flags.

They live in their own registry: nothing of them passes through the lake, and the code that walks
``schemas.tables.REGISTRY`` (Delta tables, quality suites) never meets them.
"""

from __future__ import annotations

from schemas.model import Column, Registry, Table
from schemas.tables import FLAG_STATUSES

GOVERNANCE_REGISTRY = Registry()
C = Column

ROLES = ("engineer", "analyst", "investigator", "auditor")  # each is the PostgreSQL group role das_<role>
AUDITED_ACTIONS = (
    "search_plate",
    "search_vehicles_near",
    "search_stakeout",
    "search_video_events",
    "view_flag",
    "triage",
    "export",
    "retention",
    "user_added",
    "user_revoked",
)

AUDIT_LOG = GOVERNANCE_REGISTRY.add(
    Table(
        name="audit_log",
        layer="governance",
        description=(
            "Append-only log of searches, flag views, triage, exports, user changes and retention (DPA 2018 s.62): "
            "who, when, what was asked, why, how many rows. Each row hashes the previous one."
        ),
        columns=(
            C("audit_id", "long", False, "Position in the log"),
            C("at", "timestamp", False, "When (UTC)"),
            C("user_name", "string", False, "The database login that acted"),
            C("action", "string", False, "What was done", allowed_values=AUDITED_ACTIONS),
            C("parameters", "json", False, "What was asked: the search parameters"),
            C("purpose", "string", True, "Why, in the user's words (at least 10 characters for searches)"),
            C("case_ref", "string", True, "The case or incident reference, when given"),
            C("rows_returned", "long", True, "How many rows came back (or were removed)"),
            C("prev_hash", "string", False, "row_hash of the previous row ('genesis' for the first)"),
            C("row_hash", "string", False, "SHA-256 of this row's canonical text, chained to prev_hash"),
        ),
        key=("audit_id",),
        postgis_name="audit_log",
        postgis_indexes=(("at",), ("user_name", "at")),
    )
)

API_USERS = GOVERNANCE_REGISTRY.add(
    Table(
        name="api_users",
        layer="governance",
        description="Users of the API and the database: their role and a hash of their API token (never the token)",
        columns=(
            C("name", "string", False, "The user's name, also their database login role"),
            C("role", "string", False, "engineer | analyst | investigator | auditor", allowed_values=ROLES),
            C("token_lookup", "string", False, "SHA-256 of the token, to find the row"),
            C("token_hash", "string", False, "scrypt of the token, to check it"),
            C("created_at", "timestamp", False, "When the user was added"),
            C("revoked_at", "timestamp", True, "When the user was revoked; null = active"),
        ),
        key=("name",),
        postgis_name="api_users",
        postgis_indexes=(("token_lookup",),),
    )
)

TRIAGE_STATUSES = tuple(s for s in FLAG_STATUSES if s != "new")  # what a person may set
API_LOGIN = "das_api"  # the web server's own login: it acts as a user's group role, never with rights of its own

FLAG_TRIAGE = GOVERNANCE_REGISTRY.add(
    Table(
        name="flag_triage",
        layer="governance",
        description=(
            "Every triage change of a flag, never updated: who set which status when, with their note and reason. "
            "A flag's version is its number of changes; a change names the version it saw (optimistic concurrency)."
        ),
        columns=(
            C("flag_id", "string", False, "The flag"),
            C("version", "int", False, "1 for the first change, then 2, ...: unique per flag"),
            C("status", "string", False, "acknowledged | dismissed | escalated", allowed_values=TRIAGE_STATUSES),
            C("previous_status", "string", False, "The status before this change", allowed_values=FLAG_STATUSES),
            C("note", "string", True, "What the investigator found or did"),
            C("reason", "string", True, "Why (required when dismissing)"),
            C("user_name", "string", False, "Who made the change"),
            C("at", "timestamp", False, "When (UTC)"),
        ),
        key=("flag_id", "version"),
        postgis_name="flag_triage",
        postgis_indexes=(("at",),),
    )
)
