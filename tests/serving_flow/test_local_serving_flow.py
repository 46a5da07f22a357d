"""The local runtime end to end: a trained model deployed to the local model server, photos through the
state machine's Distributed Map against the real Lambda handlers, capture files in SageMaker's layout, and a
re-run after some photos failed."""

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
from include.runtime.local import inference_flow
from include.runtime.local.model_server_control import describe_endpoint, stop_server
from include.runtime.local.serving import (
    LocalEndpointOperator,
    LocalServedModels,
    LocalStateMachineExecutionsOperator,
)
from include.runtime.local.store import LocalObjectStore
from include.settings import Settings, get_settings
from include.workflows.inference import plan_executions, publish_routing
from include.workflows.inference.results import PhotoAttempt, latest_attempts
from include.workflows.inference.rounds import read_rounds
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


def classify_photos(served: Served, run_key: str, keys: list[str]) -> list[dict]:
    """Plan the interval's executions and run them with the local runtime's task."""
    settings = get_settings()
    executions = plan_executions(settings, served.store, run_key=run_key, photo_keys=keys)
    outcomes = LocalStateMachineExecutionsOperator(task_id="classify_photos", executions=executions).execute(CONTEXT)
    assert [o["name"] for o in outcomes] == [e["name"] for e in executions]
    return executions, outcomes


def attempts_of(served: Served, run_key: str) -> dict[str, PhotoAttempt]:
    return latest_attempts(served.settings, served.store, read_rounds(served.settings, served.store, run_key))


def run_photo(served: Served, run_key: str, key: str, data: bytes | None = None) -> PhotoAttempt:
    if data is not None:
        served.store.put_bytes(served.settings.s3_uri(key), data)
    _, (outcome,) = classify_photos(served, run_key, [key])
    assert outcome["status"] == "SUCCEEDED", outcome
    return attempts_of(served, run_key)[key]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("serving-flow")
    archive = train_model_archive(folder / "training")
    patch = pytest.MonkeyPatch()
    patch.setenv("SCONES_RUNTIME", "local")
    patch.setenv("SCONES_DATA_ROOT", str(folder / "data"))
    patch.setenv("SCONES_DEPLOY__LOCAL_SERVER_PORT", str(free_port()))
    patch.setenv("SCONES_CONFIDENCE_THRESHOLD", "0.5")
    patch.setenv("SCONES_INFERENCE__TOLERATED_FAILURE_PERCENTAGE", "100")
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
    attempt = run_photo(served, "small-photo", "incoming/photos/2026/03/01/10/small.png", photo)
    assert attempt.status == "SUCCEEDED", attempt
    assert attempt.output["assignment"] in ("nearby", "distant")
    assert len(attempt.output["inferences"]) == 2


def test_five_megabyte_photo_goes_through_by_s3_reference(served):
    photo = noise_png(5 * 1024 * 1024)
    assert len(photo) >= 5 * 1024 * 1024
    attempt = run_photo(served, "large-photo", "incoming/photos/2026/03/01/10/large.png", photo)
    assert attempt.status == "SUCCEEDED", attempt
    assert attempt.output["s3_key"] == "incoming/photos/2026/03/01/10/large.png"


def test_non_image_fails_its_child_execution_with_error_and_cause(served):
    attempt = run_photo(served, "not-an-image", "incoming/photos/2026/03/01/10/notes.png", b"courier notes")
    assert (attempt.status, attempt.error) == ("FAILED", "NotAnImageError")
    assert "not a PNG or JPEG" in json.loads(attempt.cause)["errorMessage"]


def test_photo_over_the_byte_limit_is_refused_before_the_endpoint(served):
    photo = noise_png(6_400_000)
    attempt = run_photo(served, "oversize-photo", "incoming/photos/2026/03/01/10/oversize.png", photo)
    assert (attempt.status, attempt.error) == ("FAILED", "ImageTooLargeError")
    assert "MAX_IMAGE_BYTES=6291456" in json.loads(attempt.cause)["errorMessage"]


