"""One typed settings object, read from ``DAS_*`` environment variables and an optional ``.env``.

Every service location is a setting, so the same code runs on the embedded local setup (no
configuration at all) and on a cluster (Spark master, object-store lake root, managed PostGIS).
Nested groups use ``__``: ``DAS_CLONED_PLATE__MAX_SPEED_KMH=180``.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from schemas.governance import API_LOGIN

PACKAGE_DIR = Path(__file__).resolve().parent
SAMPLES_DIR = PACKAGE_DIR / "samples"  # package data: real public samples and the default boundaries

# Greater London is about -0.51..0.33 lon, 51.28..51.69 lat; the default adds a margin.
GREATER_LONDON_BBOX = (-0.65, 51.20, 0.45, 51.80)


class IngestLimits(BaseModel):
    """What one landing file may cost. Over ``max_decompressed_bytes`` or ``max_fields`` the file is quarantined
    whole (``limit_exceeded``); a record over ``max_record_bytes`` (a JSON Lines line), ``max_field_chars`` or
    ``max_depth`` (JSON nesting) is quarantined alone (``malformed_row``)."""

    max_decompressed_bytes: int = 16 << 30
    max_record_bytes: int = 1 << 20
    max_field_chars: int = 1 << 16
    max_depth: int = 32
    max_fields: int = 1_000


class RetentionPolicy(BaseModel):
    """How long each kind of data is kept (days); ``das retention run`` and the retention DAG delete what is older
    and vacuum it away. Reads are personal data (DPA 2018 Part 3): 12 months, as the national ANPR service."""

    anpr_days: int = 365  # bronze and silver reads, their PostGIS day partitions
    video_events_days: int = 365  # video-analytics detections, the same way (by detection date)
    crimes_days: int | None = None  # None: kept (police.uk data is public)
    quarantine_days: int = 30  # rejected rows of every source (raw records included)
    flags_days: int | None = None  # None: flags stay; evidence of expired reads is marked expired
    audit_days: int = 2557  # 7 years
    work_folders_hours: float = 24.0  # leftovers of killed runs and stale staging folders


class MaintenancePolicy(BaseModel):
    vacuum_retention_hours: int = 168  # time travel stays possible for a week
    quality_keep_days: int = 30  # Great Expectations results and Data Docs pages
    archive_after_hours: float = 24.0  # ingested landing files move to <landing>/_archive after this


class AlertSettings(BaseModel):
    """Where failure alerts and new flags go: a signed webhook and/or email. Unset: the log only.

    New flags at or above ``flag_min_score`` (and every hotlist hit) are sent once each, by the notifier that
    runs in ``das serve`` (or ``das notify``); ``flag_types`` limits which types are sent (empty = all).
    """

    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "das@localhost"
    smtp_to: list[str] = []
    flag_min_score: float = Field(default=0.8, ge=0, le=1)
    flag_types: list[str] = []
    flag_poll_seconds: float = Field(default=2.0, gt=0, le=300)


class HotlistHitParams(BaseModel):
    fuzzy_enabled: bool = True
    fuzzy_score_factor: float = 0.6  # a fuzzy hit scores at most this share of an exact hit
    priority_scores: dict[str, float] = {"high": 1.0, "medium": 0.75, "low": 0.5}
    min_confidence: float = 0.0
    retro_days: int = 365  # retro-hits look back this far, capped by retention


class ClonedPlateParams(BaseModel):
    max_speed_kmh: float = 160.0
    min_separation_m: float = 1000.0
    clock_skew_s: float = 60.0
    min_confidence: float = 0.7  # reads below this are discounted (ignored)
    detour_factor: float = 1.0  # straight-line distance is already a lower bound on road distance


class ConvoyParams(BaseModel):
    delta_t_s: float = 90.0
    min_cameras: int = 4
    min_occasions: int = 2
    occasion_gap_s: float = 3600.0  # co-reads more than this apart are separate occasions
    # A convoy moves together: on min_occasions occasions it passes two successive cameras together, the
    # two reads of each vehicle at most this far apart.
    segment_max_s: float = 1200.0
    min_lift: float = 5.0
    # Share of the two plates' reads made together (Ochiai, 0..1): vehicles that merely cross paths
    # (fleet vehicles roaming the same area all day) co-read a few times out of many reads.
    min_together: float = 0.5
    # A convoy keeps station: between successive cameras the (signed) gap between the vehicles changes by
    # seconds. Company met by chance on one road overtakes and drifts (ranking only, not a threshold).
    formation_tolerance_s: float = Field(default=20.0, ge=0)
    max_plates_per_camera_window: int = 200  # guards the self-join on very busy cameras

    @model_validator(mode="after")
    def _segment_within_an_occasion(self) -> ConvoyParams:
        if self.segment_max_s >= self.occasion_gap_s:
            raise ValueError(
                f"convoy segment_max_s ({self.segment_max_s:g}) must be below occasion_gap_s "
                f"({self.occasion_gap_s:g}): two successive cameras passed together belong to one occasion"
            )
        return self


class VehicleNearCrimesParams(BaseModel):
    radius_m: float = 500.0
    window_min: float = 30.0
    min_crimes: int = 2  # separate occasions (crimes close in space and time are one)
    max_window_hours: float = 24.0  # crimes whose time window is wider than this cannot take part
    occasion_gap_min: float = 60.0  # crimes within radius_m whose windows come this close are one occasion
    fdr_alpha: float = 0.05  # Benjamini-Hochberg over every plate seen
    min_baseline_hours: float = 24.0  # the crime rate's period is at least this long
    # Shares of radius_m and window_min at which chance is also judged (closer matches are rarer by chance);
    # the smallest p counts, times the number of scales (Bonferroni).
    closeness_scales: list[float] = [1.0, 0.5, 0.25]

    @field_validator("closeness_scales")
    @classmethod
    def _scales_within_the_window(cls, scales: list[float]) -> list[float]:
        if not scales or any(not 0 < s <= 1 for s in scales) or 1.0 not in scales:
            raise ValueError(
                f"closeness_scales must be shares of radius_m and window_min in (0, 1], 1.0 among them; got {scales}"
            )
        return sorted(set(scales), reverse=True)


class NearRepeatParams(BaseModel):
    distance_m: float = 200.0
    days: int = 14
    crime_types: list[str] = ["burglary"]
    knox_permutations: int = 199
    knox_distance_bands_m: list[float] = [0, 200, 400, 600, 800, 1000]
    knox_day_bands: list[int] = [0, 7, 14, 21, 28]
    lookback_days: int = 60
    seed: int = 7


class EmergingHotspotParams(BaseModel):
    h3_resolution: int = 8  # always DAS_H3_RESOLUTION (jobs.detectors.detector_params); a different value is refused
    baseline_weeks: int = 4
    fdr_alpha: float = 0.05
    min_count: int = 3


class CameraSilentParams(BaseModel):
    hours: int = 2
    drop_ratio: float = 0.1  # "far below": under this share of the camera's own hourly baseline
    baseline_days: int = 7
    min_baseline_per_hour: float = 2.0  # quieter cameras cannot be judged silent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DAS_", env_file=".env", env_nested_delimiter="__", extra="ignore")

    home: Path = Path(".das")
    landing_dir: Path | None = None
    lake_root: str | None = None
    lake_backend: Literal["auto", "delta-rs", "delta-spark"] = "auto"
    delta_jars: Annotated[list[str], NoDecode] = Field(default_factory=list)

    pg_host: str = "127.0.0.1"
    pg_port: int = 55432
    pg_user: str = "das"
    pg_database: str = "das"
    airflow_database: str = "airflow"
    database_url: str | None = None
    airflow_database_url: str | None = None
    api_database_url: str | None = None  # das serve's login (das_api); local setup: generated password
    pg_bin_dir: Path | None = None
    pg_password: SecretStr | None = None  # the pipeline role's; local setup: generated into DAS_HOME/secrets
    pseudonym_key: SecretStr | None = None  # plate pseudonyms; local setup: generated into DAS_HOME/secrets

    locks_dir_setting: Path | None = Field(default=None, alias="DAS_LOCKS_DIR")
    lock_timeout_s: float = 3600.0

    spark_master: str = "local[*]"
    spark_driver_memory: str = "4g"
    spark_shuffle_partitions: int = 8
    spark_conf: dict[str, str] = Field(default_factory=dict)
    # Where a cluster's reliable checkpoints go (jobs.detectors.common.checkpointed): storage the driver and
    # every executor share (hdfs://, s3a://, NFS). Default DAS_HOME/spark-checkpoints: right for one machine.
    spark_checkpoint_dir: str | None = None
    # Spark's own log level (to stderr: under Airflow that is the task log). Known start-up noise is held back.
    spark_log_level: Literal["ERROR", "WARN", "INFO", "DEBUG"] = "WARN"

    region_bbox: Annotated[tuple[float, float, float, float], NoDecode] = GREATER_LONDON_BBOX
    # One H3 resolution everywhere: ingest's h3_cell, crimes_per_cell_week, hotspot cells, das.h3_cells.
    # 8 (~0.74 km² cells, ~460 m edge): enough crimes per cell-week for the hotspot statistics to have power.
    h3_resolution: int = 8
    clock_skew_tolerance_s: int = 300
    retention_days: int = 365
    volume_baseline_days: int = 7
    volume_min_ratio: float = 0.2
    volume_max_ratio: float = 5.0
    anpr_schedule_minutes: int = 5
    detection_days: int = 1  # detectors look at the latest N days of reads (camera_silent adds its baseline)

    ingest: IngestLimits = IngestLimits()
    retention: RetentionPolicy = RetentionPolicy()
    maintenance: MaintenancePolicy = MaintenancePolicy()
    alerts: AlertSettings = AlertSettings()
    schedules: dict[str, str] = Field(default_factory=dict)  # DAG id -> cron or preset, over the specs' defaults
    task_timeout_minutes: int = 120  # every task's execution_timeout
    spark_pool_slots: int = 1  # Airflow pool das_spark: Spark applications at once (1 on a 2-core machine)
    postgis_pool_slots: int = 4  # Airflow pool das_postgis: publishing tasks at once
    dagrun_timeout_minutes: int = 240
    hotlist_hit: HotlistHitParams = HotlistHitParams()
    cloned_plate: ClonedPlateParams = ClonedPlateParams()
    convoy: ConvoyParams = ConvoyParams()
    vehicle_near_crimes: VehicleNearCrimesParams = VehicleNearCrimesParams()
    near_repeat: NearRepeatParams = NearRepeatParams()
    emerging_hotspot: EmergingHotspotParams = EmergingHotspotParams()
    camera_silent: CameraSilentParams = CameraSilentParams()

    @field_validator("delta_jars", mode="before")
    @classmethod
    def _split_jars(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("region_bbox", mode="before")
    @classmethod
    def _parse_bbox(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",")]
            if len(parts) != 4:
                raise ValueError(
                    "DAS_REGION_BBOX must be 'min_lon,min_lat,max_lon,max_lat', "
                    f"for example '-0.65,51.2,0.45,51.8'; got {value!r}"
                )
            value = tuple(float(p) for p in parts)
        if isinstance(value, (tuple, list)) and len(value) == 4:
            min_lon, min_lat, max_lon, max_lat = (float(v) for v in value)
            if not (min_lon < max_lon and min_lat < max_lat):
                raise ValueError(f"DAS_REGION_BBOX has min >= max: {value!r}")
        return value

    # Derived locations. Everything local lives under home.
    @property
    def home_abs(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def landing(self) -> Path:
        return (self.landing_dir or self.home_abs / "landing").expanduser().resolve()

    @property
    def lake(self) -> str:
        if self.lake_root:
            return self.lake_root if "://" in self.lake_root else str(Path(self.lake_root).resolve())
        return str(self.home_abs / "lake")

    @property
    def pg_data_dir(self) -> Path:
        return self.home_abs / "pg"

    @property
    def airflow_home(self) -> Path:
        return self.home_abs / "airflow"

    @property
    def locks_dir(self) -> Path:
        return (self.locks_dir_setting or self.home_abs / "locks").expanduser().resolve()

    @property
    def logs_dir(self) -> Path:
        return self.home_abs / "logs"

    @property
    def data_docs_dir(self) -> Path:
        return self.home_abs / "data_docs"

    @property
    def checkpoints_dir(self) -> Path:
        return self.home_abs / "checkpoints"

    def local_password(self, role: str) -> str | None:
        """A local role's password: DAS_PG_PASSWORD for the pipeline's role, else its generated secret file."""
        if role == self.pg_user and self.pg_password is not None:
            return self.pg_password.get_secret_value()
        path = self.home_abs / "secrets" / f"pg-{role}.password"
        return path.read_text(encoding="utf-8").strip() if path.exists() else None

    def _local_url(self, role: str, database: str) -> str:
        password = self.local_password(role)
        credentials = f"{quote(role, safe='')}:{quote(password, safe='')}" if password else quote(role, safe="")
        return f"postgresql+psycopg2://{credentials}@{self.pg_host}:{self.pg_port}/{database}"

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or self._local_url(self.pg_user, self.pg_database)

    @property
    def airflow_role(self) -> str:
        return "das_airflow"

    @property
    def airflow_sqlalchemy_url(self) -> str:
        return self.airflow_database_url or self._local_url(self.airflow_role, self.airflow_database)

    @property
    def libpq_dsn(self) -> str:
        """The database URL in the form psycopg2 takes."""
        return self.sqlalchemy_url.replace("postgresql+psycopg2://", "postgresql://", 1)

    @property
    def api_libpq_dsn(self) -> str:
        """Where ``das serve`` connects: as das_api, which acts only in the group role of each request's user."""
        url = self.api_database_url or self._local_url(API_LOGIN, self.pg_database)
        return url.replace("postgresql+psycopg2://", "postgresql://", 1)

    @property
    def uses_local_postgres(self) -> bool:
        return self.database_url is None


def detector_version(flag_type: str, params: BaseModel) -> str:
    """Detector name plus a short fingerprint of its parameters: a parameter change is visible in gold."""
    canonical = json.dumps(params.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return f"{flag_type}@{hashlib.sha256(canonical.encode()).hexdigest()[:10]}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    """Tests change ``DAS_*`` variables; this makes the next ``get_settings()`` re-read them."""
    get_settings.cache_clear()


def ensure_local_dirs(settings: Settings) -> None:
    for path in (settings.home_abs, settings.landing, settings.logs_dir, settings.airflow_home):
        path.mkdir(parents=True, exist_ok=True)
    if "://" not in settings.lake:
        Path(settings.lake).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("AIRFLOW_HOME", str(settings.airflow_home))
