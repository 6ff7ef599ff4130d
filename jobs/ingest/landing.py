"""Finding landed files: where they land, how they are identified, and which mapping file applies.

Files land under ``<landing>/<source>/`` with free names. A file is identified by the SHA-256 of its bytes, so
landing the same file twice is a no-op. Hidden files (``.name``) and ``*.tmp`` are files still being written and are
never taken. ``*.mapping.yaml`` files describe how another CSV/GeoJSON's fields map to the contract.
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from das.errors import ContractError
from schemas.landing import MAPPING_SUFFIXES

_CHUNK = 1 << 20
log = logging.getLogger("das.ingest.landing")


@dataclass(frozen=True)
class FieldMapping:
    """Maps contract field names to the names a non-standard file uses, plus defaults for absent fields.

    A field may be a template of file fields, e.g. ``camera_id: "{notes}-{cam_number}"``: a composite key for
    registers whose numbers repeat across sub-networks.
    """

    match: str = "*"
    fields: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    source_path: str = ""
    checksum: str = ""  # of the mapping file: part of the identity of every file it maps

    @classmethod
    def load(cls, path: Path) -> FieldMapping:
        try:
            doc: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise ContractError(f"mapping file {path.name} is not valid YAML: {str(exc)[:300]}") from exc
        if (
            not isinstance(doc, dict)
            or not isinstance(doc.get("fields", {}), dict)
            or not isinstance(doc.get("defaults", {}) or {}, dict)
        ):
            raise ContractError(
                f"mapping file {path.name} must be a mapping with 'fields: {{contract_field: file_field}}' "
                "and optional 'match' (glob) and 'defaults'"
            )
        return cls(
            match=str(doc.get("match", "*")),
            fields={str(k): str(v) for k, v in (doc.get("fields") or {}).items()},
            defaults={str(k): str(v) for k, v in (doc.get("defaults") or {}).items()},
            source_path=str(path),
            checksum=file_checksum(path),
        )


@dataclass(frozen=True)
class LandedFile:
    source: str
    path: Path
    checksum: str
    size: int
    mapping: FieldMapping | None = None
    problem: tuple[str, str] | None = None  # (reason code, detail) when the file is known unusable before parsing

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


def _skip(path: Path, why: str) -> None:
    log.warning("landing: skipped %s: %s", path, why)


def _is_candidate(path: Path) -> bool:
    """A name that may be a complete data file (not hidden, not still being written, not a mapping or a note)."""
    name = path.name
    return not (
        name.startswith((".", "_"))
        or name.endswith((".tmp", ".partial", *MAPPING_SUFFIXES))
        or name.lower().endswith((".md", ".txt.md"))
    )


def _inside(root: Path, candidate: Path) -> Path | None:
    """The real path of ``candidate`` when it is a regular file inside ``root``; None (and a log line) otherwise."""
    try:
        real = candidate.resolve(strict=True)
    except (OSError, RuntimeError) as exc:  # a dangling or looping symlink
        _skip(candidate, f"cannot be resolved ({exc})")
        return None
    if not real.is_relative_to(root):
        _skip(candidate, f"resolves to {real}, outside the landing folder {root}")
        return None
    if not stat.S_ISREG(real.stat().st_mode):
        _skip(candidate, "not a regular file (a device, pipe or socket)")
        return None
    return real


def _walk(root: Path) -> list[Path]:
    """Candidate files below ``root``; hidden and underscore folders (work in progress) are not entered."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in sorted(dirs):
            if name.startswith((".", "_")):
                _skip(Path(folder) / name, "hidden folder")
                dirs.remove(name)
        found.extend(Path(folder) / name for name in files)
    return sorted(p for p in found if _is_candidate(p))


def discover(source: str, path: Path) -> list[LandedFile]:
    """Every complete landing file for ``source`` at ``path`` (a file or a folder), in name order.

    Paths are resolved inside the landing folder: symlinks that lead out of it, devices and files in hidden
    folders are skipped with a log line. An invalid mapping file is returned as a landed file with its problem,
    so it is quarantined instead of stopping the run.
    """
    if not path.exists():
        raise ContractError(f"landing path {path} does not exist")
    root = (path if path.is_dir() else path.parent).resolve()
    mappings: list[FieldMapping] = []
    landed: list[LandedFile] = []
    for mapping_path in sorted(root.iterdir()):
        if not mapping_path.name.endswith(MAPPING_SUFFIXES) or (real := _inside(root, mapping_path)) is None:
            continue
        try:
            mappings.append(FieldMapping.load(real))
        except ContractError as exc:
            landed.append(_landed(source, real, None, problem=("invalid_mapping", str(exc))))
    candidates = _walk(root) if path.is_dir() else [path]
    for candidate in candidates:
        real = _inside(root, candidate)
        if real is None:
            continue
        mapping = next((m for m in mappings if fnmatch.fnmatch(candidate.name, m.match)), None)
        landed.append(_landed(source, real, mapping))
    return landed


def _landed(
    source: str, path: Path, mapping: FieldMapping | None, problem: tuple[str, str] | None = None
) -> LandedFile:
    checksum = file_checksum(path)
    if mapping is not None:
        # A file read through a mapping is identified by both: a corrected mapping makes it new again.
        checksum = hashlib.sha256(f"{checksum}+{mapping.checksum}".encode()).hexdigest()
    return LandedFile(
        source=source,
        path=path,
        checksum=checksum,
        size=path.stat().st_size,
        mapping=mapping,
        problem=problem,
    )
