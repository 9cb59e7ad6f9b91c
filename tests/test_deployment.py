"""The deployment files: compose.yaml passes `docker compose config` where Docker is installed,
and, everywhere, has the shape docs/deploy.md describes; the image runs `kameng serve` as a user
other than root. No image is built here."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from kameng.settings import environment_variables

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
EXAMPLE_SECRETS = {"KAMENG_SECRET_KEY": "x" * 48, "POSTGRES_PASSWORD": "compose-check"}


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


def _docker_compose_problem() -> str | None:
    if shutil.which("docker") is None:
        return "docker is not installed"
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return "docker is installed without the compose plugin"
    return None


def test_docker_compose_accepts_the_compose_file() -> None:
    problem = _docker_compose_problem()
    if problem:
        pytest.skip(f"{problem}: `docker compose config` cannot run here")
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        env={**os.environ, **EXAMPLE_SECRETS},
        check=False,
    )

    assert result.returncode == 0, result.stderr


def test_compose_runs_the_migrations_once_before_the_api_and_the_worker() -> None:
    services = _compose()["services"]

    assert set(services) == {"postgres", "redis", "migrate", "api", "worker"}
    assert services["migrate"]["command"] == ["kameng", "db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert services["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert services["api"]["command"] == ["kameng", "serve"]
    assert services["worker"]["command"] == ["kameng", "worker"]


def test_compose_sets_only_real_settings_and_runs_in_production_shape() -> None:
    environment = _compose()["x-kameng"]["environment"]

    unknown = [name for name in environment if name not in environment_variables()]
    assert unknown == []
    assert environment["KAMENG_ENV"] == "production"
    assert environment["KAMENG_EMBEDDED_WORKER"] == "0"
    assert environment["KAMENG_REDIS_URL"].startswith("redis://")
    assert "${KAMENG_SECRET_KEY:?" in environment["KAMENG_SECRET_KEY"]


def test_the_image_serves_as_a_user_other_than_root() -> None:
    lines = [line.strip() for line in DOCKERFILE.read_text(encoding="utf-8").splitlines()]
    users = [line.split()[1] for line in lines if line.startswith("USER ")]

    bases = [line for line in lines if line.startswith("FROM ")]
    assert bases[0].startswith("FROM python:3.11-slim")
    assert users
    assert users[-1] not in {"root", "0"}
    assert 'CMD ["kameng", "serve"]' in lines
    assert any("requirements.lock" in line for line in lines if line.startswith("RUN pip install"))
