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
