"""What the pipeline records about a model, written the way the pipeline writes it, for the model-health view.

Two registered versions (the newer one approved by alice and deployed: the local endpoint's records say so);
two monitored hours analysed by the real analyzer job over captured traffic in SageMaker's layout (one like
the baseline, one at night), each with its report and its decision recorded as the monitor records it; two
inference intervals' routing files (nearby, distant, unsure and failed photos); and drawn courier photos
waiting in the review queue with their inference notes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from devtools.synthetic.photos import write_courier_photos
from include.builders.registry import approval_update_request, model_package_request
from include.registry import MODEL_PACKAGE_TAG
from include.runtime.local.job_records import LocalJobRegistry
from include.runtime.local.processing import run_processing_job
from include.runtime.local.registry import LocalModelRegistry
from include.runtime.local.serving import LocalEndpointRecords
from include.runtime.local.store import LocalObjectStore
from include.settings import Settings
from include.workflows.inference import write_routing_file
from include.workflows.monitoring import analysis, announce, results
from include.workflows.monitoring import decision as policy
from include.workflows.monitoring import report as reporting
from tests.monitor.traffic import Profile
from tests.monitoring.capture_support import write_baseline, write_capture_hour

CLEAR_HOUR = datetime(2026, 2, 1, 9, tzinfo=UTC)
NIGHT_HOUR = datetime(2026, 2, 1, 10, tzinfo=UTC)
QUEUED_PHOTOS = 3


@dataclass(frozen=True)
class HealthWorld:
    settings: Settings
    store: LocalObjectStore
    serving_arn: str
    serving_version: int
    older_version: int
    decisions: dict[str, str]
    """Run key of each monitored hour -> the monitor's decision."""
    reports: dict[str, str]
    """Run key -> the report's index.html URI."""
    routing: dict[str, dict]
    """Run key -> the routing file's expected totals."""
    queued: list[str]
    """Keys of the photos this world put in the review queue."""


def _key(hour: datetime) -> str:
    return f"{hour:%Y%m%dT%H%M}"


def pending_request(settings: Settings, run_key: str, accuracy: float, ece: float) -> dict:
    request = model_package_request(
        settings, run_key=run_key, model_data_url=settings.s3_uri("models", run_key, "model.tar.gz"),
        evaluation_uri=settings.s3_uri("models", run_key, "evaluation", "evaluation.json"),
        metrics={"accuracy": accuracy, "ece": ece}, dataset_manifest_sha256="a" * 64,
        trained_from={"scones:code-sha256": "b" * 64}, hyperparameters={"epochs": 3},
        training_job_name=f"scones-train-{run_key}")
    return {**request, "ModelApprovalStatus": "PendingManualApproval"}


def _registered(settings: Settings) -> tuple[dict, dict]:
    registry = LocalModelRegistry(settings)
    older = registry.register(pending_request(settings, "train-20260125T0000", 0.874, 0.061))
    older = registry.update_approval(approval_update_request(older, "Approved", reviewer="bob", at=datetime(
        2026, 1, 25, 12, tzinfo=UTC), via="Airflow", note="first model"))
    newer = registry.register(pending_request(settings, "train-20260131T0000", 0.912, 0.031))
    newer = registry.update_approval(approval_update_request(newer, "Approved", reviewer="alice", at=datetime(
        2026, 1, 31, 12, tzinfo=UTC), via="Airflow", note="better at dusk"))
    return older, newer


def _deployed(settings: Settings, version: dict) -> None:
    """The local endpoint's records of a verified deployment of ``version``, as the deploy task leaves them."""
    name = settings.deploy.endpoint_name
    model = {"ModelName": f"scones-model-v{version['ModelPackageVersion']}",
             "Tags": [{"Key": MODEL_PACKAGE_TAG, "Value": version["ModelPackageArn"]}]}
    config = {"EndpointConfigName": f"scones-config-v{version['ModelPackageVersion']}",
              "ProductionVariants": [{"VariantName": settings.deploy.variant_name, "ModelName": model["ModelName"]}]}
    LocalEndpointRecords(settings).record_deployment(model, config, {
        "EndpointName": name, "EndpointConfigName": config["EndpointConfigName"], "EndpointStatus": "InService"})


