"""Expectation suites generated from the table declarations (skeleton) plus domain rules.

Skeleton, from ``schemas.tables`` and nothing else: the column list, not-null for non-nullable
columns, the Spark type of every column, ``allowed_values`` sets and ``min_value``/``max_value``
ranges. Domain rules on top: coordinates inside ``settings.region_bbox``, read times neither in the
future (beyond clock skew) nor older than retention, cameras known, GB plate formats, batch volume.

Every expectation carries its check name and severity in ``meta`` (and GX's own ``severity``):
a failed ``critical`` expectation blocks publish, a failed ``warning`` is recorded only.
Values that change per run (now, known cameras, baseline volume) are suite parameters
(``{"$PARAMETER": name}``) that ``quality.validation`` fills in; so the suite itself is a pure
function of the declaration and the settings.

The type expectations use Spark type names: the suites validate Spark DataFrames.
"""

from __future__ import annotations

from typing import Any

from das.config import Settings
from quality.gx_context import gx
from schemas.model import Column, Table
from schemas.plates import GB_PLATE_PATTERN

gxe = gx.expectations

CRITICAL = "critical"
WARNING = "warning"

# Check names (``meta["check"]``): skeleton checks come from the declaration...
CHECK_COLUMNS = "columns_match_declaration"
CHECK_NOT_NULL = "not_null"
CHECK_TYPE = "type"
CHECK_ALLOWED_VALUES = "allowed_values"
CHECK_RANGE = "range"
SKELETON_CHECKS = (CHECK_COLUMNS, CHECK_NOT_NULL, CHECK_TYPE, CHECK_ALLOWED_VALUES, CHECK_RANGE)
# ...domain checks from the rules below.
CHECK_REGION_BBOX = "region_bbox"
CHECK_NOT_FUTURE = "not_future"
CHECK_WITHIN_RETENTION = "within_retention"
CHECK_KNOWN_CAMERA = "known_camera"
CHECK_PLATE_FORMAT = "plate_format"
CHECK_VOLUME = "volume"
CHECK_FACES_COVER_ALERTS = "faces_cover_alerts"

SEVERITY_BY_CHECK: dict[str, str] = {
    CHECK_COLUMNS: CRITICAL,
    CHECK_NOT_NULL: CRITICAL,
    CHECK_TYPE: CRITICAL,
    CHECK_ALLOWED_VALUES: CRITICAL,
    CHECK_RANGE: CRITICAL,  # includes confidence in [0, 1]
    CHECK_REGION_BBOX: CRITICAL,
    CHECK_NOT_FUTURE: CRITICAL,
    CHECK_WITHIN_RETENTION: CRITICAL,  # publishing reads past retention breaks the retention policy
    CHECK_KNOWN_CAMERA: CRITICAL,
    CHECK_PLATE_FORMAT: WARNING,  # personalised, trade and foreign-mislabelled plates exist
    CHECK_VOLUME: WARNING,
    CHECK_FACES_COVER_ALERTS: CRITICAL,  # an alert is a scanned face that matched: more alerts than faces is wrong
}

# Suite parameters filled in per run by quality.validation.
PARAM_EVENT_TIME_MAX = "event_time_max"
PARAM_EVENT_TIME_MIN = "event_time_min"
PARAM_KNOWN_CAMERA_IDS = "known_camera_ids"
PARAM_VOLUME_MIN_ROWS = "volume_min_rows"
PARAM_VOLUME_MAX_ROWS = "volume_max_rows"
# Checks that need reference data from the caller; without it they are left out of the run.
CHECK_NEEDS_PARAMETERS: dict[str, tuple[str, ...]] = {
    CHECK_NOT_FUTURE: (PARAM_EVENT_TIME_MAX,),
    CHECK_WITHIN_RETENTION: (PARAM_EVENT_TIME_MIN,),
    CHECK_KNOWN_CAMERA: (PARAM_KNOWN_CAMERA_IDS,),
    CHECK_VOLUME: (PARAM_VOLUME_MIN_ROWS, PARAM_VOLUME_MAX_ROWS),
}

# Domain rules name the columns they apply to; each is checked against the declaration.
BBOX_COLUMNS = ("longitude", "latitude")  # any table that has both
PLATE_COLUMN, COUNTRY_COLUMN = "plate", "country"  # any table that has both
FACES_COLUMN, ALERTS_COLUMN = "faces_scanned", "alerts"  # any table that has both (LFR deployment totals)
CAMERA_REFERENCE = "silver/cameras.camera_id"  # columns declared to reference it must name a known camera


def known_camera_column(table: Table) -> str | None:
    """The column of ``table`` declared to reference a camera, if any."""
    return next((c.name for c in table.columns if c.references == CAMERA_REFERENCE), None)


# Tables whose batches are compared with a volume baseline when the caller passes one.
VOLUME_CHECKED_LAYERS = ("silver",)


def suite_name(table: Table) -> str:
    return f"{table.layer}.{table.name}"


def build_suite(table: Table, settings: Settings) -> Any:
    """The table's suite: the skeleton generated from its declaration, then the domain rules."""
    return suite_of(table, [*skeleton_expectations(table), *domain_expectations(table, settings)])


def suite_of(table: Table, expectations: list[Any], name: str | None = None) -> Any:
    # Built in one go: add_expectation() on a suite would need (and write to) a GX context.
    return gx.ExpectationSuite(
        name=name or suite_name(table),
        expectations=expectations,
        meta={"table": table.qualified_name, "generated_from": "schemas.tables"},
    )


