"""validate_batch on tiny Spark batches: real GX validation, severity routing, Data Docs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pyspark.sql import types as T

from das.config import Settings
from das.errors import QualityGateError
from quality.validation import QualityReference, QualityReport, raise_for_failures, validate_batch
from schemas.model import Table
from schemas.tables import SILVER_ANPR_READS, SILVER_HOTLIST
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.unit

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
CAMERAS = ["CAM1", "CAM2", "CAM3"]


def _default(column: Any) -> Any:
    if column.allowed_values:
        return column.allowed_values[0]
    if column.nullable:
        return None
    return {
        "string": "x",
        "int": 1,
        "long": 1,
        "double": 0.0,
        "boolean": True,
        "timestamp": NOW - timedelta(hours=1),
        "date": NOW.date(),
    }[column.type]


def rows_for(table: Table, overrides: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per override dict; every other column gets a plain valid value."""
    base = {c.name: _default(c) for c in table.columns}
    return [{**base, **o} for o in overrides]


def anpr_read(i: int, **changes: Any) -> dict[str, Any]:
    read = {
        "read_id": f"R{i}",
        "camera_id": CAMERAS[i % len(CAMERAS)],
        "plate": "AB12CDE",
        "plate_raw": "AB12 CDE",
        "read_at": NOW - timedelta(minutes=i),
        "confidence": 0.9,
        "country": "GB",
        "longitude": -0.12,
        "latitude": 51.5,
        "read_date": date(2025, 6, 1),
        "row_number": i,
    }
    return {**read, **changes}


GOOD_READS = [
    anpr_read(1),
    anpr_read(2, plate="A123BCD", confidence=0.0),
    anpr_read(3, plate="ABC123D", confidence=1.0),
    anpr_read(4, plate="AB123CD", country="FR"),  # not a GB format, but not a GB plate either
    anpr_read(5, read_at=NOW + timedelta(seconds=60)),  # within the 300 s clock-skew tolerance
    anpr_read(6, read_at=NOW - timedelta(days=364)),  # just inside 365 days of retention
]


