"""The shape of a source spec: what ingest and publish need to know about a source (registered in ``jobs.sources``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from pyspark.sql import Column, DataFrame

from jobs.ingest.conform.common import ConformContext
from schemas.landing import LandingFormat
from schemas.model import LINEAGE_COLUMNS, Table
from schemas.tables import bronze_table

MergeMode = Literal["append", "scd2", "snapshot"]
PublishMode = Literal["replace", "upsert", "day_partitions", "none"]
Conform = Callable[[DataFrame, LandingFormat, ConformContext], DataFrame]
# A check across tables after a batch is staged: (the staged silver batch, the lake's other tables' current rows
# by qualified name) -> a frame of a declared table that the quality gate validates.
CrossCheck = Callable[[DataFrame, Mapping[str, DataFrame]], tuple[Table, DataFrame]]


@dataclass(frozen=True)
class Scd2:
    """How a source keeps history (slowly changing dimension, type 2) in its silver table.

    A record whose entity key is new opens a version valid from ``opened_by`` (or always); one whose content
    differs from the entity's current version closes that version at the ingest time and opens a new one (an
    update); one whose content is unchanged is a duplicate. PostGIS serves every version, or with
    ``publish_current_only`` only the current one.
    """

    entity_key: tuple[str, ...]
    opened_by: str | None = None  # e.g. installed_at: a first version is valid from then, so earlier events match
    closed_by: str | None = None  # e.g. removed_at: the version ends then
    valid_from: str = "valid_from"
    valid_to: str = "valid_to"
    is_current: str = "is_current"
    publish_current_only: bool = False

    @property
    def version_columns(self) -> tuple[str, ...]:
        return (self.valid_from, self.valid_to, self.is_current)


@dataclass(frozen=True)
class SourceSpec:
    name: str
    formats: tuple[LandingFormat, ...]
    silver: Table
    conform: Conform
    schedule: str
    description: str  # what lands and what the ingest does with it (the DAG's documentation)
    merge: MergeMode = "append"
    publish: PublishMode = "replace"
    history: Scd2 | None = None  # required when merge == "scd2"
    references: tuple[Table, ...] = ()  # silver tables conform reads (ingest them first)
    # A raw row's silver partition value, cheap to compute: the key probe against silver reads only those
    # partitions. None = probe the whole silver table.
    partition_probe: Callable[[DataFrame], Column] | None = None
    volume_baseline: bool = False  # compare each batch's volume with the trailing baseline (a warning)
    # Which version wins when one batch holds several for a key: the latest by these columns. None: conflict.
    winner: tuple[str, ...] = ()
    # merge="snapshot": each batch is the full list for every value of this column it holds; held rows of those
    # lists that the batch lacks are withdrawn (their valid_to ends now).
    snapshot_scope: str | None = None
    # Sources whose record kinds land together share a folder under <landing>/ (default: the source's name). In a
    # shared folder a source takes the files its formats recognise, never those the ``leaves`` formats recognise,
    # and files nobody recognises only when ``takes_unrecognised`` (it then quarantines them with the reason).
    landing_folder: str | None = None
    leaves: tuple[LandingFormat, ...] = ()
    takes_unrecognised: bool = True
    # Checked by the quality gate after the batch is staged; reads the current rows of ``cross_check_reads``.
    cross_check: CrossCheck | None = None
    cross_check_reads: tuple[Table, ...] = ()
    feeds_detectors: bool = True  # a change to its silver table triggers the detectors (build_flags)

    def __post_init__(self) -> None:
        if (self.merge == "scd2") != (self.history is not None):
            raise ValueError(f"source {self.name}: merge='scd2' and history go together")
        if (self.merge == "snapshot") != (self.snapshot_scope is not None):
            raise ValueError(f"source {self.name}: merge='snapshot' and snapshot_scope go together")
        if not self.formats:
            raise ValueError(f"source {self.name}: declare at least one landing format")

    @property
    def folder(self) -> str:
        """The folder under the landing root its files land in."""
        return self.landing_folder or self.name

    def takes(self, fields: set[str] | None) -> bool:
        """Whether a file with these (normalised) fields, None = unknown, is this source's to ingest."""
        if self.landing_folder is None:
            return True
        if fields is None:
            return self.takes_unrecognised
        if any(f.recognises(fields) for f in self.leaves):
            return False
        return self.takes_unrecognised or any(f.recognises(fields) for f in self.formats)

    @property
    def bronze(self) -> Table:
        return bronze_table(self.name)

    @property
    def dedupe_key(self) -> tuple[str, ...]:
        """What makes a record the same record: the silver key, or for SCD2 the entity key."""
        return self.history.entity_key if self.history else self.silver.key

    @property
    def content_columns(self) -> tuple[str, ...]:
        """The contract fields that make two records the same: every silver column but lineage and versioning."""
        skip = {c.name for c in LINEAGE_COLUMNS} | set(self.history.version_columns if self.history else ())
        return tuple(c for c in self.silver.column_names if c not in skip)

    @property
    def corrections_allowed(self) -> bool:
        """Whether a held key may come again with new content (a new version) rather than conflict."""
        return self.merge != "append"

    @property
    def asset_uri(self) -> str:
        return f"das://{self.silver.qualified_name}"

    @property
    def dag_id(self) -> str:
        return f"ingest_{self.name}"
