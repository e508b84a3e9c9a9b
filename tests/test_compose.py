"""docker-compose.yml: valid without any environment variable, and wired as documented.

Runs `docker-compose -f docker-compose.yml config` (Debian's docker-compose, or the Compose v2
plugin as `docker compose`) and checks the resolved model; skipped when neither is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("streams", "worker", "worker-gpu", "sender")


def _compose_command() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker") and subprocess.run(
            ["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    return None


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    command = _compose_command()
    if command is None:
        pytest.skip("neither docker-compose nor the docker compose plugin is installed "
                    "(apt-get install docker-compose)")
    # Only PATH: proves that no variable (secret or not) must be set for the file to resolve.
    result = subprocess.run([*command, "-f", "docker-compose.yml", "config"], cwd=ROOT,
                            env={"PATH": os.environ["PATH"]}, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_services_are_all_there(compose):
    assert set(compose["services"]) >= {"kafka", "redis", "topic-init", "mailpit", "worker-llm",
                                        *APP_SERVICES}
    assert compose["services"]["kafka"]["image"].startswith("apache/kafka:")
    assert compose["services"]["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == (
        "broker,controller")  # KRaft, no ZooKeeper


@pytest.mark.parametrize("name", ["kafka", "redis", "mailpit", "sender"])
def test_healthchecks(compose, name):
    assert compose["services"][name]["healthcheck"]["test"]


@pytest.mark.parametrize("name", APP_SERVICES)
def test_services_wait_for_healthy_dependencies(compose, name):
    service = compose["services"][name]
    depends = service["depends_on"]
    assert depends["kafka"]["condition"] == "service_healthy"
    assert depends["redis"]["condition"] == "service_healthy"
    assert depends["topic-init"]["condition"] == "service_completed_successfully"
    env = service["environment"]
    assert (env["KAFKA_BOOTSTRAP_SERVERS"], env["REDIS_URL"]) == (
        "kafka:9092", "redis://redis:6379/0")


def test_commands(compose):
    services = compose["services"]
    assert services["streams"]["command"] == ["stream"]
    assert services["worker"]["command"] == ["worker", "--tier", "small"]
    assert services["worker-gpu"]["command"] == ["worker", "--tier", "large"]
    assert services["sender"]["command"] == ["send"]
    assert services["topic-init"]["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_cpu_workers_scale_and_the_gpu_worker_is_opt_in(compose):
    assert compose["services"]["worker"]["deploy"]["replicas"] >= 1
    gpu = compose["services"]["worker-gpu"]
    assert gpu["profiles"] == ["gpu"]
    assert "-DGGML_CUDA=on" in gpu["build"]["args"]["CMAKE_ARGS"]
    assert str(gpu["environment"]["OUTREACH_MODEL__N_GPU_LAYERS"]) == "-1"
    device = gpu["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]


def test_sender_mails_to_mailpit_by_default(compose):
    sender = compose["services"]["sender"]
    assert sender["environment"]["OUTREACH_SENDER__SMTP_HOST"] == "mailpit"
    assert str(sender["environment"]["OUTREACH_SENDER__SMTP_PORT"]) == "1025"
    assert sender["depends_on"]["mailpit"]["condition"] == "service_healthy"
    assert sender["stop_grace_period"] == "45s"  # longer than one SMTP timeout (30 s)


def test_no_secret_has_a_value(compose):
    secrets = {"OUTREACH_LLM__API_KEY", "OUTREACH_SENDER__SMTP_PASSWORD",
               "OUTREACH_SENDER__SMTP_USER", "GF_SECURITY_ADMIN_PASSWORD"}
    for name, service in compose["services"].items():
        env = service.get("environment") or {}
        for key in secrets & set(env):
            assert not env[key], f"{name} carries a value for {key}"


def test_retrain_is_a_scheduled_opt_in_job_sharing_the_registry_with_workers(compose):
    services = compose["services"]
    retrain = services["retrain"]
    assert retrain["profiles"] == ["retrain"]
    assert retrain["command"] == ["retrain", "--every", "24h"]
    assert "training" in retrain["build"]["args"]["EXTRAS"]
    registry = retrain["environment"]["OUTREACH_REGISTRY__URI"]
    assert registry == services["worker"]["environment"]["OUTREACH_REGISTRY__URI"]
    # The job writes the registry volume; workers only read it.
    assert ("/models", False) in [_mount(v) for v in retrain["volumes"]]
    assert [_mount(v) for v in services["worker"]["volumes"]] == [("/models", True)]


def _mount(volume: str | dict[str, Any]) -> tuple[str, bool]:
    """(target, read_only) of a volume in either form compose prints: "src:dst:ro" (v1) or a
    mapping (v2)."""
    if isinstance(volume, dict):
        return volume["target"], bool(volume.get("read_only"))
    parts = volume.split(":")
    return parts[1], len(parts) > 2 and "ro" in parts[2].split(",")
