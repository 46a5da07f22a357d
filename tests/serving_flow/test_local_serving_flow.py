"""The local runtime end to end: a trained model deployed to the local model server, photos through the
state machine against the real Lambda handlers, capture files in SageMaker's layout."""

from __future__ import annotations

import base64
import json
import random
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from include.builders.deploy import endpoint_deployment_config
from include.runtime.endpoint_checks import EndpointRollbackError
from include.runtime.local.model_server_control import describe_endpoint, stop_server
from include.runtime.local.serving import LocalEndpointOperator, LocalStateMachineExecutionOperator
from include.runtime.local.store import LocalObjectStore
from include.settings import Settings, get_settings
from tests.serving_flow.support import (
    draw_vehicle,
    free_port,
    model_version_record,
    noise_png,
    png_bytes,
    train_model_archive,
)

CONTEXT = {"ti": SimpleNamespace(try_number=1)}
MODEL_KEY = "jobs/scones-train-test/output/model.tar.gz"


@dataclass
class Served:
    settings: Settings
    store: LocalObjectStore
    config: dict
    deployed: dict


def run_photo(served: Served, name: str, key: str, data: bytes | None = None) -> dict:
    if data is not None:
        served.store.put_bytes(served.settings.s3_uri(key), data)
    task = LocalStateMachineExecutionOperator(task_id="classify_photo", name=name,
                                              input={"s3_bucket": served.settings.bucket, "s3_key": key})
    return task.execute(CONTEXT)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("serving-flow")
    archive = train_model_archive(folder / "training")
    patch = pytest.MonkeyPatch()
    patch.setenv("SCONES_RUNTIME", "local")
    patch.setenv("SCONES_DATA_ROOT", str(folder / "data"))
    patch.setenv("SCONES_DEPLOY__LOCAL_SERVER_PORT", str(free_port()))
    patch.setenv("SCONES_CONFIDENCE_THRESHOLD", "0.5")
    patch.setenv("SCONES_INFERENCE__MAX_IMAGE_BYTES", "6291456")  # a real-time endpoint's payload limit
    get_settings.cache_clear()
    settings = get_settings()
    store = LocalObjectStore(settings.data_root)
    store.upload_file(archive, settings.s3_uri(MODEL_KEY))
    config = endpoint_deployment_config(
        settings, model_version_record=model_version_record(settings.s3_uri(MODEL_KEY), version=1), run_key="first")
    try:
        deployed = LocalEndpointOperator(task_id="deploy", config=config).execute(CONTEXT)
        yield Served(settings, store, config, deployed)
    finally:
        stop_server(settings.data_root / ".work" / "model-server")
        patch.undo()
        get_settings.cache_clear()


def test_deploy_returns_the_endpoint_serving_the_new_config(served):
    endpoint = served.deployed["Endpoint"]
    assert endpoint["EndpointStatus"] == "InService"
    assert endpoint["EndpointConfigName"] == served.config["EndpointConfig"]["EndpointConfigName"]
    assert endpoint["EndpointUrl"].startswith("http://127.0.0.1:")


def test_small_photo_is_classified_and_routed(served):
    photo = png_bytes(draw_vehicle("bicycle", random.Random(1)))
    outcome = run_photo(served, "small-photo", "incoming/photos/2026/03/01/10/small.png", photo)
    assert outcome["status"] == "SUCCEEDED", outcome
    assert outcome["output"]["assignment"] in ("nearby", "distant")
    assert len(outcome["output"]["inferences"]) == 2


def test_five_megabyte_photo_goes_through_by_s3_reference(served):
    photo = noise_png(5 * 1024 * 1024)
    assert len(photo) >= 5 * 1024 * 1024
    outcome = run_photo(served, "large-photo", "incoming/photos/2026/03/01/10/large.png", photo)
    assert outcome["status"] == "SUCCEEDED", outcome
    assert outcome["output"]["s3_key"] == "incoming/photos/2026/03/01/10/large.png"


