"""The runtime seam's training and tuning tasks: local execution with job reuse, and the aws operators."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import TaskDeferred
from botocore.exceptions import ClientError

from include.builders.tuning import tuning_job_request
from include.runtime.aws.jobs import AwsJobs, RunScopedTrainingOperator, RunScopedTuningOperator
from include.runtime.local.job_records import LocalJobRegistry
from include.runtime.local.jobs import LocalTrainingOperator, LocalTuningOperator
from tests.training.conftest import OUTPUT_URI, build_request


def _context(try_number: int = 1, rebuild: bool = False) -> dict:
    return {"ti": SimpleNamespace(try_number=try_number), "params": {"rebuild": rebuild}}


class FakeSageMakerHook:
    """Describes jobs from a dict; any create call is recorded (and must not happen when reusing)."""

    non_terminal_states = {"InProgress", "Stopping"}
    failed_states = {"Failed"}

    def __init__(self, jobs: dict[str, dict]) -> None:
        self.jobs = jobs
        self.created: list[dict] = []

    def _describe(self, name: str) -> dict:
        if name not in self.jobs:
            raise ClientError({"Error": {"Code": "ValidationException", "Message": "not found"}}, "Describe")
        return self.jobs[name]

    describe_training_job = _describe
    describe_tuning_job = _describe
    describe_processing_job = _describe

    def create_training_job(self, config: dict, **_: object) -> dict:
        self.created.append(config)
        name = next(config[key] for key in ("TrainingJobName", "HyperParameterTuningJobName", "ProcessingJobName")
                    if key in config)
        self.jobs[name] = {"TrainingJobStatus": "InProgress", "ProcessingJobStatus": "InProgress"}
        return {"ResponseMetadata": {"HTTPStatusCode": 200}}

    create_tuning_job = create_training_job
    create_processing_job = create_training_job

    failed_states = processing_job_failed_states = {"Failed"}

    def configure_s3_resources(self, config: dict) -> None:
        """The provider's S3 uploads before a job starts: the requests here name none."""


def test_local_training_reuses_the_runs_completed_job(settings, probe_request, store, work_root):
    request = probe_request(job_name="scones-training-reused")
    LocalJobRegistry(work_root, "training").record("scones-training-reused",
                                                   {**request, "TrainingJobStatus": "Completed"})
    result = LocalTrainingOperator(task_id="train", config=request).execute(_context(try_number=2))
    assert result["Training"]["TrainingJobStatus"] == "Completed"
    assert store.list(OUTPUT_URI) == []


def test_local_training_retry_starts_the_attempt_name(settings, probe_request, store, work_root):
    request = probe_request(job_name="scones-training-retried")
    LocalJobRegistry(work_root, "training").record("scones-training-retried",
                                                   {**request, "TrainingJobStatus": "Failed"})
    result = LocalTrainingOperator(task_id="train", config=request).execute(_context(try_number=2))
    assert result["Training"]["TrainingJobName"] == "scones-training-retried-t2"
    assert store.exists(f"{OUTPUT_URI}scones-training-retried-t2/output/model.tar.gz")


def test_local_training_rebuild_starts_a_new_job_beside_the_completed_one(settings, probe_request, store, work_root):
    request = probe_request(job_name="scones-training-rebuilt")
    LocalJobRegistry(work_root, "training").record("scones-training-rebuilt",
                                                   {**request, "TrainingJobStatus": "Completed"})
    result = LocalTrainingOperator(task_id="train", config=request).execute(_context(try_number=2, rebuild=True))
    assert result["Training"]["TrainingJobName"] == "scones-training-rebuilt-t2"
    assert store.exists(f"{OUTPUT_URI}scones-training-rebuilt-t2/output/model.tar.gz")


def test_local_tuning_reuses_the_runs_completed_job(settings, work_root):
    config = {"HyperParameterTuningJobName": "scones-tune-x"}
    LocalJobRegistry(work_root, "tuning").record("scones-tune-x", {**config,
                                                                   "HyperParameterTuningJobStatus": "Completed"})
    result = LocalTuningOperator(task_id="tune", config=config).execute(_context())
    assert result["Tuning"]["HyperParameterTuningJobStatus"] == "Completed"


def test_aws_operators_are_deferrable_run_scoped_provider_operators(settings):
    training = AwsJobs(settings).training_job(task_id="train", config={"TrainingJobName": "j"})
    tuning = AwsJobs(settings).tuning_job(task_id="tune", config={"HyperParameterTuningJobName": "t"})
    assert isinstance(training, RunScopedTrainingOperator) and isinstance(tuning, RunScopedTuningOperator)
    assert training.deferrable and tuning.deferrable
    assert training.print_log is False and training.action_if_job_exists == "fail"
    assert training.check_interval == tuning.check_interval == settings.poll_interval_seconds


def test_aws_training_reuses_a_completed_job_without_creating(settings):
    operator = AwsJobs(settings).training_job(task_id="train", config={"TrainingJobName": "scones-training-k"})
    hook = FakeSageMakerHook({"scones-training-k": {"TrainingJobName": "scones-training-k",
                                                    "TrainingJobStatus": "Completed"}})
    operator.__dict__["hook"] = hook
    result = operator.execute(_context(try_number=2))
    assert result == {"Training": {"TrainingJobName": "scones-training-k", "TrainingJobStatus": "Completed"}}
    assert hook.created == []