def _tagged(expectation: Any, check: str, source: str) -> Any:
    severity = SEVERITY_BY_CHECK[check]
    expectation.meta = {**(expectation.meta or {}), "check": check, "severity": severity, "source": source}
    expectation.severity = severity
    return expectation


def _column_expectations(column: Column) -> list[Any]:
    tag = "declaration"
    found: list[Any] = []
    if not column.nullable:
        found.append(_tagged(gxe.ExpectColumnValuesToNotBeNull(column=column.name), CHECK_NOT_NULL, tag))
    spark_type = type(column.spark_type()).__name__
    found.append(_tagged(gxe.ExpectColumnValuesToBeOfType(column=column.name, type_=spark_type), CHECK_TYPE, tag))
    if column.allowed_values is not None:
        found.append(
            _tagged(
                gxe.ExpectColumnValuesToBeInSet(column=column.name, value_set=list(column.allowed_values)),
                CHECK_ALLOWED_VALUES,
                tag,
            )
        )
    if column.min_value is not None or column.max_value is not None:
        found.append(
            _tagged(
                gxe.ExpectColumnValuesToBeBetween(
                    column=column.name, min_value=column.min_value, max_value=column.max_value
                ),
                CHECK_RANGE,
                tag,
            )
        )
    return found


def skeleton_expectations(table: Table) -> list[Any]:
    """Generated from the declaration only: change the declaration and these follow."""
    found = [
        _tagged(
            gxe.ExpectTableColumnsToMatchOrderedList(column_list=table.column_names),
            CHECK_COLUMNS,
            "declaration",
        )
    ]
    for column in table.columns:
        found.extend(_column_expectations(column))
    return found


def domain_expectations(table: Table, settings: Settings) -> list[Any]:
    tag = "domain"
    names = set(table.column_names)
    found: list[Any] = []

    if set(BBOX_COLUMNS) <= names:
        min_lon, min_lat, max_lon, max_lat = settings.region_bbox
        for column, low, high in (("longitude", min_lon, max_lon), ("latitude", min_lat, max_lat)):
            found.append(
                _tagged(
                    gxe.ExpectColumnValuesToBeBetween(
                        column=column,
                        min_value=low,
                        max_value=high,
                        description=f"{column} inside the region bounding box (DAS_REGION_BBOX)",
                    ),
                    CHECK_REGION_BBOX,
                    tag,
                )
            )

    event_time = table.event_time
    if event_time:
        found.append(
            _tagged(
                gxe.ExpectColumnValuesToBeBetween(
                    column=event_time,
                    max_value={"$PARAMETER": PARAM_EVENT_TIME_MAX},
                    description=(
                        f"{event_time} not later than now + {settings.clock_skew_tolerance_s} s "
                        "(DAS_CLOCK_SKEW_TOLERANCE_S)"
                    ),
                ),
                CHECK_NOT_FUTURE,
                tag,
            )
        )
        found.append(
            _tagged(
                gxe.ExpectColumnValuesToBeBetween(
                    column=event_time,
                    min_value={"$PARAMETER": PARAM_EVENT_TIME_MIN},
                    description=(
                        f"{event_time} not older than now - {settings.retention_days} days (DAS_RETENTION_DAYS)"
                    ),
                ),
                CHECK_WITHIN_RETENTION,
                tag,
            )
        )

    camera = known_camera_column(table)
    if camera:
        found.append(
            _tagged(
                gxe.ExpectColumnValuesToBeInSet(
                    column=camera,
                    value_set={"$PARAMETER": PARAM_KNOWN_CAMERA_IDS},
                    description=f"every {camera} is a known camera",
                ),
                CHECK_KNOWN_CAMERA,
                tag,
            )
        )

    if {PLATE_COLUMN, COUNTRY_COLUMN} <= names:
        found.append(
            _tagged(
                gxe.ExpectColumnValuesToMatchRegex(
                    column=PLATE_COLUMN,
                    regex=GB_PLATE_PATTERN,
                    row_condition=f"{COUNTRY_COLUMN} = 'GB'",
                    condition_parser="spark",
                    description="plates of country GB have a GB format (schemas.plates.GB_PLATE_PATTERN)",
                ),
                CHECK_PLATE_FORMAT,
                tag,
            )
        )

    if {FACES_COLUMN, ALERTS_COLUMN} <= names:
        found.append(
            _tagged(
                gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                    column_A=FACES_COLUMN,
                    column_B=ALERTS_COLUMN,
                    or_equal=True,
                    ignore_row_if="either_value_is_missing",  # faces not reported yet
                    description="a deployment's faces scanned are at least its alerts",
                ),
                CHECK_FACES_COVER_ALERTS,
                tag,
            )
        )

    if table.layer in VOLUME_CHECKED_LAYERS:
        found.append(
            _tagged(
                gxe.ExpectTableRowCountToBeBetween(
                    min_value={"$PARAMETER": PARAM_VOLUME_MIN_ROWS},
                    max_value={"$PARAMETER": PARAM_VOLUME_MAX_ROWS},
                    description=(
                        f"batch rows between {settings.volume_min_ratio} and {settings.volume_max_ratio} x "
                        f"the trailing {settings.volume_baseline_days}-day baseline"
                    ),
                ),
                CHECK_VOLUME,
                tag,
            )
        )
    return found


def expectation_check(expectation_config: Any) -> tuple[str, str]:
    """(check name, severity) of an expectation or its configuration, from its meta."""
    meta = getattr(expectation_config, "meta", None) or {}
    check = meta.get("check") or getattr(expectation_config, "type", None) or expectation_config.expectation_type
    return check, meta.get("severity", SEVERITY_BY_CHECK.get(check, CRITICAL))
