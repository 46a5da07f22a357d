"""Run the README's ``airflow dags test`` commands in one process and print what they left behind as JSON.

Usage: ``python -m tests.e2e.day_two_runs`` with ``AIRFLOW_HOME`` (a migrated DB), ``SCONES_DATA_ROOT``,
``SCONES_CIFAR__SOURCE``/``MD5`` and ``SCONES_RUNTIME=local`` set. It runs, through Airflow's own CLI parser:

1. ``airflow dags test scones_ingest 2026-01-01`` twice, then ``... 2026-01-02`` (the same archive, no new
   labels: unchanged data on another day);
2. records the first partition's model as trained, registered and deployed — the registration
   ``scones_train`` makes from a finished training job of that partition, and the deployment records a
   verified ``scones_deploy`` leaves — so the second partition's training run has a serving model to match;
3. ``airflow dags test scones_train 2026-01-03 -c '{"partition": <second partition>}'``.
"""

from __future__ import annotations

import hashlib
import json

from include.builders.deploy import endpoint_deployment_config
from include.runtime.local.job_records import LocalJobRegistry
from include.runtime.local.registry import LocalModelRegistry
from include.runtime.local.serving import LocalEndpointRecords
from include.runtime.local.store import LocalObjectStore, local_work_root
from include.settings import get_settings
from include.workflows import training
from include.workflows.training_requests import build_training_request, describe_candidate


def airflow_cli(*argv: str) -> None:
    from airflow.cli import cli_parser

    args = cli_parser.get_parser().parse_args(list(argv))
    args.func(args)


def partitions(settings, store: LocalObjectStore) -> dict[str, str]:
    """Partition URI -> sha256 of its manifest."""
    prefix = settings.s3_uri(settings.prefixes.datasets) + "/"
    return {o.uri.removesuffix("manifest.json"): hashlib.sha256(store.get_bytes(o.uri)).hexdigest()
            for o in store.list(prefix) if o.uri.endswith("/manifest.json")}


def trained_and_deployed(settings, store: LocalObjectStore, partition: str) -> dict:
    """What scones_train registers for ``partition`` (from its training job's description), then deployed."""
    key = "train-20260101T0000"
    request = build_training_request(settings, store, run_key=key, job_name=f"scones-train-{key}",
                                     partition=partition, params={})
    finished = {"Training": {"TrainingJobName": request["TrainingJobName"],
                             "HyperParameters": request["HyperParameters"],
                             "ModelArtifacts": {"S3ModelArtifacts": settings.s3_uri("models", key, "model.tar.gz")}}}
    candidate = describe_candidate(finished, partition)
    evaluation_uri = settings.s3_uri("models", key, "evaluation", "evaluation.json")
    version = training.register(settings, store, LocalModelRegistry(settings), run_key=key,
                                model_url=candidate["model_url"], evaluation_uri=evaluation_uri,
                                evaluation={"metrics": {"accuracy": 0.9, "ece": 0.05}}, partition=partition,
                                training_job_name=candidate["training_job_name"],
                                hyperparameters=candidate["hyperparameters"])
    record = LocalModelRegistry(settings).describe(version["model_package_arn"])
    config = endpoint_deployment_config(settings, model_version_record=record, run_key="deploy-1")
    LocalEndpointRecords(settings).record_deployment(config["Model"], config["EndpointConfig"], {
        "EndpointName": settings.deploy.endpoint_name, "EndpointStatus": "InService",
        "EndpointConfigName": config["EndpointConfig"]["EndpointConfigName"]})
    return version


def train_states(run_id_prefix: str = "") -> dict[str, str]:
    from airflow.models import DagRun

    [run] = [r for r in DagRun.find(dag_id="scones_train") if r.run_id.startswith(run_id_prefix)]
    return {"state": str(run.state), **{t.task_id: str(t.state) for t in run.get_task_instances()}}


def main() -> dict:
    settings = get_settings()
    store = LocalObjectStore(settings.data_root)
    outcome: dict = {}
    airflow_cli("dags", "test", "scones_ingest", "2026-01-01")
    outcome["after_first"] = partitions(settings, store)
    airflow_cli("dags", "test", "scones_ingest", "2026-01-01")
    outcome["after_second"] = partitions(settings, store)
    airflow_cli("dags", "test", "scones_ingest", "2026-01-02")
    outcome["after_next_day"] = partitions(settings, store)
    first, second = sorted(outcome["after_next_day"])
    outcome["content"] = {p: json.loads(store.get_bytes(p + "manifest.json"))["content_sha256"]
                          for p in (first, second)}
    outcome["version"] = trained_and_deployed(settings, store, first)
    airflow_cli("dags", "test", "scones_train", "2026-01-03", "-c", json.dumps({"partition": second}))
    outcome["train"] = train_states()
    outcome["versions"] = len(LocalModelRegistry(settings).versions())
    training_jobs = LocalJobRegistry(local_work_root(settings), "training").root
    outcome["training_jobs"] = sorted(p.name for p in training_jobs.glob("*")) if training_jobs.is_dir() else []
    processing_jobs = LocalJobRegistry(local_work_root(settings), "processing").root
    outcome["ingest_jobs"] = sorted(p.name for p in processing_jobs.glob("scones-ingest-*"))
    return outcome


if __name__ == "__main__":
    print("RESULT " + json.dumps(main(), default=str))
