"""The local runtime runs a tuning job with Optuna, each trial a local training job."""

from __future__ import annotations

import json
import re

import pytest

from include.builders.tuning import tuning_job_request
from include.runtime.local.job_records import LocalJobRegistry
from include.runtime.local.store import LocalObjectStore
from include.runtime.local.tuning import TRIALS_FILE, TuningJobError, run_tuning_job, trial_job_name
from include.settings import load_settings
from tests.training.conftest import RUN_KEY, build_request, put_partition

TRIAL_NAME = re.compile(r"^scones-tune-test-\d{3}-[0-9a-f]{8}$")


def _tuning_request(settings, training_request, max_jobs: int = 3, max_parallel: int = 2) -> dict:
    request = tuning_job_request(settings, run_key=RUN_KEY, tuning_job_name="scones-tune-test",
                                 training_request_template=training_request)
    request["HyperParameterTuningJobConfig"]["ResourceLimits"] = {
        "MaxNumberOfTrainingJobs": max_jobs, "MaxParallelTrainingJobs": max_parallel}
    return request


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """Three real training jobs, two at a time, 1 epoch each, on the tiny partition."""
    root = tmp_path_factory.mktemp("real-tuning")
    settings = load_settings(environ={"SCONES_DATA_ROOT": str(root / "data"), "SCONES_TUNING__EPOCHS": "1"})
    store = LocalObjectStore(settings.data_root)
    put_partition(store)
    request = _tuning_request(settings, build_request(settings, store))
    registry = LocalJobRegistry(root / "work", "tuning")
    description = run_tuning_job(request, store=store, registry=registry, log=lambda _: None)
    trials = json.loads((registry.job_dir("scones-tune-test") / TRIALS_FILE).read_text())
    return description, trials, LocalJobRegistry(root / "work", "training")


def test_best_training_job_has_the_highest_objective(tuned):
    description, trials, _ = tuned
    assert description["HyperParameterTuningJobStatus"] == "Completed"
    values = [t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for t in trials]
    best = description["BestTrainingJob"]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == max(values)
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"] == "validation:accuracy"


def test_every_trial_is_a_named_local_training_job(tuned):
    description, trials, training_registry = tuned
    assert len(trials) == 3
    assert description["TrainingJobStatusCounters"]["Completed"] == 3
    for trial in trials:
        assert TRIAL_NAME.match(trial["TrainingJobName"])
        job = training_registry.describe(trial["TrainingJobName"])
        assert job["TrainingJobStatus"] == "Completed"
        assert job["HyperParameters"]["epochs"] == "1"
        assert job["HyperParameters"]["learning-rate"] == trial["TunedHyperParameters"]["learning-rate"]


def test_sampled_values_are_strings_within_the_ranges(tuned):
    _, trials, _ = tuned
    for trial in trials:
        tuned_values = trial["TunedHyperParameters"]
        assert 0.0003 <= float(tuned_values["learning-rate"]) <= 0.01
        assert tuned_values["width"] in {"1", "2", "3"}
        assert tuned_values["augment"] in {"true", "false"}


def test_failed_trials_are_counted_not_fatal(settings, probe_request, store, work_root):
    training = probe_request()
    request = _tuning_request(settings, training, max_jobs=3, max_parallel=1)
    request["HyperParameterTuningJobConfig"]["ParameterRanges"] = {
        "CategoricalParameterRanges": [{"Name": "fail", "Values": ["true", "false"]}]}
    description = run_tuning_job(request, store=store, registry=LocalJobRegistry(work_root, "tuning"),
                                 log=lambda _: None)
    counters = description["TrainingJobStatusCounters"]
    assert counters["Completed"] >= 1 and counters["NonRetryableError"] >= 1
    assert counters["Completed"] + counters["NonRetryableError"] == 3
    assert description["ObjectiveStatusCounters"]["Failed"] == counters["NonRetryableError"]
    assert description["BestTrainingJob"]["TunedHyperParameters"] == {"fail": "false"}


def test_tuning_fails_when_every_trial_fails(settings, probe_request, store, work_root):
    request = _tuning_request(settings, probe_request(fail=True), max_jobs=2, max_parallel=2)
    registry = LocalJobRegistry(work_root, "tuning")
    with pytest.raises(TuningJobError, match="All training jobs failed"):
        run_tuning_job(request, store=store, registry=registry, log=lambda _: None)
    assert registry.describe("scones-tune-test")["HyperParameterTuningJobStatus"] == "Failed"


def test_trial_names_follow_sagemaker_and_stay_valid():
    name = trial_job_name("a" * 32, 7)
    assert re.fullmatch(r"a{32}-007-[0-9a-f]{8}", name) and len(name) <= 63
    assert name == trial_job_name("a" * 32, 7) != trial_job_name("a" * 32, 8)
