"""jobs.detectors.common.checkpointed on a Spark standalone cluster: a cut frame outlives the executor that
computed it. A local checkpoint does not (CHECKPOINT_RDD_BLOCK_ID_NOT_FOUND): CI lost convoy's run that way."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from das_tools.localstack import spark_cluster

# A child process: this test process already holds a local[*] session, and a process has one.
CHILD = textwrap.dedent(
    """
    import os, signal, subprocess, sys, time
    from pyspark.sql import functions as F
    from das.config import Settings
    from das.spark import build_spark
    from jobs.detectors.common import checkpointed

    master, home = sys.argv[1], sys.argv[2]
    conf = {"spark.executor.memory": "512m", "spark.driver.host": "127.0.0.1"}
    spark = build_spark(Settings(home=home, spark_master=master, spark_conf=conf))
    cut = checkpointed(spark.range(0, 200_000, numPartitions=4).withColumn("v", F.col("id") * 2))
    executors = subprocess.run(["pgrep", "-f", "CoarseGrainedExecutorBackend.*" + spark.sparkContext.applicationId],
                               capture_output=True, text=True).stdout.split()
    assert len(executors) == 2, executors
    os.kill(int(executors[0]), signal.SIGKILL)
    time.sleep(2)
    print("sum", cut.agg(F.sum("v")).first()[0])
    spark.stop()
    """
)


def test_a_checkpointed_frame_survives_the_loss_of_an_executor(tmp_path: Path) -> None:
    with spark_cluster.running(tmp_path / "spark", workers=2, cores=1, memory="1g") as cluster:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, cluster.master_url, str(tmp_path / "home")],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-3000:] + "\nexecutors:\n" + cluster.executor_logs()
        assert "--- worker-" in cluster.executor_logs()
    assert f"sum {sum(range(200_000)) * 2}" in done.stdout
    assert any((tmp_path / "home" / "spark-checkpoints").iterdir()), "the cut was not written to spark.checkpoint.dir"
