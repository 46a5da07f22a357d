"""Run ``scones_monitor`` with ``dag.test()`` in the local runtime, hour after hour, and print what happened as JSON.

Usage: ``python -m tests.monitoring.run_monitor_dag STEP...`` with ``AIRFLOW_HOME``, ``SCONES_DATA_ROOT`` and
``SCONES_RUNTIME=local`` set, the Airflow database migrated and ``scones_train`` serialized. Each step is
``KIND@HOUR`` (the hour to analyse) or ``deploy``:

- ``deploy`` registers version 1 (with a drift baseline) and records it deployed, as a verified
  ``scones_deploy`` run does; then registers version 2, approved but never serving (its update rolled back);
- ``drifted@HOUR`` / ``empty@HOUR`` run the monitor over an hour with dark photos / no capture;
- ``backfill@HOUR`` runs it over a dark hour as a backfill run.
"""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from include.builders.deploy import endpoint_deployment_config
from include.builders.registry import RUN_KEY_PROPERTY
from include.runtime.local.alerts import read_alerts
from include.runtime.local.registry import LocalModelRegistry
from include.runtime.local.serving import LocalEndpointRecords
from include.runtime.local.store import LocalObjectStore
from include.settings import PROJECT_ROOT, get_settings
from tests.monitor.traffic import Profile
from tests.monitoring.capture_support import MODEL_KEY, write_baseline, write_capture_hour

NEVER_SERVED_KEY = "train-20260302T0000"


def version_request(settings, run_key: str) -> dict:
    return {"ModelPackageGroupName": settings.registry.model_package_group, "ModelApprovalStatus": "Approved",
            "InferenceSpecification": {"Containers": [{"Image": "scones-inference",
                                                       "ModelDataUrl": f"s3://{settings.bucket}/m/{run_key}.tar.gz"}]},
            "CustomerMetadataProperties": {RUN_KEY_PROPERTY: run_key}}


def deploy(settings, store: LocalObjectStore) -> dict:
    """Version 1 serves (with its baseline); version 2 is approved and newer, but its deployment rolled back."""
    registry = LocalModelRegistry(settings)
    with tempfile.TemporaryDirectory() as scratch:
        write_baseline(settings, store, Path(scratch))
    serving = registry.register(version_request(settings, MODEL_KEY))
    config = endpoint_deployment_config(settings, model_version_record=serving, run_key="deploy-1")
    endpoint = {"EndpointName": settings.deploy.endpoint_name, "EndpointStatus": "InService",
                "EndpointConfigName": config["EndpointConfig"]["EndpointConfigName"]}
    LocalEndpointRecords(settings).record_deployment(config["Model"], config["EndpointConfig"], endpoint)
    registry.register(version_request(settings, NEVER_SERVED_KEY))
    return {"serving": serving["ModelPackageArn"], "latest_approved": registry.latest_approved()["ModelPackageArn"]}


def create_runs_as(run_type: str) -> None:
    """Make ``dag.test()`` create runs of ``run_type`` (as the scheduler's backfill would), not manual ones."""
    import airflow.models.dagrun as dagrun_module
    from airflow.models.dagrun import DagRun
    from airflow.utils.types import DagRunType

    original = getattr(dagrun_module, "_original_get_or_create_dagrun", dagrun_module.get_or_create_dagrun)
    dagrun_module._original_get_or_create_dagrun = original
    if run_type == "manual":
        dagrun_module.get_or_create_dagrun = original
        return

    def get_or_create(**kwargs: Any) -> Any:
        dag, kind = kwargs["dag"], DagRunType(run_type)
        create = dag.create_dagrun
        dag.create_dagrun = lambda **create_kwargs: create(**{**create_kwargs, "run_type": kind})
        kwargs["run_id"] = DagRun.generate_run_id(run_type=kind, logical_date=kwargs["logical_date"],
                                                  run_after=kwargs["run_after"])
        return original(**kwargs)

    dagrun_module.get_or_create_dagrun = get_or_create


def monitor(dag, settings, store: LocalObjectStore, kind: str, hour: datetime) -> dict:
    from airflow.models import DagRun

    if kind in ("drifted", "backfill"):
        write_capture_hour(settings, store, hour, Profile(brightness=(20, 60)))
    create_runs_as("backfill" if kind == "backfill" else "manual")
    # dag.test() covers the interval that ends at its logical date.
    run = dag.test(logical_date=hour + timedelta(hours=1))
    ti = run.get_task_instance("decide_action")
    return {"state": str(run.state), "run_type": str(run.run_type),
            "tasks": {t.task_id: str(t.state) for t in run.get_task_instances()},
            "baseline": ti.xcom_pull(task_ids="find_baseline"),
            "decision": ti.xcom_pull(task_ids="decide_action"),
            "report": ti.xcom_pull(task_ids="write_monitoring_report"),
            "triggered": [{"run_id": r.run_id, "conf": r.conf} for r in DagRun.find(dag_id="scones_train")],
            "alerts": len(read_alerts(settings))}


def main(steps: list[str]) -> list[dict]:
    from airflow.dag_processing.dagbag import DagBag

    settings = get_settings()
    store = LocalObjectStore(settings.data_root)
    dag = DagBag(str(PROJECT_ROOT / "dags")).get_dag("scones_monitor")
    outcomes = []
    for step in steps:
        kind, _, hour = step.partition("@")
        outcomes.append(deploy(settings, store) if kind == "deploy"
                        else monitor(dag, settings, store, kind, datetime.fromisoformat(hour)))
    return outcomes


if __name__ == "__main__":
    print("RESULT " + json.dumps(main(sys.argv[1:]), default=str))
