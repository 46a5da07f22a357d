"""Deployment guardrails offline: ``scones_deploy``'s local task updates a live endpoint on the local model server
with the settings' canary, while traffic flows. A healthy canary bakes each step and ends serving the new model;
one whose new model answers with server errors, or too slowly, rolls back during its bake, the old model keeps
serving, and the task fails as for any rollback.

The models are tiny handlers (no torch) that answer with their own name, so every answer says which model served
it; the smoke prediction at load time (a PNG) always succeeds, as a model that loads and then fails on traffic does.
"""

from __future__ import annotations

import json
import tarfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest

from include.builders.deploy import endpoint_deployment_config
from include.runtime.endpoint_checks import EndpointRollbackError
from include.runtime.local.model_server_control import describe_endpoint, stop_server
from include.runtime.local.serving import LocalEndpointOperator, LocalServedModels, model_server_url
from include.runtime.local.store import LocalObjectStore
from include.settings import get_settings
from tests.serving_flow.support import free_port, model_version_record

CONTEXT = {"ti": SimpleNamespace(try_number=1)}
HANDLER = '''
import json, os, time

def model_fn(model_dir):
    with open(os.path.join(model_dir, "behaviour.json")) as handle:
        return json.load(handle)

def input_fn(body, content_type):
    return body

def predict_fn(data, model):
    if data.startswith(b"\\x89PNG"):
        return {"model": model["name"]}
    if model.get("fails"):
        raise RuntimeError(model["name"] + " cannot classify this")
    time.sleep(model.get("seconds", 0))
    return {"model": model["name"]}

def output_fn(prediction, accept):
    return json.dumps(prediction), "application/json"
'''
CANARY = {"SCONES_DEPLOY__TRAFFIC_ROUTING": "CANARY", "SCONES_DEPLOY__TRAFFIC_STEP_PERCENT": "20",
          "SCONES_DEPLOY__INITIAL_INSTANCE_COUNT": "2"}


@pytest.fixture(scope="module")
def server_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("guardrails")
    patch = pytest.MonkeyPatch()
    for name, value in {"SCONES_RUNTIME": "local", "SCONES_DATA_ROOT": str(folder / "data"),
                        "SCONES_DEPLOY__LOCAL_SERVER_PORT": str(free_port()), **CANARY}.items():
        patch.setenv(name, value)
    get_settings.cache_clear()
    data_root = get_settings().data_root
    try:
        yield folder
    finally:
        stop_server(data_root / ".work" / "model-server")
        patch.undo()
        get_settings.cache_clear()


@pytest.fixture
def deploy_settings(server_env, monkeypatch):
    """Set ``[deploy]`` overrides for this test (on top of the module's canary) and return the settings."""

    def apply(**deploy: str):
        for name, value in deploy.items():
            monkeypatch.setenv(f"SCONES_DEPLOY__{name.upper()}", value)
        get_settings.cache_clear()
        return get_settings()

    yield apply
    get_settings.cache_clear()


def model_config(settings, folder: Path, *, version: int, run_key: str, **behaviour) -> dict:
    """A ``{"Model", "EndpointConfig", "Endpoint"}`` config for a handler named ``v<version>``."""
    source = folder / f"v{version}"
    (source / "code").mkdir(parents=True)
    (source / "code" / "inference.py").write_text(HANDLER)
    (source / "behaviour.json").write_text(json.dumps({"name": f"v{version}", **behaviour}))
    archive = folder / f"v{version}.tar.gz"
    with tarfile.open(archive, "w:gz") as packed:
        for path in sorted(source.rglob("*")):
            packed.add(path, arcname=str(path.relative_to(source)), recursive=False)
    uri = settings.s3_uri(f"jobs/scones-train-{run_key}/output/model.tar.gz")
    LocalObjectStore(settings.data_root).upload_file(archive, uri)
    return endpoint_deployment_config(settings, model_version_record=model_version_record(uri, version=version),
                                      run_key=run_key)


