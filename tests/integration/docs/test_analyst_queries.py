"""Every example of docs/analyst-queries.md runs as the role it names, against a published scene, and returns rows.

Each example logs in as a user of its group role (``das.users.add``, the way an administrator creates one), so a
query that the role may not run fails here just as it would for the user. The scene (``analyst_dataset``) is
published with the pipeline's own publish functions; the investigator's searches that the auditor examples report
on go through the audited functions, as the ``das`` command line runs them.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg2
import pytest
from pydantic import SecretStr

from das import audit, users
from das.config import Settings
from das.postgis.flags import flag_detail
from schemas.governance import ROLES
from tests.conftest import REPO_ROOT
from tests.integration.docs.analyst_dataset import HENDON_SPOT, Scene, publish_scene
from tests.postgres_fixtures import own_database, query

GUIDE = REPO_ROOT / "docs" / "analyst-queries.md"
GROUP_ROLES = tuple(users.group_role(role) for role in ROLES)
MAY_RETURN_NO_ROWS = "-- may return no rows"
MIN_EXAMPLES = 12


@dataclass(frozen=True)
class Example:
    role: str
    question: str
    sql: str
    may_return_no_rows: bool
    line: int  # of the opening ```sql in the guide

    def __str__(self) -> str:
        return f"docs/analyst-queries.md line {self.line} ({self.role}): {self.question}"


def guide_examples(text: str) -> list[Example]:
    """Every ```sql block of the guide, with its role and question; a block without them is an error."""
    found = []
    for block in re.finditer(r"^```sql\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE):
        line = text.count("\n", 0, block.start()) + 1
        lines: list[str] = block.group(1).splitlines()
        first, second = [*lines, "", ""][:2]
        rest = lines[2:]
        role = re.fullmatch(r"-- role: (\S+)", first)
        if role is None or role.group(1) not in GROUP_ROLES:
            raise ValueError(f"line {line + 1}: a block starts with '-- role: <one of {', '.join(GROUP_ROLES)}>'")
        question = re.fullmatch(r"-- (\S.*)", second)
        if question is None or second == MAY_RETURN_NO_ROWS:
            raise ValueError(f"line {line + 2}: the second line of a block is '-- ' and the question it answers")
        may_return_no_rows = bool(rest) and rest[0] == MAY_RETURN_NO_ROWS
        sql = "\n".join(rest[1:] if may_return_no_rows else rest).strip()
        if not sql:
            raise ValueError(f"line {line + 3}: the block has no query")
        found.append(Example(role.group(1), question.group(1), sql, may_return_no_rows, line))
    return found


def example_id(example: Example) -> str:
    words = re.findall(r"[a-z0-9]+", example.question.lower())
    return f"{example.role.removeprefix('das_')}-{'_'.join(words)[:60]}"


def grants_table(text: str) -> dict[str, dict[str, bool]]:
    """The guide's grants table: object -> group role -> may the role read (or run) it."""
    header = "| object | what | " + " | ".join(GROUP_ROLES) + " |"
    lines = text.splitlines()
    start = lines.index(header)  # ValueError: the table is gone or its columns changed
    table: dict[str, dict[str, bool]] = {}
    for row in lines[start + 2 :]:
        if not row.startswith("|"):
            break
        cells = [c.strip() for c in row.strip("|").split("|")]
        name, marks = cells[0].strip("`"), cells[2:]
        if any(m not in ("yes", "own rows", "—") for m in marks):
            raise ValueError(f"grants table row {name}: each role's cell is 'yes', 'own rows' or '—', not {marks}")
        table[name] = {role: mark != "—" for role, mark in zip(GROUP_ROLES, marks, strict=True)}
    return table


