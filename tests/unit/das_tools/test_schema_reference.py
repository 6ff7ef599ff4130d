"""docs/schema.md is generated from the declarations in schemas/ and must not drift from them.

Both tests render in a fresh interpreter: other tests register tables at run time (a plug-in source's bronze
table, say), and the reference documents what ``schemas`` declares, not what a test session added.
"""

from __future__ import annotations

import json
import subprocess
import sys

from das_tools.schema_reference import REGENERATE
from tests.conftest import REPO_ROOT

SCHEMA_MD = REPO_ROOT / "docs" / "schema.md"

_LIST_DECLARED = (
    "import json; from das_tools.schema_reference import declared_tables; "
    "print(json.dumps([[t.qualified_name, t.column_names] for t in declared_tables()]))"
)


def _fresh_python(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_docs_schema_md_is_the_generated_reference() -> None:
    generated = _fresh_python("-m", "das_tools.schema_reference")
    assert SCHEMA_MD.exists(), f"docs/schema.md is missing; generate it with: {REGENERATE}"
    assert SCHEMA_MD.read_text(encoding="utf-8") == generated, (
        f"docs/schema.md differs from the declarations in schemas/; regenerate it with: {REGENERATE}"
    )


def test_every_declared_table_and_column_is_in_the_reference() -> None:
    declared: list[tuple[str, list[str]]] = json.loads(_fresh_python("-c", _LIST_DECLARED))
    assert {"silver/anpr_reads", "gold/flags", "reference/lsoas", "governance/audit_log"} <= {n for n, _ in declared}
    text = SCHEMA_MD.read_text(encoding="utf-8")
    sections = text.split("\n### ")
    for name, columns in declared:
        found = [s for s in sections if s.startswith(f"`{name}`\n")]
        assert len(found) == 1, f"docs/schema.md has {len(found)} sections for {name}; regenerate: {REGENERATE}"
        missing = [c for c in columns if f"\n| `{c}` |" not in found[0]]
        assert not missing, f"{name}: columns {missing} are not in docs/schema.md; regenerate: {REGENERATE}"
        assert f"[`{name}`](#" in text, f"{name} is not in the contents of docs/schema.md"