@dataclass
class Traffic:
    """Invocations of the endpoint from a thread while the update runs: who answered each, and the splits seen."""

    url: str
    endpoint: str
    answers: list[str] = field(default_factory=list)
    shifts_seen: list[dict] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def invoke(self) -> str:
        request = urllib.request.Request(f"{self.url}/endpoints/{self.endpoint}/invocations", data=b"a photo",
                                         headers={"Content-Type": "application/octet-stream"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())["model"]
        except urllib.error.HTTPError as error:
            return f"error {error.code}"

    def run(self, max_requests: int = 3000, max_seconds: float = 60.0) -> None:
        deadline = time.monotonic() + max_seconds
        while not self.stop.is_set() and len(self.answers) < max_requests and time.monotonic() < deadline:
            shifting = describe_endpoint(self.url, self.endpoint).get("traffic_shifting")
            if shifting:
                self.shifts_seen.append(shifting)
                self.answers.append(self.invoke())
            time.sleep(0.005)


def deploy_under_traffic(settings, config: dict) -> tuple[Traffic, dict | Exception]:
    """Run the deploy task while a thread invokes the endpoint during the shift; the traffic and the outcome."""
    url = model_server_url(settings)
    traffic = Traffic(url, settings.deploy.endpoint_name)
    thread = threading.Thread(target=traffic.run, name="traffic", daemon=True)
    thread.start()
    try:
        outcome: dict | Exception = LocalEndpointOperator(task_id="deploy", config=config).execute(CONTEXT)
    except EndpointRollbackError as error:
        outcome = error
    finally:
        traffic.stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    return traffic, outcome


def first_deployment(settings, folder: Path) -> dict:
    """Create the endpoint with v1 (a creation shifts nothing) and return its config."""
    config = model_config(settings, folder, version=1, run_key="first")
    LocalEndpointOperator(task_id="deploy", config=config).execute(CONTEXT)
    return config


def test_a_healthy_canary_bakes_each_step_then_the_new_model_serves_everything(deploy_settings, tmp_path):
    settings = deploy_settings(endpoint_name="scones-canary-healthy", bake_minutes="0.02")
    first_deployment(settings, tmp_path)
    traffic, outcome = deploy_under_traffic(settings, model_config(settings, tmp_path, version=2, run_key="second"))

    assert outcome["Endpoint"]["EndpointConfigName"] == outcome["EndpointConfig"]["EndpointConfigName"]
    assert {"v1", "v2"} <= set(traffic.answers) and not [a for a in traffic.answers if a.startswith("error")]
    assert {(seen["green_share"], seen["step"], seen["steps"]) for seen in traffic.shifts_seen} <= {
        (0.2, 1, 2), (1.0, 2, 2)}
    assert (0.2, 1, 2) in {(seen["green_share"], seen["step"], seen["steps"]) for seen in traffic.shifts_seen}
    assert {traffic.invoke() for _ in range(5)} == {"v2"}
    assert LocalServedModels(settings).served_model(settings.deploy.endpoint_name).model_package_arn.endswith("/2")


def test_a_canary_whose_new_model_fails_rolls_back_and_the_deploy_task_fails(deploy_settings, tmp_path):
    settings = deploy_settings(endpoint_name="scones-canary-failing", bake_minutes="1")
    first = first_deployment(settings, tmp_path)
    traffic, outcome = deploy_under_traffic(
        settings, model_config(settings, tmp_path, version=2, run_key="second", fails=True))

    assert isinstance(outcome, EndpointRollbackError)
    assert "rolled back" in str(outcome) and "error alarm: 1 server errors" in str(outcome)
    assert traffic.answers.count("error 424") == 1, "the first failed answer of the new model trips the alarm"
    assert traffic.answers.index("error 424") == 4, "a 20% canary takes every fifth invocation"
    assert set(traffic.answers) == {"v1", "error 424"}
    assert {traffic.invoke() for _ in range(5)} == {"v1"}
    served = LocalServedModels(settings).served_model(settings.deploy.endpoint_name)
    assert served.endpoint_config_name == first["EndpointConfig"]["EndpointConfigName"]


def test_a_canary_whose_new_model_answers_too_slowly_rolls_back(deploy_settings, tmp_path):
    settings = deploy_settings(endpoint_name="scones-canary-slow", bake_minutes="1",
                               latency_alarm_milliseconds="100")
    first_deployment(settings, tmp_path)
    traffic, outcome = deploy_under_traffic(
        settings, model_config(settings, tmp_path, version=2, run_key="second", seconds=0.3))

    assert isinstance(outcome, EndpointRollbackError) and "latency alarm" in str(outcome)
    assert "exceeds 100 ms" in str(outcome)
    assert traffic.answers.count("v2") == 1 and {traffic.invoke() for _ in range(5)} == {"v1"}
