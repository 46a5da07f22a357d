"""Embedding drift in the local runtime: the baseline job embeds the validation photos with the trained model, the
serving version's model and embeddings are found, and the analyzer job (a local Processing job) runs the MMD test.
(Like traffic passing is tested in-process, in tests/monitor/test_embedding_drift.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from include.builders.deploy import endpoint_deployment_config
from include.builders.registry import RUN_KEY_PROPERTY
from include.runtime.local.job_records import LocalJobRegistry
from include.runtime.local.processing import run_processing_job
from include.runtime.local.registry import LocalModelRegistry
from include.runtime.local.serving import LocalEndpointRecords, LocalServedModels
from include.runtime.local.store import LocalObjectStore
from include.settings import load_settings
from include.workflows import training
from include.workflows.monitoring import analysis, baseline, results
from include.workflows.monitoring import decision as policy
from include.workflows.monitoring import report as reporting
from tests.monitor.seeded_model import write_seeded_model
from tests.monitor.traffic import Profile, traffic

from .capture_support import write_capture_hour

MODEL_KEY = "train-20260301T0000"
DARK_HOUR = datetime(2026, 3, 1, 13, tzinfo=UTC)


def _run(settings, request: dict) -> dict:
    registry = LocalJobRegistry(settings.data_root / ".work", "processing")
    return run_processing_job(request, store=LocalObjectStore(settings.data_root), registry=registry,
                              log=lambda _: None)


def _serve(settings, model_url: str) -> None:
    """The trained version registered and recorded deployed, as a verified scones_deploy run leaves it."""
    version = LocalModelRegistry(settings).register({
        "ModelPackageGroupName": settings.registry.model_package_group, "ModelApprovalStatus": "Approved",
        "InferenceSpecification": {"Containers": [{"Image": "scones-inference", "ModelDataUrl": model_url}]},
        "CustomerMetadataProperties": {RUN_KEY_PROPERTY: MODEL_KEY}})
    config = endpoint_deployment_config(settings, model_version_record=version, run_key="deploy-1")
    LocalEndpointRecords(settings).record_deployment(config["Model"], config["EndpointConfig"], {
        "EndpointName": settings.deploy.endpoint_name, "EndpointStatus": "InService",
        "EndpointConfigName": config["EndpointConfig"]["EndpointConfigName"]})


def _analyse(settings, store, baseline_uri: str, embedding, hour: datetime) -> dict:
    key = f"{hour:%Y%m%dT%H%M}"
    start, end = hour, hour + timedelta(hours=1)
    request = analysis.build_analysis_request(
        settings, store, run_key=key, job_name=f"scones-monitor-{key}", baseline_uri=baseline_uri, start=start,
        end=end, capture_uris=analysis.capture_hour_prefixes(settings, store, start, end), embedding=embedding)
    result = results.read_interval_result(store, analysis.job_output_uri({"Processing": _run(settings, request)}))
    report = reporting.write_report(settings, store, run_key=key, result_uri=result["output_uri"],
                                    baseline_uri=baseline_uri, interval_start=start)
    return {"result": result, "decision": policy.decide(result, settings, interval_end=end), "report": report}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("embedding-drift")
    settings = load_settings(environ={"SCONES_DATA_ROOT": str(root / "data"), "SCONES_RUNTIME": "local",
                                      "SCONES_MONITOR__MMD_BASELINE_RECORDS": "200"})
    store = LocalObjectStore(settings.data_root)
    model_url = training.models_uri(settings, MODEL_KEY) + "training/output/model.tar.gz"
    store.upload_file(write_seeded_model(root / "model"), model_url)
    evaluation_uri = training.models_uri(settings, MODEL_KEY) + "evaluation/evaluation.json"
    validation = "\n".join(line for _, line in traffic(600, seed=11)) + "\n"
    store.put_bytes(evaluation_uri.rsplit("/", 1)[0] + "/validation_capture.jsonl", validation.encode())
    _run(settings, training.build_baseline_request(settings, store, run_key=MODEL_KEY,
                                                   job_name="scones-baseline-test", evaluation_uri=evaluation_uri,
                                                   model_url=model_url))
    _serve(settings, model_url)
    served, registry = LocalServedModels(settings), LocalModelRegistry(settings)
    baseline_uri = baseline.baseline_for_serving_model(settings, served, registry, store)
    embedding = baseline.embedding_inputs(settings, served, registry, store, baseline_uri)
    write_capture_hour(settings, store, DARK_HOUR, Profile(brightness=(30, 80)))
    return {"settings": settings, "store": store, "baseline": baseline_uri, "embedding": embedding,
            "model_url": model_url, "dark": _analyse(settings, store, baseline_uri, embedding, DARK_HOUR)}


def _embedding_violations(outcome: dict) -> list[dict]:
    return [v for v in outcome["result"]["violations"] if v["feature_name"] == "embedding_mmd"]


def test_the_baseline_job_writes_the_embeddings_beside_its_statistics(world):
    assert world["store"].exists(world["baseline"] + "embeddings.npy")
    assert world["store"].exists(world["baseline"] + "statistics.json")


def test_the_serving_versions_model_and_baseline_embeddings_are_the_check_inputs(world):
    assert world["embedding"].model_data_url == world["model_url"]
    assert world["embedding"].embeddings_uri == world["baseline"] + "embeddings.npy"


def test_dark_traffic_violates_the_embedding_check_and_retrains(world):
    assert len(_embedding_violations(world["dark"])) == 1
    assert world["dark"]["decision"].action == "retrain"


def test_the_report_lists_the_embedding_test_beside_the_others(world):
    page = world["store"].get_bytes(world["dark"]["report"]).decode()
    assert "embedding_mmd" in page and "MMD permutation test" in page


def test_a_baseline_made_without_embeddings_gives_no_embedding_inputs(world):
    """Runs last in this module: it removes the baseline's embeddings."""
    settings, store = world["settings"], world["store"]
    store.delete(world["baseline"] + "embeddings.npy")
    assert baseline.embedding_inputs(settings, LocalServedModels(settings), LocalModelRegistry(settings), store,
                                     world["baseline"]) is None
