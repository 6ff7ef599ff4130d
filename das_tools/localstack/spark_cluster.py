"""A Spark standalone cluster on this machine: one master and N workers, each its own JVM, from pyspark's own
``bin/spark-class`` (no Spark download). What ``DAS_SPARK_MASTER=spark://…`` is tested against.

The processes listen on 127.0.0.1 only and write their logs and work dirs under one folder; ``stop`` ends them
all. Each worker launches its own executor JVMs for an application, exactly as a real cluster's would, so the
driver's code, its Python functions and its data cross process boundaries the way they do in production.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from das.errors import ServiceError

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


def spark_class() -> Path:
    import pyspark

    path = Path(pyspark.__file__).parent / "bin" / "spark-class"
    if not path.exists():
        raise ServiceError(f"pyspark has no bin/spark-class at {path}: reinstall pyspark (make setup)")
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class StandaloneCluster:
    folder: Path
    port: int
    webui_port: int
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def master_url(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    def state(self) -> dict:  # type: ignore[type-arg]
        """The master's own JSON view: workers (with their state, cores, memory) and applications."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.webui_port}/json/", timeout=5) as answer:
            return dict(json.load(answer))

    def worker_dirs(self) -> list[Path]:
        return sorted(p for p in self.folder.glob("worker-*") if p.is_dir())

    def executor_dirs(self) -> list[Path]:
        """``<worker>/work/<app id>/<executor id>``: one per executor a worker launched."""
        return sorted(p for w in self.worker_dirs() for p in (w / "work").glob("app-*/*") if p.is_dir())

    def executor_logs(self, tail_chars: int = 1500) -> str:
        """The end of each executor's stderr: why one was lost (an OutOfMemoryError, a kill), for a failure report."""
        parts = []
        for folder in self.executor_dirs():
            stderr = folder / "stderr"
            text = stderr.read_text(errors="replace")[-tail_chars:] if stderr.exists() else "(no stderr)"
            parts.append(f"--- {folder.relative_to(self.folder)}\n{text}")
        return "\n".join(parts)

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in reversed(self.processes):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _environment(folder: Path) -> dict[str, str]:
    import pyspark

    return {
        **os.environ,
        "SPARK_HOME": str(Path(pyspark.__file__).parent),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOG_DIR": str(folder / "logs"),
        "SPARK_NO_DAEMONIZE": "1",
    }


def _launch(folder: Path, name: str, *args: str) -> subprocess.Popen[bytes]:
    log = (folder / f"{name}.log").open("wb")
    return subprocess.Popen(
        [str(spark_class()), *args], env=_environment(folder), stdout=log, stderr=subprocess.STDOUT, cwd=folder
    )


def _wait(condition, what: str, cluster: StandaloneCluster, timeout_s: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for process in cluster.processes:
            if process.poll() is not None:
                raise ServiceError(
                    f"a Spark standalone process exited with {process.returncode} while waiting for {what}: "
                    f"see the logs in {cluster.folder}"
                )
        try:
            if condition():
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise ServiceError(f"timed out after {timeout_s:.0f} s waiting for {what}: see the logs in {cluster.folder}")


def start(folder: Path, *, workers: int = 2, cores: int = 1, memory: str = "1g", timeout_s: float = 120.0
          ) -> StandaloneCluster:  # fmt: skip
    """Start a master and ``workers`` workers (``cores`` and ``memory`` each) and wait until all are alive."""
    folder.mkdir(parents=True, exist_ok=True)
    cluster = StandaloneCluster(folder, _free_port(), _free_port())
    try:
        cluster.processes.append(
            _launch(
                folder,
                "master",
                MASTER_CLASS,
                "--host",
                "127.0.0.1",
                "--port",
                str(cluster.port),
                "--webui-port",
                str(cluster.webui_port),
            )
        )
        _wait(lambda: cluster.state().get("status") == "ALIVE", "the master", cluster, timeout_s)
        for i in range(workers):
            work = folder / f"worker-{i}" / "work"
            work.mkdir(parents=True, exist_ok=True)
            cluster.processes.append(
                _launch(
                    folder,
                    f"worker-{i}",
                    WORKER_CLASS,
                    "--host",
                    "127.0.0.1",
                    "--cores",
                    str(cores),
                    "--memory",
                    memory,
                    "--webui-port",
                    str(_free_port()),
                    "--work-dir",
                    str(work),
                    cluster.master_url,
                )
            )

        def all_alive() -> bool:
            alive = [w for w in cluster.state().get("workers", []) if w.get("state") == "ALIVE"]
            return len(alive) == workers

        _wait(all_alive, f"{workers} workers to register", cluster, timeout_s)
    except BaseException:
        cluster.stop()
        raise
    return cluster


@contextmanager
def running(folder: Path, **options) -> Iterator[StandaloneCluster]:  # type: ignore[no-untyped-def]
    cluster = start(folder, **options)
    try:
        yield cluster
    finally:
        cluster.stop()
