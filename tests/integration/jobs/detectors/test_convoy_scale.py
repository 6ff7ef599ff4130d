"""The segment-candidate convoy pairing flags exactly the pairs the exact pairwise algorithm flags, on the
1M-read scenario (the recall argument is in jobs/detectors/convoy.py's docstring)."""

from __future__ import annotations

from typing import Any

import pytest

from das.config import Settings
from das_tools.bench.convoy import compare, load_reads
from das_tools.simulator import SimulationParams, run_simulation

pytestmark = pytest.mark.integration

READS = 1_000_000


@pytest.fixture(scope="module")
def scenario(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("convoy-1m")
    result = run_simulation(SimulationParams(seed=7, reads=READS, crime_days=30), work / "landing", progress=False)
    reads = load_reads(spark, work / "landing", work / "reads.parquet")
    return {"truth": result.truth, "outcome": compare(spark, reads, Settings(home=work / "home"), warm_up=False)}


def test_segment_candidates_flag_the_same_pairs_as_the_exact_pairing(scenario: dict[str, Any]) -> None:
    found = scenario["outcome"]["found"]
    assert found["exact"], "the exact pairing flagged nothing: the scenario plants convoys"
    assert found["segments"].keys() == found["exact"].keys()
    for pair, score in found["exact"].items():
        assert found["segments"][pair] == pytest.approx(score, rel=1e-12), pair


def test_the_planted_convoys_are_among_them(scenario: dict[str, Any]) -> None:
    flagged = scenario["outcome"]["found"]["segments"].keys()
    planted = [{f["subject"], *f["related"]} for f in scenario["truth"]["flags"]["convoy"] if f["planted"]]
    assert planted
    for group in planted:
        assert any(set(pair) <= group for pair in flagged), group


def test_segment_candidates_pair_fewer_reads(scenario: dict[str, Any]) -> None:
    co_reads = scenario["outcome"]["co_reads"]
    assert co_reads["segments"] <= co_reads["exact"]
