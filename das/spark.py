"""Spark session factory: local[*] by default, any master from config."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from pyspark.sql import SparkSession

from das.config import Settings, get_settings
from das.errors import ServiceError


def _check_java() -> None:
    java_home = os.environ.get("JAVA_HOME")
    java = Path(java_home, "bin", "java") if java_home else shutil.which("java")
    if not java or not Path(java).exists():
        raise ServiceError(
            "Java 17+ is needed by Spark and was not found: install Debian 'openjdk-17-jre-headless' "
            "(make setup does this as root) or set JAVA_HOME"
        )


def delta_jars_available(settings: Settings) -> bool:
    """True when delta-spark jars are supplied as local files (DAS_DELTA_JARS)."""
    return bool(settings.delta_jars) and all(Path(j).is_file() for j in settings.delta_jars)


def build_spark(settings: Settings | None = None, app_name: str = "das") -> SparkSession:
    """Return the process's Spark session, creating it from settings the first time."""
    settings = settings or get_settings()
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    _check_java()
    # Workers must run the same interpreter as the driver (the project's virtualenv).
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    local_dir = settings.home_abs / "spark-tmp"
    local_dir.mkdir(parents=True, exist_ok=True)
    builder = (
        SparkSession.builder.master(settings.spark_master)
        .appName(app_name)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.execution.arrow.pyspark.fallback.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.sql.shuffle.partitions", str(settings.spark_shuffle_partitions))
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.driver.memory", settings.spark_driver_memory)
        .config("spark.local.dir", str(local_dir))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.sources.partitionOverwriteMode", "dynamic")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.sql.warehouse.dir", str(settings.home_abs / "spark-warehouse"))
    )
    if delta_jars_available(settings):
        builder = (
            builder.config("spark.jars", ",".join(settings.delta_jars))
            .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
            .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        )
    for key, value in settings.spark_conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("FATAL")  # errors reach Python as exceptions
    return spark
