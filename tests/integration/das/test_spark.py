"""Spark's logs: warnings reach stderr (the task log under Airflow); the start-up noise nobody can act on does not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from das.spark import write_log4j_config

CHILD = """
from das.spark import build_spark
spark = build_spark()
log = spark.sparkContext._jvm.org.apache.logging.log4j.LogManager.getLogger("das.probe")
log.warn("probe warning from the JVM")
log.info("probe info from the JVM")
spark.range(3).count()
spark.stop()
print("DONE")
"""


def test_spark_warnings_reach_stderr_and_start_up_noise_does_not(tmp_path: Path) -> None:
    script = tmp_path / "spark_child.py"  # a file, not -c: pyspark.sql.connect exits when __main__ has none
    script.write_text(CHILD)
    env = {**os.environ, "DAS_HOME": str(tmp_path / "home"), "DAS_SPARK_DRIVER_MEMORY": "1g"}
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "DONE" in done.stdout, done.stderr[-3000:]
    assert "WARN spark probe: probe warning from the JVM" in done.stderr
    assert "probe info from the JVM" not in done.stderr  # WARN by default
    for noise in ("NativeCodeLoader", "Using Spark's default log4j profile", "resolves to a loopback address"):
        assert noise not in done.stderr, noise


def test_the_log4j_configuration_follows_the_level(tmp_path: Path) -> None:
    assert "rootLogger.level = info" in write_log4j_config(tmp_path, "INFO").read_text()
    assert "rootLogger.level = error" in write_log4j_config(tmp_path, "ERROR").read_text()