def test_photo_over_the_byte_limit_is_refused_before_the_endpoint(served):
    photo = noise_png(6_400_000)
    outcome = run_photo(served, "oversize-photo", "incoming/photos/2026/03/01/10/oversize.png", photo)
    assert (outcome["status"], outcome["error"]) == ("FAILED", "ImageTooLargeError")
    assert "MAX_IMAGE_BYTES=6291456" in json.loads(outcome["cause"])["errorMessage"]


def test_non_image_fails_the_execution_with_error_and_cause(served):
    outcome = run_photo(served, "not-an-image", "incoming/photos/2026/03/01/10/notes.png", b"courier notes")
    assert (outcome["status"], outcome["error"]) == ("FAILED", "NotAnImageError")
    assert "not a PNG or JPEG" in json.loads(outcome["cause"])["errorMessage"]


def test_unsure_classification_is_routed_to_human_review(served, monkeypatch):
    monkeypatch.setenv("SCONES_CONFIDENCE_THRESHOLD", "0.999999")
    get_settings.cache_clear()
    photo = png_bytes(draw_vehicle("motorcycle", random.Random(2)))
    try:
        outcome = run_photo(served, "unsure-photo", "incoming/photos/2026/03/01/10/unsure.png", photo)
    finally:
        monkeypatch.setenv("SCONES_CONFIDENCE_THRESHOLD", "0.5")
        get_settings.cache_clear()
    assert (outcome["status"], outcome["output"]["assignment"]) == ("SUCCEEDED", "human_review")
    assert outcome["output"]["review"]["Error"] == "LowConfidenceError"


def test_finished_execution_is_reused_by_name(served):
    key = "incoming/photos/2026/03/01/10/reused.png"
    first = run_photo(served, "reused-photo", key, png_bytes(draw_vehicle("bicycle", random.Random(3))))
    served.store.delete(served.settings.s3_uri(key))
    assert run_photo(served, "reused-photo", key) == first


def test_invocations_are_captured_in_sagemaker_layout(served):
    run_photo(served, "captured-photo", "incoming/photos/2026/03/01/10/captured.png",
              png_bytes(draw_vehicle("bicycle", random.Random(4))))
    endpoint = served.settings.deploy.endpoint_name
    root = served.store.path_for(served.settings.s3_uri("datacapture", endpoint, "AllTraffic"))
    files = sorted(root.glob("[0-9][0-9][0-9][0-9]/[0-9][0-9]/[0-9][0-9]/[0-9][0-9]/*.jsonl"))
    records = [json.loads(line) for path in files for line in path.read_text().splitlines()]
    assert records, f"no capture files under {root}"
    record = records[-1]
    assert record["captureData"]["endpointInput"]["observedContentType"] == "image/png"
    assert base64.b64decode(record["captureData"]["endpointInput"]["data"]).startswith(b"\x89PNG")
    assert len(json.loads(record["captureData"]["endpointOutput"]["data"])) == 2
    assert record["eventMetadata"]["eventId"] and record["eventMetadata"]["inferenceTime"]
    assert record["eventVersion"] == "0"


def test_failed_model_swap_keeps_the_old_model_serving(served, tmp_path: Path):
    broken = tmp_path / "model.tar.gz"
    (tmp_path / "model.pt").write_bytes(b"not a model")
    with tarfile.open(broken, "w:gz") as packed:
        packed.add(tmp_path / "model.pt", arcname="model.pt")
    broken_key = "jobs/scones-train-broken/output/model.tar.gz"
    served.store.upload_file(broken, served.settings.s3_uri(broken_key))
    config = endpoint_deployment_config(
        served.settings, model_version_record=model_version_record(served.settings.s3_uri(broken_key), version=2),
        run_key="second")
    with pytest.raises(EndpointRollbackError, match="kept its previous model"):
        LocalEndpointOperator(task_id="deploy", config=config).execute(CONTEXT)
    serving = describe_endpoint(served.deployed["Endpoint"]["EndpointUrl"], served.settings.deploy.endpoint_name)
    assert serving["config_name"] == served.config["EndpointConfig"]["EndpointConfigName"]
