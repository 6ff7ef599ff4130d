"""Precision and recall of detector flags against a simulation's truth.json, per flag type.

Matching (a flag is a dict with at least ``flag_type``, ``subject`` and ``related``):

* default: the flag's subject equals the truth item's subject;
* convoy: the flag's plates ({subject} + related) share at least 2 plates with the truth group;
* emerging_hotspot: the flag's cell is the truth cell or one of its immediate H3 neighbours (grid_disk k=1);
* near_repeat: the flag's subject is any crime of the truth cluster (subject or related).

Counting, per flag type:

* TP = truth items matched by at least one flag. Several flags matching one truth item count once, and
  the extra ones are *duplicates*, neither TP nor FP (detectors may split one pattern, e.g. per day).
* A flag matching no truth item but an ``ignore`` item (same matching rules) is *ignored*: neither TP
  nor FP. The simulator lists there what a correct detector may or may not flag (see
  ``das_tools.simulator.truth``), e.g. buses incidentally read near two crimes.
* FP = flags matching neither. FN = truth items matched by no flag.
* precision = TP / (TP + FP); recall = TP / truth items. With nothing to count (no flags, or no truth
  items) the value is 1.0 and the table shows "n/a".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from schemas.tables import FLAG_TYPES

Matcher = Callable[[Mapping[str, Any], Mapping[str, Any]], bool]
RANKED_TYPES = ("convoy", "vehicle_near_crimes")  # leads an investigator reads top-down: precision at k matters


@dataclass(frozen=True)
class TypeScore:
    flag_type: str
    truth_items: int
    flags: int
    tp: int
    fp: int
    fn: int
    duplicates: int
    ignored: int
    missed: list[str] = field(default_factory=list)  # subjects of unmatched truth items
    false_positives: list[str] = field(default_factory=list)  # subjects of FP flags
    top_k_hits: int | None = None  # ranked types: of the k strongest flags (k = truth items), how many are planted

    @property
    def precision_at_k(self) -> float | None:
        """Share of the k strongest flags that are planted (k = the number planted); None for unranked types."""
        if self.top_k_hits is None or not self.truth_items:
            return None
        return self.top_k_hits / self.truth_items

    @property
    def precision_defined(self) -> bool:
        return self.tp + self.fp > 0

    @property
    def recall_defined(self) -> bool:
        return self.truth_items > 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.precision_defined else 1.0

    @property
    def recall(self) -> float:
        return self.tp / self.truth_items if self.recall_defined else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True)
class EvalReport:
    scores: dict[str, TypeScore]

    def format_table(self) -> str:
        header = (
            f"{'flag_type':<20} {'truth':>5} {'flags':>5} {'tp':>4} {'fp':>4} {'fn':>4} {'dup':>4} "
            f"{'ign':>5} {'precision':>9} {'recall':>7} {'f1':>6} {'prec@k':>6}"
        )
        lines = [header, "-" * len(header)]
        for s in self.scores.values():
            p = f"{s.precision:.3f}" if s.precision_defined else "n/a"
            r = f"{s.recall:.3f}" if s.recall_defined else "n/a"
            f1 = f"{s.f1:.3f}" if s.precision_defined or s.recall_defined else "n/a"
            at_k = f"{s.precision_at_k:.3f}" if s.precision_at_k is not None else "-"
            lines.append(
                f"{s.flag_type:<20} {s.truth_items:>5} {s.flags:>5} {s.tp:>4} {s.fp:>4} {s.fn:>4} "
                f"{s.duplicates:>4} {s.ignored:>5} {p:>9} {r:>7} {f1:>6} {at_k:>6}"
            )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            name: {
                **asdict(s),
                "precision": s.precision,
                "recall": s.recall,
                "f1": s.f1,
                "precision_at_k": s.precision_at_k,
                "precision_defined": s.precision_defined,
                "recall_defined": s.recall_defined,
            }
            for name, s in self.scores.items()
        }

    def failures(self, min_precision: float, min_recall: float) -> list[str]:
        """One line per flag type below the thresholds (empty when all pass)."""
        out = []
        for s in self.scores.values():
            if s.precision < min_precision:
                out.append(
                    f"{s.flag_type}: precision {s.precision:.3f} < {min_precision} "
                    f"(false positives: {s.false_positives[:5]})"
                )
            if s.recall < min_recall:
                out.append(f"{s.flag_type}: recall {s.recall:.3f} < {min_recall} (missed: {s.missed[:5]})")
        return out


def load_truth(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def evaluate(flags: Iterable[Mapping[str, Any]], truth: Mapping[str, Any]) -> EvalReport:
    by_type: dict[str, list[Mapping[str, Any]]] = {}
    for flag in flags:
        by_type.setdefault(str(flag["flag_type"]), []).append(flag)
    truth_flags = truth.get("flags", {})
    ignore = truth.get("ignore", {})
    names = list(FLAG_TYPES) + sorted((set(by_type) | set(truth_flags)) - set(FLAG_TYPES))
    return EvalReport(
        {
            name: _score(
                name,
                by_type.get(name, []),
                [_as_item(i) for i in truth_flags.get(name, [])],
                [_as_item(i) for i in ignore.get(name, [])],
            )
            for name in names
        }
    )


def _score(
    flag_type: str, flags: list[Mapping[str, Any]], items: list[dict[str, Any]], ignore: list[dict[str, Any]]
) -> TypeScore:
    match = MATCHERS.get(flag_type, _same_subject)
    matched = [False] * len(items)
    fp_subjects: list[str] = []
    duplicates = ignored = 0
    for raw in flags:
        flag: dict[str, Any] = {"subject": str(raw.get("subject")), "related": _as_list(raw.get("related"))}
        hits = [i for i, it in enumerate(items) if match(flag, it)]
        if hits:
            if all(matched[i] for i in hits):
                duplicates += 1
            for i in hits:
                matched[i] = True
        elif any(match(flag, it) for it in ignore):
            ignored += 1
        else:
            fp_subjects.append(flag["subject"])
    tp = sum(matched)
    top_k_hits = None
    if flag_type in RANKED_TYPES:
        strongest = sorted(flags, key=lambda f: (-float(f.get("score") or 0.0), str(f.get("flag_id"))))[: len(items)]
        top_k_hits = sum(
            any(match({"subject": str(f.get("subject")), "related": _as_list(f.get("related"))}, it) for it in items)
            for f in strongest
        )
    return TypeScore(
        flag_type=flag_type,
        truth_items=len(items),
        flags=len(flags),
        tp=tp,
        fp=len(fp_subjects),
        fn=len(items) - tp,
        duplicates=duplicates,
        ignored=ignored,
        missed=[it["subject"] for i, it in enumerate(items) if not matched[i]],
        false_positives=fp_subjects,
        top_k_hits=top_k_hits,
    )


def _as_item(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):  # an ignore list may hold bare subjects
        return {"subject": raw, "related": []}
    return {"subject": str(raw["subject"]), "related": _as_list(raw.get("related"))}


def _as_list(value: Any) -> list[str]:
    """``related`` as a list of strings, whether it came as a list, an array, JSON text or nothing."""
    if value is None:
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return [str(v) for v in json.loads(text)]
        return [text] if text else []
    return [str(v) for v in value]


def _same_subject(flag: Mapping[str, Any], item: Mapping[str, Any]) -> bool:
    return bool(flag["subject"] == item["subject"])


def _convoy_overlap(flag: Mapping[str, Any], item: Mapping[str, Any]) -> bool:
    plates = {flag["subject"], *flag["related"]}
    group = {item["subject"], *item["related"]}
    return len(plates & group) >= 2


def _hotspot_neighbour(flag: Mapping[str, Any], item: Mapping[str, Any]) -> bool:
    # Imported here, not at module level: with h3 loaded before `das eval` converts the flags' evidence
    # (pyarrow to_pylist), the process aborted at exit ("terminate called without an active exception").
    import h3

    if flag["subject"] == item["subject"]:
        return True
    try:
        return flag["subject"] in h3.grid_disk(item["subject"], 1)
    except (ValueError, h3.H3BaseException):
        return False


def _in_cluster(flag: Mapping[str, Any], item: Mapping[str, Any]) -> bool:
    return flag["subject"] == item["subject"] or flag["subject"] in item["related"]


MATCHERS: dict[str, Matcher] = {
    "convoy": _convoy_overlap,
    "emerging_hotspot": _hotspot_neighbour,
    "near_repeat": _in_cluster,
}
