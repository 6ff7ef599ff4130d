"""Finding landed files: where they land, how they are identified, and which mapping file applies.

Files land under ``<landing>/<source>/`` with free names. A file is identified by the SHA-256 of its bytes, so
landing the same file twice is a no-op. Hidden files (``.name``) and ``*.tmp`` are files still being written and are
never taken. ``*.mapping.yaml`` files describe how another CSV/GeoJSON's fields map to the contract.
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from das.errors import ContractError
from schemas.landing import MAPPING_SUFFIXES

_CHUNK = 1 << 20


@dataclass(frozen=True)
class FieldMapping:
    """Maps contract field names to the names a non-standard file uses, plus defaults for absent fields."""

    match: str = "*"
    fields: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    source_path: str = ""

    @classmethod
    def load(cls, path: Path) -> FieldMapping:
        try:
            doc: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ContractError(f"mapping file {path} is not valid YAML: {exc}") from exc
        if not isinstance(doc, dict) or not isinstance(doc.get("fields", {}), dict):
            raise ContractError(
                f"mapping file {path} must be a mapping with 'fields: {{contract_field: file_field}}' "
                "and optional 'match' (glob) and 'defaults'"
            )
        return cls(
            match=str(doc.get("match", "*")),
            fields={str(k): str(v) for k, v in (doc.get("fields") or {}).items()},
            defaults={str(k): str(v) for k, v in (doc.get("defaults") or {}).items()},
            source_path=str(path),
        )


@dataclass(frozen=True)
class LandedFile:
    source: str
    path: Path
    checksum: str
    size: int
    mapping: FieldMapping | None = None

    @property
    def compressed(self) -> bool:
        return self.path.suffix == ".gz"

    @property
    def format_hint(self) -> str:
        """csv | jsonl | json | geojson, from the name (without .gz)."""
        name = self.path.name.lower().removesuffix(".gz")
        if name.endswith((".jsonl", ".ndjson")):
            return "jsonl"
        if name.endswith(".geojson"):
            return "geojson"
        if name.endswith(".json"):
            return "json"
        return "csv"

    def open_binary(self):  # type: ignore[no-untyped-def]
        return gzip.open(self.path, "rb") if self.compressed else self.path.open("rb")


def file_checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _is_data_file(path: Path) -> bool:
    name = path.name
    return (
        path.is_file()
        and not name.startswith((".", "_"))
        and not name.endswith((".tmp", ".partial", *MAPPING_SUFFIXES))
        and not name.lower().endswith((".md", ".txt.md"))
    )


def discover(source: str, path: Path) -> list[LandedFile]:
    """Every complete landing file for ``source`` at ``path`` (a file or a folder), in name order."""
    if not path.exists():
        raise ContractError(f"landing path {path} does not exist")
    folder = path if path.is_dir() else path.parent
    mappings = [FieldMapping.load(p) for p in sorted(folder.iterdir()) if p.name.endswith(MAPPING_SUFFIXES)]
    candidates = sorted(p for p in path.rglob("*") if _is_data_file(p)) if path.is_dir() else [path]
    landed = []
    for candidate in candidates:
        mapping = next((m for m in mappings if fnmatch.fnmatch(candidate.name, m.match)), None)
        landed.append(
            LandedFile(
                source=source,
                path=candidate.resolve(),
                checksum=file_checksum(candidate),
                size=candidate.stat().st_size,
                mapping=mapping,
            )
        )
    return landed