def _monitored(settings: Settings, store: LocalObjectStore, scratch: Path) -> tuple[dict, dict]:
    """Both hours through the analyzer job, the report and the decision, as ``scones_monitor`` runs them."""
    baseline = write_baseline(settings, store, scratch)
    write_capture_hour(settings, store, CLEAR_HOUR, Profile())
    write_capture_hour(settings, store, NIGHT_HOUR, Profile(brightness=(20, 60)))
    decisions, reports = {}, {}
    jobs = LocalJobRegistry(settings.data_root / ".work", "processing")
    for hour in (CLEAR_HOUR, NIGHT_HOUR):
        run_key, end = _key(hour), hour + timedelta(hours=1)
        hours = analysis.capture_hour_prefixes(settings, store, hour, end)
        request = analysis.build_analysis_request(settings, store, run_key=run_key,
                                                    job_name=f"scones-monitor-{run_key}", capture_uris=hours,
                                                    baseline_uri=baseline, start=hour, end=end)
        description = run_processing_job(request, store=store, registry=jobs, log=lambda _: None)
        result = results.read_interval_result(store, analysis.job_output_uri({"Processing": description}))
        reports[run_key] = reporting.write_report(settings, store, run_key=run_key, result_uri=result["output_uri"],
                                                  baseline_uri=baseline, interval_start=hour)
        verdict = policy.decide(result, settings, interval_end=end, run_key=run_key)
        announce.record_interval(settings, store, verdict.as_dict(), start=hour, run_key=run_key)
        decisions[run_key] = verdict.action
    return decisions, reports


def _row(settings: Settings, name: str, assignment: str, confidence: float | None, reason: str = "") -> dict:
    vehicle = {"nearby": "bicycle", "distant": "motorcycle"}.get(assignment, "review")
    inferences = [] if confidence is None else [confidence, 1 - confidence]
    return {"courier_photo": settings.s3_uri("incoming/photos/2026/02/01", name), "vehicle": vehicle,
            "confidence": confidence, "assignment": assignment, "execution": f"x-{name}", "reason": reason,
            "inferences": inferences}


def _routed(settings: Settings, store: LocalObjectStore) -> dict[str, dict]:
    unsure = "LowConfidenceError: confidence 0.6100 for bicycle is below CONFIDENCE_THRESHOLD=0.93"
    failed = "States.TaskFailed: the endpoint refused the photo"
    plans = {
        _key(CLEAR_HOUR): {"nearby": 3, "distant": 2, "review": 1, "failed": 0},
        _key(NIGHT_HOUR): {"nearby": 1, "distant": 0, "review": 2, "failed": 1},
    }
    for run_key, plan in plans.items():
        rows = [_row(settings, f"n{i}.png", "nearby", 0.97) for i in range(plan["nearby"])]
        rows += [_row(settings, f"d{i}.png", "distant", 0.96) for i in range(plan["distant"])]
        rows += [_row(settings, f"r{i}.png", "human_review", 0.61, unsure) for i in range(plan["review"])]
        rows += [_row(settings, f"f{i}.png", "human_review", None, failed) for i in range(plan["failed"])]
        write_routing_file(settings, store, run_key, rows)
    return plans


def _queued(settings: Settings, store: LocalObjectStore, scratch: Path) -> list[str]:
    """Drawn night-time courier photos in the review queue, each with the note inference leaves beside it."""
    folder = scratch / "night-photos"
    written = write_courier_photos(folder, count=QUEUED_PHOTOS, seed=5, drift="night", size_range=(200, 320),
                                   fmt_mix=("png",))
    keys = []
    for index, (name, _) in enumerate(written):
        key = f"review/{_key(NIGHT_HOUR)}/2026/02/01/10/{name}"
        store.put_bytes(settings.s3_uri(key), (folder / name).read_bytes())
        note = {"courier_photo": settings.s3_uri("incoming/photos/2026/02/01/10", name), "execution": f"x-{index}",
                "confidence": 0.6 + index / 100, "inferences": [0.6 + index / 100, 0.4 - index / 100],
                "reason": "LowConfidenceError: confidence below CONFIDENCE_THRESHOLD=0.93"}
        store.put_bytes(settings.s3_uri(key) + ".json", json.dumps(note).encode())
        keys.append(key)
    return keys


def build_health_world(settings: Settings, scratch: Path) -> HealthWorld:
    store = LocalObjectStore(settings.data_root)
    older, newer = _registered(settings)
    _deployed(settings, newer)
    decisions, reports = _monitored(settings, store, scratch)
    return HealthWorld(settings=settings, store=store, serving_arn=newer["ModelPackageArn"],
                       serving_version=newer["ModelPackageVersion"], older_version=older["ModelPackageVersion"],
                       decisions=decisions, reports=reports, routing=_routed(settings, store),
                       queued=_queued(settings, store, scratch))
