"""Every DAG imports cleanly, carries its metadata and stays light at parse time."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from include.settings import PROJECT_ROOT

DAG_FILES = sorted((PROJECT_ROOT / "dags").glob("*.py"))


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(str(PROJECT_ROOT / "dags"))


def test_every_dag_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert len(dagbag.dags) == len(DAG_FILES)


def test_every_dag_has_tags_owner_retries_and_docs(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert "scones" in dag.tags, dag_id
        assert dag.doc_md and len(dag.doc_md) > 40, dag_id
        assert dag.catchup is False, dag_id
        for task in dag.tasks:
            assert task.owner == "scones-mlops", (dag_id, task.task_id)
            assert task.retries >= 1, (dag_id, task.task_id)


def test_every_dag_that_runs_jobs_offers_a_rebuild_param_off_by_default(dagbag):
    job_kinds = ("ProcessingOperator", "TrainingOperator", "TuningOperator")
    for dag_id, dag in dagbag.dags.items():
        if any(type(task).__name__.endswith(job_kinds) for task in dag.tasks):
            assert dag.params.get_param("rebuild").schema["type"] == "boolean", dag_id
            assert dag.params["rebuild"] is False, dag_id


@pytest.mark.parametrize("runtime", ["local", "aws"])
def test_parsing_imports_no_torch_sagemaker_sdk_or_network(runtime: str, tmp_path: Path):
    probe = (
        "import importlib.util, json, socket, sys\n"
        "def refuse(*a, **k): raise RuntimeError('network call at parse time')\n"
        "socket.socket.connect = refuse\n"
        f"for index, path in enumerate({[str(p) for p in DAG_FILES]!r}):\n"
        "    spec = importlib.util.spec_from_file_location(f'probe_dag_{index}', path)\n"
        "    spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'sagemaker', 'optuna'))\n"
        "print(json.dumps(heavy))\n"
    )
    env = {"PYTHONPATH": str(PROJECT_ROOT), "SCONES_RUNTIME": runtime, "AIRFLOW_HOME": str(tmp_path),
           "PATH": "/usr/bin:/bin", "AWS_EC2_METADATA_DISABLED": "true"}
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


HOURLY_DAGS = ("scones_inference", "scones_monitor")
ONE_RUN_AT_A_TIME = ("scones_ingest", "scones_train", "scones_tune", "scones_deploy", "scones_monitor",
                     "scones_teardown")


def test_every_dag_has_a_run_timeout_and_every_task_a_time_limit_and_the_retry_policy(dagbag):
    from include.retry_policy import RETRY_POLICY
    from include.settings import get_settings

    settings = get_settings()
    for dag_id, dag in dagbag.dags.items():
        assert dag.dagrun_timeout == settings.dags.run_timeout(dag_id), dag_id
        for task in dag.tasks:
            assert task.execution_timeout is not None, (dag_id, task.task_id)
            assert task.retry_policy is RETRY_POLICY, (dag_id, task.task_id)


def test_job_tasks_may_run_as_long_as_their_job(dagbag):
    from include.settings import get_settings
    from include.timeouts import job_time_limit

    train = dagbag.dags["scones_train"].get_task("train")
    assert train.execution_timeout > job_time_limit(get_settings(), "training")


def test_runs_that_must_not_overlap_run_one_at_a_time(dagbag):
    for dag_id in ONE_RUN_AT_A_TIME:
        assert dagbag.dags[dag_id].max_active_runs == 1, dag_id


def test_hourly_dags_pause_after_consecutive_failures(dagbag):
    from include.settings import get_settings

    for dag_id in HOURLY_DAGS:
        limit = dagbag.dags[dag_id].max_consecutive_failed_dag_runs
        assert limit == get_settings().dags.max_consecutive_failed_runs, dag_id


def test_an_unfinished_inference_run_raises_a_deadline_alert(dagbag):
    from include.settings import get_settings

    [deadline] = dagbag.dags["scones_inference"].deadline
    assert deadline.interval.total_seconds() == get_settings().inference.deadline_minutes * 60
    assert deadline.callback.path == "include.workflows.deadlines.alert_missed_deadline"
    assert type(deadline.reference).__name__ == "DagRunQueuedAtDeadline"


def test_a_deadline_of_zero_minutes_means_none():
    from include.workflows.deadlines import unfinished_run_alert

    assert unfinished_run_alert(0) is None
    assert unfinished_run_alert(30).interval.total_seconds() == 1800


def test_the_monitor_and_inference_dags_link_their_report_and_routing_file(dagbag):
    linked = {(dag_id, link.name) for dag_id in ("scones_monitor", "scones_inference")
              for task in dagbag.dags[dag_id].tasks for link in task.operator_extra_links}
    assert {("scones_monitor", "Drift report"), ("scones_inference", "Routing file")} <= linked
