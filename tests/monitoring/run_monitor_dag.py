"""Run ``scones_monitor`` once with ``dag.test()`` in the local runtime and print what happened as JSON.

Usage: ``python -m tests.monitoring.run_monitor_dag HOUR drifted|empty`` (the hour to analyse) with
``AIRFLOW_HOME``, ``SCONES_DATA_ROOT`` and ``SCONES_RUNTIME=local`` set, the Airflow database migrated and
``scones_train`` serialized. The first call also registers an approved model with a baseline.
"""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from include.builders.registry import RUN_KEY_PROPERTY
from include.runtime.local.registry import LocalModelRegistry
from include.runtime.local.store import LocalObjectStore
from include.settings import PROJECT_ROOT, get_settings
from tests.monitor.traffic import Profile
from tests.monitoring.capture_support import MODEL_KEY, write_baseline, write_capture_hour


def ensure_approved_model(settings, store: LocalObjectStore) -> None:
    registry = LocalModelRegistry(settings)
    if registry.latest_approved() is not None:
        return
    with tempfile.TemporaryDirectory() as scratch:
        write_baseline(settings, store, Path(scratch))
    registry.register({"ModelPackageGroupName": settings.registry.model_package_group,
                       "ModelApprovalStatus": "Approved",
                       "CustomerMetadataProperties": {RUN_KEY_PROPERTY: MODEL_KEY}})


def main(hour_text: str, traffic_kind: str) -> dict:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models import DagRun

    settings = get_settings()
    store = LocalObjectStore(settings.data_root)
    ensure_approved_model(settings, store)
    hour = datetime.fromisoformat(hour_text)
    if traffic_kind == "drifted":
        write_capture_hour(settings, store, hour, Profile(brightness=(20, 60)))
    dag = DagBag(str(PROJECT_ROOT / "dags")).get_dag("scones_monitor")
    # A manual run covers the interval that ends at its logical date.
    run = dag.test(logical_date=hour + timedelta(hours=1))
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    triggered = [{"run_id": r.run_id, "conf": r.conf} for r in DagRun.find(dag_id="scones_train")]
    ti = run.get_task_instance("decide_action")
    return {"state": str(run.state), "tasks": states, "triggered": triggered,
            "interval": [str(run.data_interval_start), str(run.data_interval_end)],
            "decision": ti.xcom_pull(task_ids="decide_action"),
            "report": ti.xcom_pull(task_ids="write_monitoring_report")}


if __name__ == "__main__":
    print("RESULT " + json.dumps(main(sys.argv[1], sys.argv[2]), default=str))
