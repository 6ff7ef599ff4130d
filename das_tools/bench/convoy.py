"""`das bench convoy`: the segment-candidate convoy pairing against the exact pairwise one, on the same reads.

The simulated day's landing CSV is loaded once into a narrow Parquet file of valid reads (untimed; the
ingest is benchmarked by `das bench scenario`), then each algorithm runs ``convoy.flagged_pairs`` on it. The
exact algorithm is the reference, so each figure is a ratio, and the report says whether both flagged the
same pairs, and how the flags score against the simulator's truth.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from das.config import Settings
from das_tools.bench.scenario import Measurement, _bench_settings, _simulate, measured, to_markdown


def load_reads(spark: SparkSession, landing: Path, parquet: Path) -> DataFrame:
    """Valid reads of a simulated landing directory, with their cameras' coordinates, as detector input
    (the ingest's own plate and time parsing; rows it would quarantine are left out)."""
    from jobs.ingest.conform.common import normalise_plate, parse_timestamp

    cameras = (
        spark.read.option("header", True)
        .csv(str(landing / "cameras" / "cameras.csv"))
        .select("camera_id", F.col("longitude").cast("double"), F.col("latitude").cast("double"))
    )
    raw = spark.read.option("header", True).option("pathGlobFilter", "*.csv").csv(str(landing / "anpr"))
    reads = (
        raw.select(
            "read_id",
            "camera_id",
            normalise_plate(F.col("plate")).alias("plate"),
            parse_timestamp(F.col("read_at")).alias("read_at"),
        )
        .where((F.length("plate") > 0) & F.col("read_at").isNotNull())
        .join(F.broadcast(cameras), "camera_id")
        .dropDuplicates(["read_id"])
    )
    reads.write.mode("overwrite").parquet(str(parquet))
    return spark.read.parquet(str(parquet))


def pair_scores(flagged: DataFrame) -> dict[tuple[str, str], float]:
    return {(r.plate_1, r.plate_2): r.pair_score for r in flagged.select("plate_1", "plate_2", "pair_score").collect()}


def same_pairs(a: dict[tuple[str, str], float], b: dict[tuple[str, str], float]) -> bool:
    """The same pairs with the same scores, up to the last bits a sum's shuffle order can change."""
    return a.keys() == b.keys() and all(math.isclose(a[k], b[k], rel_tol=1e-12) for k in a)


def compare(
    spark: SparkSession, reads: DataFrame, settings: Settings, *, exact: bool = True, warm_up: bool = True
) -> dict[str, Any]:
    """Run both pairings over ``reads``; their timings, peak memory, co-read rows and flagged pairs."""
    from jobs.detectors import convoy
    from jobs.detectors.common import DetectorInputs

    empty = spark.createDataFrame([], "x string")
    inputs = DetectorInputs(reads=reads, cameras=empty, crimes=empty, hotlist=empty)
    names = ("segments", "exact") if exact else ("segments",)
    warm = DetectorInputs(reads=reads.sample(0.01, seed=1), cameras=empty, crimes=empty, hotlist=empty)
    for name in names if warm_up else ():  # untimed: JVM warm-up, so that neither side pays it
        convoy.flagged_pairs(warm, settings.convoy, exact=name == "exact")[1].count()
    results: list[Measurement] = []
    found: dict[str, dict[tuple[str, str], float]] = {}
    co_reads: dict[str, int] = {}
    for name in names:
        with measured(f"convoy pairs, {name}", results) as m:
            co, flagged = convoy.flagged_pairs(inputs, settings.convoy, exact=name == "exact")
            found[name] = pair_scores(flagged)
            co_reads[name] = co.count()
            m.rows = len(found[name])
            m.note = "rows = flagged pairs"
    return {"results": results, "found": found, "co_reads": co_reads}


def bench_convoy(reads: int, out: Path | None = None, *, exact: bool = True) -> str:
    from das_tools.evaluation import evaluate
    from jobs import tasks

    results: list[Measurement] = []
    work = Path(tempfile.mkdtemp(prefix="das-bench-convoy-"))
    try:
        landing = work / "landing"
        truth = _simulate(reads, landing, results)
        settings = _bench_settings(work)
        spark = tasks.runtime(settings).spark
        frame = load_reads(spark, landing, work / "reads.parquet")
        valid = frame.count()
        outcome = compare(spark, frame, settings, exact=exact)
        segments, *reference = outcome["results"]
        segments.rows = len(outcome["found"]["segments"])
        if reference:
            segments.reference_seconds = reference[0].seconds
            segments.reference_peak_bytes = reference[0].peak_bytes
        results += outcome["results"]
        report = to_markdown(
            f"Convoy pairing, {reads:,} ANPR reads ({valid:,} valid)",
            f"das bench convoy --reads {reads}{'' if exact else ' --no-exact'}",
            results,
        )
        report = report.replace(
            "| DuckDB s | DuckDB peak MiB | das/DuckDB |", "| exact s | exact peak MiB | segments/exact |"
        )
        found = outcome["found"]
        flags = [
            {"flag_type": "convoy", "subject": a, "related": [b], "score": score, "flag_id": f"{a}/{b}"}
            for (a, b), score in sorted(found["segments"].items())
        ]
        table = evaluate(flags, truth).format_table().splitlines()
        quality = "\n".join(table[:2] + [line for line in table if line.startswith("convoy ")])
        lines = [
            "",
            f"- co-read rows: segments {outcome['co_reads']['segments']:,}"
            + (f", exact {outcome['co_reads']['exact']:,}" if exact else ""),
            f"- flagged pairs: segments {len(found['segments'])}"
            + (
                f", exact {len(found['exact'])}, identical: {'yes' if same_pairs(*found.values()) else 'NO'}"
                if exact
                else ""
            ),
            "",
            "Flagged pairs against truth.json (each pair scored as a flag; groups are formed after this):",
            "",
            "```",
            quality,
            "```",
        ]
        report += "\n".join(lines) + "\n"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if out:
        out.write_text(report)
    return report
