"""Day-two data: the README's ``airflow dags test scones_ingest 2026-01-01`` keyed by its date, and unchanged
data on another day not trained on again.

Through Airflow's CLI in a temporary AIRFLOW_HOME and the local runtime (see ``tests/e2e/day_two_runs.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.synthetic import ARCHIVE_NAME, write_cifar_archive
from include.settings import PROJECT_ROOT

pytestmark = pytest.mark.e2e

DATASETS = "s3://scones-mlops/datasets/"


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory, airflow_db_template: Path) -> dict:
    root = tmp_path_factory.mktemp("day-two")
    (root / "airflow").mkdir()
    shutil.copyfile(airflow_db_template, root / "airflow" / "airflow.db")
    archive = root / ARCHIVE_NAME
    md5 = write_cifar_archive(archive, seed=3, train_per_class=20, test_per_class=5)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(root / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "PYTHONPATH": str(PROJECT_ROOT),
        "SCONES_RUNTIME": "local",
        "SCONES_DATA_ROOT": str(root / "data"),
        "SCONES_CIFAR__SOURCE": str(archive),
        "SCONES_CIFAR__MD5": md5,
        "SCONES_POLL_INTERVAL_SECONDS": "1",
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    done = subprocess.run([sys.executable, "-m", "tests.e2e.day_two_runs"], env=env, cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    return {**json.loads(line.removeprefix("RESULT ")), "log": done.stdout + done.stderr}


def test_dags_test_with_a_date_twice_builds_one_partition_with_the_same_manifest(outcome):
    assert list(outcome["after_first"]) == [DATASETS + "20260101T0000/"]
    assert outcome["after_second"] == outcome["after_first"], "same partition, byte-identical manifest"
    assert outcome["ingest_jobs"] == ["scones-ingest-20260101t0000", "scones-ingest-20260102t0000"]


def test_unchanged_data_on_another_day_is_a_new_partition_with_the_same_content(outcome):
    first, second = DATASETS + "20260101T0000/", DATASETS + "20260102T0000/"
    assert sorted(outcome["after_next_day"]) == [first, second]
    assert outcome["after_next_day"][first] != outcome["after_next_day"][second], "manifests name their run"
    assert outcome["content"][first] == outcome["content"][second]


def test_training_on_unchanged_data_stops_before_the_training_job(outcome):
    train = outcome["train"]
    assert train["state"] == "success"
    assert train["has_something_new"] == "success"
    assert train["train"] == train["promote.register_model"] == "skipped"
    assert outcome["training_jobs"] == [] and outcome["versions"] == 1


def test_the_reason_for_not_training_is_in_the_log(outcome):
    assert "not training: the serving model version 1" in outcome["log"]
    assert "force=true" in outcome["log"]
