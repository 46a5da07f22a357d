"""docker-compose.yaml: valid against the Compose Specification and shaped like the official Airflow 3 layout.

The schema is vendored (see compose_spec.SOURCE.md), so no network is needed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft201909Validator

from include.settings import PROJECT_ROOT

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yaml"
SCHEMA_FILE = Path(__file__).with_name("compose_spec.json")
LOCK_FILE = PROJECT_ROOT / "requirements" / "lock.txt"
AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def locked_airflow_version() -> str:
    match = re.search(r"^apache-airflow==([\w.]+)$", LOCK_FILE.read_text(), flags=re.MULTILINE)
    assert match, f"{LOCK_FILE} has no apache-airflow== pin"
    return match.group(1)


def test_compose_file_matches_the_compose_specification(compose):
    errors = sorted(Draft201909Validator(json.loads(SCHEMA_FILE.read_text())).iter_errors(compose), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_schema_rejects_an_invalid_service():
    schema = json.loads(SCHEMA_FILE.read_text())
    assert not Draft201909Validator(schema).is_valid({"services": {"broken": {"healthcheck": {"tests": "x"}}}})


def test_airflow_image_version_equals_the_lock(compose):
    version = locked_airflow_version()
    base_image = compose["x-airflow-common"]["build"]["args"]["AIRFLOW_BASE_IMAGE"]
    assert base_image == f"apache/airflow:{version}-python3.12"
    assert f"{version}-python3.12" in compose["x-airflow-common"]["image"]
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert f"ARG AIRFLOW_BASE_IMAGE=apache/airflow:{version}-python3.12" in dockerfile
    assert f"airflow-constraints-{version}-python3.12.txt" in dockerfile


def test_services_follow_the_airflow_layout_with_healthchecks(compose):
    services = compose["services"]
    assert set(services) >= {"postgres", "airflow-init", "model-server", *AIRFLOW_SERVICES}
    assert services["postgres"]["image"].startswith("postgres:16")
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"service {name} has no healthcheck"
    for name in AIRFLOW_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["airflow-init"] == {"condition": "service_completed_successfully"}, name
        assert depends["postgres"] == {"condition": "service_healthy"}, name


def test_airflow_environment_is_local_executor_with_the_project_mounted(compose):
    common = compose["x-airflow-common"]
    environment = common["environment"]
    assert environment["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert environment["PYTHONPATH"] == "/opt/airflow"
    mounts = {volume.split(":")[1]: volume for volume in common["volumes"]}
    for folder in ("dags", "include", "programs", "plugins", "lambdas"):
        assert mounts[f"/opt/airflow/{folder}"].startswith(f"./{folder}:")
    assert environment["SCONES_DATA_ROOT"] in mounts
    assert mounts["/home/airflow/.aws"].endswith(":ro")


def test_init_migrates_and_creates_the_sagemaker_pool(compose):
    script = compose["services"]["airflow-init"]["command"][-1]
    assert "airflow db migrate" in script
    assert "airflow pools set sagemaker_jobs" in script


def test_model_server_runs_the_projects_cli_where_tasks_reach_it(compose):
    from include.runtime.local.model_server import main as model_server_main

    assert callable(model_server_main)
    server = compose["services"]["model-server"]
    assert server["command"][:3] == ["python", "-m", "include.runtime.local.model_server"]
    arguments = dict(zip(server["command"][3::2], server["command"][4::2], strict=True))
    assert arguments == {"--port": "8085", "--state-dir": "/opt/airflow/.data/.work/model-server"}
    assert server["network_mode"] == server["pid"] == "service:airflow-scheduler"


def test_env_example_has_the_runtime_switch_and_no_credentials():
    text = (PROJECT_ROOT / ".env.example").read_text()
    assert re.search(r"^SCONES_RUNTIME=local$", text, flags=re.MULTILINE)
    assert "AWS_PROFILE=" in text
    assert not re.search(r"AWS_SECRET_ACCESS_KEY|AWS_ACCESS_KEY_ID|AWS_SESSION_TOKEN", text)