EXAMPLES = guide_examples(GUIDE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def db(pg_settings: Settings) -> Iterator[Settings]:
    with own_database(pg_settings, "das_analyst_queries_test") as settings:
        yield settings


@pytest.fixture(scope="module")
def scene(db: Settings) -> Scene:
    return publish_scene(db)


def as_user(db: Settings, user: users.NewUser) -> Settings:
    """``db`` as ``user`` logs in to it: what the ``das`` command line does with DAS_PG_USER / DAS_PG_PASSWORD."""
    return db.model_copy(update={"pg_user": user.name, "pg_password": SecretStr(user.db_password)})


@pytest.fixture(scope="module")
def logins(db: Settings, scene: Scene) -> dict[str, users.NewUser]:
    """A user of each group role, and the investigator's searches of the week, recorded in the audit log."""
    suffix = secrets.token_hex(3)
    made = {users.group_role(role): users.add(db, f"guide_{role}_{suffix}", role) for role in ROLES}
    investigator = as_user(db, made["das_investigator"])
    week = (datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC))
    evening = (datetime(2026, 11, 24, 17, tzinfo=UTC), datetime(2026, 11, 24, 19, tzinfo=UTC))
    found = audit.search_plate(investigator, "AB12*", *week, "burglary series Hendon Way: partial plate", "CAD-4821-26")
    assert found, "the scene has reads of AB12* plates"
    assert flag_detail(investigator, scene.flags["hotlist_hit"], "hotlist hit follow-up on patrol", "CAD-4907-26")
    # The audited search that has no Python wrapper; committed, and with it its audit row.
    conn = psycopg2.connect(investigator.libpq_dsn)
    conn.autocommit = True
    try:
        query(
            conn,
            "SELECT count(*) FROM das.search_vehicles_near(%s, %s, 300, %s, %s, %s)",
            (*HENDON_SPOT, *evening, "vehicles near the Hendon Way burglaries"),
        )
    finally:
        conn.close()
    return made


def run_as(db: Settings, user: users.NewUser, sql: str) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` as ``user`` gets them, in a transaction that is rolled back."""
    conn = psycopg2.connect(as_user(db, user).libpq_dsn, options="-c statement_timeout=60000")
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall()) if cur.description else []
    finally:
        conn.rollback()
        conn.close()


def test_the_guide_has_enough_examples_and_some_for_every_role() -> None:
    assert len(EXAMPLES) >= MIN_EXAMPLES
    assert {e.role for e in EXAMPLES} == set(GROUP_ROLES)
    assert len({e.question for e in EXAMPLES}) == len(EXAMPLES), "two examples ask the same question"


@pytest.mark.parametrize("example", EXAMPLES, ids=[example_id(e) for e in EXAMPLES])
def test_each_example_runs_as_its_role_and_answers(
    db: Settings, logins: dict[str, users.NewUser], example: Example
) -> None:
    try:
        rows = run_as(db, logins[example.role], example.sql)
    except psycopg2.Error as exc:
        pytest.fail(f"{example} fails: {exc.pgcode} {str(exc).strip()}", pytrace=False)
    if not example.may_return_no_rows:
        assert rows, f"{example} returns no rows from the test scene: fix the example's values or mark it"


def test_an_example_fails_when_it_has_a_typo_or_goes_beyond_its_role(
    db: Settings, logins: dict[str, users.NewUser]
) -> None:
    analyst = logins["das_analyst"]
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        run_as(db, analyst, "SELECT plate FROM das.anpr_reads WHERE read_at >= '2026-11-24 00:00+00' LIMIT 1")
    with pytest.raises(psycopg2.errors.UndefinedTable):
        run_as(db, analyst, "SELECT count(*) FROM das.crimes_per_borough_weeks")
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="permission denied for function search_plate"):
        run_as(db, analyst, "SELECT * FROM das.search_plate('AB12*', now() - interval '1 day', now(), 'analysing it')")
    malformed = "```sql\n-- role: das_analyst\nSELECT 1;\n```\n"
    with pytest.raises(ValueError, match="line 3: the second line"):
        guide_examples(malformed)
    with pytest.raises(ValueError, match="line 2: a block starts with"):
        guide_examples("```sql\n-- role: postgres\n-- What?\nSELECT 1;\n```\n")


def test_the_grants_table_says_what_each_role_may_query(db: Settings) -> None:
    table = grants_table(GUIDE.read_text(encoding="utf-8"))
    assert len(table) >= 20, "the grants table lost rows"
    owner = psycopg2.connect(db.libpq_dsn)
    try:
        for name, may in table.items():
            privilege = ("has_function_privilege", "EXECUTE") if "(" in name else ("has_table_privilege", "SELECT")
            for role, expected in may.items():
                ((granted,),) = query(owner, f"SELECT {privilege[0]}(%s, %s, %s)", (role, name, privilege[1]))
                assert granted == expected, f"{role} {'may' if granted else 'may not'} use {name}: fix the guide"
        writable = query(
            owner,
            "SELECT grantee, table_name, privilege_type FROM information_schema.role_table_grants "
            "WHERE table_schema = 'das' AND grantee = ANY(%s) AND privilege_type <> 'SELECT'",
            (list(GROUP_ROLES),),
        )
        assert writable == [], "the guide says no role may write to schema das"
    finally:
        owner.close()