def anpr_batch(spark, reads: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    return spark.createDataFrame(rows_for(SILVER_ANPR_READS, reads), SILVER_ANPR_READS.spark_schema())


def by_check(results: list[Any]) -> dict[tuple[str, str | None], int]:
    return {(r.name, r.column): r.unexpected_count for r in results}


def test_good_batch_passes_and_builds_data_docs(spark, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    reference = QualityReference(known_camera_ids=CAMERAS, baseline_rows_per_day=6.0, now=NOW)
    report = validate_batch(
        anpr_batch(spark, GOOD_READS), SILVER_ANPR_READS, settings, run_id="good", reference=reference
    )
    assert report.success, report.summary()
    assert report.failures == [] and report.warnings == []
    assert report.row_count == len(GOOD_READS)
    assert report.table == "silver/anpr_reads"
    ran = {c.name for c in report.checks}
    assert {"not_null", "type", "region_bbox", "not_future", "within_retention", "known_camera"} <= ran
    assert {"plate_format", "volume", "range", "columns_match_declaration"} <= ran
    # Data Docs and GX state live under the temporary DAS_HOME, not the repository.
    assert report.data_docs_index == settings.data_docs_dir / "index.html"
    assert report.data_docs_index.is_file()
    assert report.data_docs_index.is_relative_to(settings.home_abs)
    assert list((settings.data_docs_dir / "validations").rglob("*.html"))
    assert (settings.home_abs / "gx").is_dir()
    assert not (REPO_ROOT / "gx").exists()
    raise_for_failures(report)  # does not raise


@pytest.fixture(scope="module")
def module_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(home=tmp_path_factory.mktemp("quality_home"))


@pytest.fixture(scope="module")
def bad_report(spark, module_settings: Settings) -> QualityReport:  # type: ignore[no-untyped-def]
    reads = [
        *GOOD_READS,
        anpr_read(10, longitude=1.6),  # in the North Sea, east of the region
        anpr_read(11, read_at=NOW + timedelta(minutes=10)),  # beyond the clock-skew tolerance
        anpr_read(12, read_at=NOW - timedelta(days=400)),  # beyond retention
        anpr_read(13, camera_id="CAM999"),
        anpr_read(14, confidence=1.5),
        anpr_read(15, plate="AB12C8E"),  # OCR misread: not a GB format
    ]
    reference = QualityReference(known_camera_ids=CAMERAS, baseline_rows_per_day=1000.0, now=NOW)
    return validate_batch(
        anpr_batch(spark, reads),
        SILVER_ANPR_READS,
        module_settings,
        run_id="bad",
        reference=reference,
        build_docs=False,
    )


def test_each_domain_check_fails_on_its_bad_row(bad_report: QualityReport) -> None:
    assert not bad_report.success
    assert by_check(bad_report.failures) == {
        ("region_bbox", "longitude"): 1,
        ("not_future", "read_at"): 1,
        ("within_retention", "read_at"): 1,
        ("known_camera", "camera_id"): 1,
        ("range", "confidence"): 1,
    }
    assert all(f.severity == "critical" for f in bad_report.failures)


def test_plate_format_and_volume_are_warnings(bad_report: QualityReport) -> None:
    assert by_check(bad_report.warnings) == {("plate_format", "plate"): 1, ("volume", None): 0}
    assert all(w.severity == "warning" for w in bad_report.warnings)
    volume = next(w for w in bad_report.warnings if w.name == "volume")
    assert "12" in volume.detail  # the observed row count is reported
    assert bad_report.row_count == 12
    assert bad_report.data_docs_index is None  # build_docs=False


def test_critical_failure_blocks_publish(bad_report: QualityReport) -> None:
    with pytest.raises(QualityGateError, match="silver/anpr_reads"):
        raise_for_failures(bad_report)


def test_warnings_alone_publish(spark, module_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    reads = [*GOOD_READS, anpr_read(20, plate="IQ12CDE")]
    # A 5-minute micro-batch of 7 rows against 20k rows/day: expected ~69, 20% of that is ~14.
    reference = QualityReference(
        known_camera_ids=CAMERAS, baseline_rows_per_day=20_000.0, now=NOW, batch_span_days=5 / 1440
    )
    report = validate_batch(
        anpr_batch(spark, reads), SILVER_ANPR_READS, module_settings, run_id="warn", reference=reference
    )
    assert report.success
    assert report.failures == []
    assert by_check(report.warnings) == {("plate_format", "plate"): 1, ("volume", None): 0}
    raise_for_failures(report)  # recorded, not blocking


def test_known_cameras_from_a_dataframe_and_checks_without_reference(spark, module_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    batch = anpr_batch(spark, [*GOOD_READS, anpr_read(30, camera_id="CAM999")])
    cameras = spark.createDataFrame([(c,) for c in CAMERAS], "camera_id string")
    with_cameras = validate_batch(
        batch,
        SILVER_ANPR_READS,
        module_settings,
        run_id="cams",
        reference=QualityReference(known_camera_ids=cameras, now=NOW),
        build_docs=False,
    )
    assert by_check(with_cameras.failures) == {("known_camera", "camera_id"): 1}
    assert "volume" not in {c.name for c in with_cameras.checks}  # no baseline given

    without = validate_batch(
        batch,
        SILVER_ANPR_READS,
        module_settings,
        run_id="noref",
        reference=QualityReference(now=NOW),
        build_docs=False,
    )
    assert without.success
    assert not {"known_camera", "volume"} & {c.name for c in without.checks}


def _nullable(schema: T.StructType) -> T.StructType:
    """The same schema with every field nullable, so a test batch can hold nulls the declaration forbids."""
    return T.StructType([T.StructField(f.name, f.dataType, True) for f in schema.fields])


def test_declaration_checks_on_hotlist(spark, module_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    entries = rows_for(
        SILVER_HOTLIST,
        [
            {"hotlist_entry_id": "H1", "plate": "AB12CDE", "priority": "high"},
            {"hotlist_entry_id": "H2", "plate": None, "priority": "medium"},
            {"hotlist_entry_id": "H3", "plate": "XY99ZZZ", "priority": "urgent"},
        ],
    )
    schema = _nullable(SILVER_HOTLIST.spark_schema())
    batch = spark.createDataFrame(entries, schema)
    report = validate_batch(batch, SILVER_HOTLIST, module_settings, run_id="hot", build_docs=False)
    assert by_check(report.failures) == {("not_null", "plate"): 1, ("allowed_values", "priority"): 1}

    # A column of the wrong type and one missing column are critical too.
    retyped = batch.withColumn("valid_from", batch["valid_from"].cast("string")).drop("reason")
    report = validate_batch(retyped, SILVER_HOTLIST, module_settings, run_id="hot2", build_docs=False)
    failed = {(f.name, f.column) for f in report.failures}
    assert ("type", "valid_from") in failed
    assert ("columns_match_declaration", None) in failed
    assert not report.success


def test_history_is_pruned_and_docs_rebuilt(spark, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    from quality.data_docs import build_data_docs, prune_quality_history

    report = validate_batch(
        anpr_batch(spark, GOOD_READS[:2]),
        SILVER_ANPR_READS,
        settings,
        run_id="old",
        reference=QualityReference(now=NOW),
    )
    pages = list((settings.data_docs_dir / "validations").rglob("*.html"))
    assert len(pages) == 1 and "old" in pages[0].parts
    assert report.data_docs_index is not None
    page_link = pages[0].relative_to(settings.data_docs_dir).as_posix()
    assert page_link in report.data_docs_index.read_text()  # linked from the index
    assert prune_quality_history(settings, keep_days=30) == 0

    later = datetime.now(UTC) + timedelta(days=31)
    assert prune_quality_history(settings, keep_days=30, now=later) == 1
    assert not pages[0].exists()
    assert not list((settings.home_abs / "gx" / "uncommitted" / "validations").rglob("*.json"))
    assert page_link not in report.data_docs_index.read_text()
    assert build_data_docs(settings) == report.data_docs_index


def test_empty_micro_batch_is_valid_but_warns_on_volume(spark, module_settings: Settings) -> None:  # type: ignore[no-untyped-def]
    empty = spark.createDataFrame([], SILVER_ANPR_READS.spark_schema())
    reference = QualityReference(known_camera_ids=CAMERAS, baseline_rows_per_day=100.0, now=NOW)
    report = validate_batch(
        empty,
        SILVER_ANPR_READS,
        module_settings,
        run_id="scheduled/2025-06-01",
        reference=reference,
        build_docs=False,
    )
    assert report.success and report.row_count == 0
    assert by_check(report.warnings) == {("volume", None): 0}


def test_suite_rewritten_under_a_cached_checkpoint_is_recovered(spark, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two configurations sharing one DAS_HOME rewrite the stored suite under each other."""
    london = Settings(home=tmp_path / "shared")
    everywhere = Settings(home=tmp_path / "shared", region_bbox=(-180.0, -90.0, 180.0, 90.0))
    batch = anpr_batch(spark, [anpr_read(1), anpr_read(2, longitude=2.35, latitude=48.85)])  # one read in Paris
    reference = QualityReference(now=NOW)
    runs = [
        validate_batch(batch, SILVER_ANPR_READS, cfg, run_id=f"r{i}", reference=reference, build_docs=False)
        for i, cfg in enumerate((london, everywhere, london))
    ]
    assert [r.success for r in runs] == [False, True, False]
    assert by_check(runs[2].failures) == {("region_bbox", "longitude"): 1, ("region_bbox", "latitude"): 1}