def test_unsure_classification_is_routed_to_human_review(served, monkeypatch):
    monkeypatch.setenv("SCONES_CONFIDENCE_THRESHOLD", "0.999999")
    get_settings.cache_clear()
    photo = png_bytes(draw_vehicle("motorcycle", random.Random(2)))
    try:
        attempt = run_photo(served, "unsure-photo", "incoming/photos/2026/03/01/10/unsure.png", photo)
    finally:
        monkeypatch.setenv("SCONES_CONFIDENCE_THRESHOLD", "0.5")
        get_settings.cache_clear()
    assert (attempt.status, attempt.output["assignment"]) == ("SUCCEEDED", "human_review")
    assert attempt.output["review"]["Error"] == "LowConfidenceError"


def test_finished_execution_is_reused_by_name(served):
    key = "incoming/photos/2026/03/01/10/reused.png"
    served.store.put_bytes(served.settings.s3_uri(key), png_bytes(draw_vehicle("bicycle", random.Random(3))))
    executions, first = classify_photos(served, "reused-photo", [key])
    served.store.delete(served.settings.s3_uri(key))
    again = LocalStateMachineExecutionsOperator(task_id="classify_photos", executions=executions).execute(CONTEXT)
    assert again == first


def test_rerun_after_an_outage_classifies_only_the_failed_photos_again(served, monkeypatch):
    keys = [f"incoming/photos/2026/03/01/12/courier-{index}.png" for index in range(6)]
    for index, key in enumerate(keys):
        served.store.put_bytes(served.settings.s3_uri(key),
                               png_bytes(draw_vehicle(("bicycle", "motorcycle")[index % 2], random.Random(10 + index))))
    outage, calls = {keys[1], keys[4]}, []
    real_load_handler = inference_flow.load_handler

    def load_handler(function: str):
        handler = real_load_handler(function)
        if function != "classify_image":
            return handler

        def classify(event, context):
            calls.append(event["body"]["s3_key"])
            if event["body"]["s3_key"] in outage:
                raise ConnectionError("endpoint unreachable")
            return handler(event, context)

        return classify

    monkeypatch.setattr(inference_flow, "load_handler", load_handler)
    executions, outcomes = classify_photos(served, "outage", keys)
    publish_routing(served.settings, served.store, run_key="outage", executions=executions, outcomes=outcomes)
    first = attempts_of(served, "outage")
    assert sorted(k for k, a in first.items() if a.status == "FAILED") == sorted(outage)
    assert {first[k].error for k in outage} == {"ConnectionError"}
    outage.clear()
    calls.clear()
    retry, outcomes = classify_photos(served, "outage", keys)
    assert [e["name"] for e in retry] == ["outage-c0001-t2"] and sorted(calls) == sorted(keys[i] for i in (1, 4))
    summary = publish_routing(served.settings, served.store, run_key="outage", executions=retry, outcomes=outcomes)
    assert (summary["photos"], summary["succeeded"], summary["failed"]) == (6, 6, 0)
    assert {k: a.execution for k, a in attempts_of(served, "outage").items() if k not in (keys[1], keys[4])} == {
        k: a.execution for k, a in first.items() if k not in (keys[1], keys[4])}


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


def deploy_a_broken_model(served: Served, tmp_path: Path) -> None:
    """Version 2, whose model cannot load: the server refuses the swap and the deployment fails."""
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


def test_failed_model_swap_keeps_the_old_model_serving(served, tmp_path: Path):
    deploy_a_broken_model(served, tmp_path)
    serving = describe_endpoint(served.deployed["Endpoint"]["EndpointUrl"], served.settings.deploy.endpoint_name)
    assert serving["config_name"] == served.config["EndpointConfig"]["EndpointConfigName"]


def test_after_a_failed_swap_the_endpoint_reports_the_version_still_serving(served, tmp_path: Path):
    """A rollback during drift: what the monitor and the gate read back is the version that kept serving."""
    deploy_a_broken_model(served, tmp_path)
    serving = LocalServedModels(served.settings).served_model(served.settings.deploy.endpoint_name)
    assert serving.model_package_arn == model_version_record(served.settings.s3_uri(MODEL_KEY), version=1)[
        "ModelPackageArn"]
    assert serving.endpoint_config_name == served.config["EndpointConfig"]["EndpointConfigName"]