def test_aws_training_rebuild_creates_a_new_job_beside_the_completed_one(settings):
    operator = AwsJobs(settings).training_job(task_id="train", config={"TrainingJobName": "scones-training-k"})
    hook = FakeSageMakerHook({"scones-training-k": {"TrainingJobName": "scones-training-k",
                                                    "TrainingJobStatus": "Completed"}})
    operator.__dict__["hook"] = hook
    with pytest.raises(TaskDeferred):  # the new job is created, then waited for by the trigger
        operator.execute(_context(try_number=2, rebuild=True))
    assert [config["TrainingJobName"] for config in hook.created] == ["scones-training-k-t2"]


def test_aws_training_waits_for_an_earlier_attempts_running_job(settings):
    operator = AwsJobs(settings).training_job(task_id="train", config={"TrainingJobName": "scones-training-k"})
    hook = FakeSageMakerHook({"scones-training-k": {"TrainingJobStatus": "InProgress"}})
    operator.__dict__["hook"] = hook
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(_context(try_number=2))
    assert deferred.value.trigger.job_name == "scones-training-k"
    assert hook.created == []


def test_aws_tuning_reuses_a_completed_job_without_creating(settings):
    operator = AwsJobs(settings).tuning_job(task_id="tune", config={"HyperParameterTuningJobName": "scones-tune-k"})
    hook = FakeSageMakerHook({"scones-tune-k-t2": {"HyperParameterTuningJobStatus": "Completed"}})
    operator.__dict__["hook"] = hook
    result = operator.execute(_context(try_number=3))
    assert result == {"Tuning": {"HyperParameterTuningJobStatus": "Completed"}}
    assert hook.created == []


def _first_wait(operator, hook: FakeSageMakerHook):
    """The trigger the operator's first attempt defers to, after creating its job."""
    operator.__dict__["hook"] = hook
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(_context(try_number=1))
    assert len(hook.created) == 1
    return deferred.value


def _polls_for(settings, seconds: float) -> int:
    margin = settings.dags.job_timeout_margin_minutes * 60
    return -(-int(seconds + margin) // settings.poll_interval_seconds)


def test_aws_tuning_first_wait_is_bounded_by_the_tuning_budget_not_the_triggers_default(settings, store):
    request = tuning_job_request(settings, run_key="20260101T0000", tuning_job_name="scones-tune-20260101t0000",
                                 training_request_template=build_request(settings, store))
    deferred = _first_wait(AwsJobs(settings).tuning_job(task_id="tune", config=request), FakeSageMakerHook({}))
    waves = -(-settings.tuning.max_jobs // settings.tuning.max_parallel_jobs)
    expected = _polls_for(settings, waves * settings.instances.max_runtime_seconds)
    assert deferred.trigger.attempts == expected != 480
    assert deferred.trigger.waiter_delay == settings.poll_interval_seconds
    assert deferred.timeout.total_seconds() == expected * settings.poll_interval_seconds


def test_aws_tuning_wait_follows_the_requests_own_runtime_limit(settings, store):
    request = tuning_job_request(settings, run_key="20260101T0000", tuning_job_name="scones-tune-20260101t0000",
                                 training_request_template=build_request(settings, store))
    request["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxRuntimeInSeconds"] = 7200
    deferred = _first_wait(AwsJobs(settings).tuning_job(task_id="tune", config=request), FakeSageMakerHook({}))
    assert deferred.trigger.attempts == _polls_for(settings, 7200)


def test_aws_training_first_wait_is_bounded_by_the_jobs_stopping_condition(settings, store):
    request = build_request(settings, store)
    request["StoppingCondition"] = {"MaxRuntimeInSeconds": 900}
    deferred = _first_wait(AwsJobs(settings).training_job(task_id="train", config=request), FakeSageMakerHook({}))
    assert deferred.trigger.attempts == _polls_for(settings, 900)


def test_aws_processing_first_wait_is_bounded_by_the_jobs_stopping_condition(settings):
    request = {"ProcessingJobName": "scones-monitor-20260101t0000", "StoppingCondition": {"MaxRuntimeInSeconds": 600},
               "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                                         "VolumeSizeInGB": 30}}}
    deferred = _first_wait(AwsJobs(settings).processing_job(task_id="analyze", config=request),
                           FakeSageMakerHook({}))
    assert deferred.trigger.attempts == _polls_for(settings, 600)


def test_aws_retry_waits_for_an_earlier_attempts_job_within_the_same_budget(settings, store):
    request = build_request(settings, store)
    request["StoppingCondition"] = {"MaxRuntimeInSeconds": 900}
    operator = AwsJobs(settings).training_job(task_id="train", config=request)
    operator.__dict__["hook"] = FakeSageMakerHook({request["TrainingJobName"]: {"TrainingJobStatus": "InProgress"}})
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(_context(try_number=2))
    assert deferred.value.trigger.attempts == _polls_for(settings, 900)
