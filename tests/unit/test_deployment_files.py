"""The container and Airflow deployment examples: their shape, and that no secret is written into them.

They are not run here (no Docker engine on the build machines); docs/deploy.md says so.
"""

from __future__ import annotations

import re

import yaml

from tests.conftest import REPO_ROOT

COMPOSE = REPO_ROOT / "infra" / "airflow" / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "infra" / "Dockerfile"
AIRFLOW_COMPONENTS = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"}


def test_every_airflow_component_runs_the_das_image_with_the_same_settings() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert AIRFLOW_COMPONENTS | {"airflow-init", "postgis"} <= set(services)
    for name in AIRFLOW_COMPONENTS | {"airflow-init"}:
        service = services[name]
        assert service["image"].startswith("${DAS_IMAGE:-das-airflow:"), name
        env = service["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] != "SequentialExecutor", name
        assert env["AIRFLOW_CONN_DAS_POSTGIS"].startswith("postgresql://"), name  # the Connection the tasks use
        assert {"DAS_LAKE_ROOT", "DAS_LANDING_DIR", "DAS_LOCKS_DIR", "DAS_PSEUDONYM_KEY"} <= set(env), name
    init = " ".join(services["airflow-init"]["command"])
    assert "airflow db migrate" in init and "airflow pools import" in init and "das up" in init


def test_no_secret_is_written_into_the_deployment_files() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|KEY", key) and value:
                assert str(value).startswith("${"), f"{name}.{key} holds a literal; take it from .env"
    for line in COMPOSE.read_text().splitlines():
        for password in re.findall(r"://[^:/@\s]+:([^@\s]+)@", line):
            assert password.startswith("${") or password.startswith("$${"), line
    env_example = (REPO_ROOT / "infra" / "airflow" / ".env.example").read_text()
    assert all(
        line.endswith("=") or not re.search(r"PASSWORD|SECRET|KEY", line.split("=")[0])
        for line in env_example.splitlines()
        if line and not line.startswith("#")
    )


def test_the_image_serves_the_dags_from_the_installed_package() -> None:
    text = DOCKERFILE.read_text()
    assert "FROM apache/airflow:" in text and "openjdk-17-jre-headless" in text
    assert "import dags" in text and "/opt/airflow/dags" in text  # no checkout in the image
    assert not re.search(r"COPY\s+(dags|das|jobs)/", text)
