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
    log_config = write_log4j_config(local_dir, settings.spark_log_level)
    if settings.spark_master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # one machine: no "resolves to a loopback" warning
    java_options = f"-Duser.timezone=UTC -Dlog4j2.configurationFile={log_config.as_uri()}"
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
        .config("spark.driver.extraJavaOptions", java_options)
        .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
        .config("spark.sql.warehouse.dir", str(settings.home_abs / "spark-warehouse"))
        .config("spark.checkpoint.dir", settings.spark_checkpoint_dir or str(settings.home_abs / "spark-checkpoints"))
        .config("spark.cleaner.referenceTracking.cleanCheckpoints", "true")
    )
    if delta_jars_available(settings):
        builder = (
            builder.config("spark.jars", ",".join(settings.delta_jars))
            .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
            .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        )
    for key, value in settings.spark_conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


# Warnings and errors to stderr (the task log under Airflow, the console under the CLI); the start-up lines
# that are expected on every machine without Hadoop's native libraries are not warnings anyone can act on.
LOG4J2_TEMPLATE = """\
status = error
rootLogger.level = {level}
rootLogger.appenderRef.stderr.ref = stderr
appender.stderr.type = Console
appender.stderr.name = stderr
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = %d{{yyyy-MM-dd'T'HH:mm:ss.SSSXXX}} %p spark %c{{1}}: %m%n%ex
logger.native.name = org.apache.hadoop.util.NativeCodeLoader
logger.native.level = error
logger.conf.name = org.apache.spark.SparkConf
logger.conf.level = error
logger.parquet.name = org.apache.parquet
logger.parquet.level = error
"""


def write_log4j_config(folder: Path, level: str) -> Path:
    path = folder / f"log4j2-{level.lower()}.properties"
    text = LOG4J2_TEMPLATE.format(level=level.lower())
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path
