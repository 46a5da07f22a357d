"""A tuning job as moto cannot run it: a real best training job, whose model artifact exists.

moto completes a tuning job at once and names a fixed ``FakeTrainingJobName`` as its best
training job. Here the best job is named as SageMaker names a tuning job's trials
(``<tuning job>-NNN-<8 hex>``), reports the objective metric and tuned values, and its
``model.tar.gz`` is written under the definition's ``S3OutputPath`` when the tuning job is created.
Evaluation and baseline jobs behave as in :mod:`tests.aws.train_scenario`.
"""

from __future__ import annotations

from typing import Any

from tests.aws.recorder import RequestRecorder
from tests.aws.train_scenario import (
    PASSING_ACCURACY,
    pin_manual_run_ids,
    simulate_processing_jobs,
    write_model_artifact,
)

BEST_TRIAL_SUFFIX = "-004-3f2a9c1e"
BEST_TUNED_HYPERPARAMETERS = {"learning-rate": "0.0012", "dropout": "0.25", "width": "3", "augment": "false"}
BEST_OBJECTIVE_VALUE = 0.94


def best_training_job_name(tuning_job_name: str) -> str:
    return tuning_job_name + BEST_TRIAL_SUFFIX


def install(recorder: RequestRecorder) -> None:
    pin_manual_run_ids()
    s3 = recorder.client("s3")

    def write_best_artifact(params: dict[str, Any], transport: str) -> None:
        output_path = params["TrainingJobDefinition"]["OutputDataConfig"]["S3OutputPath"]
        write_model_artifact(s3, output_path, best_training_job_name(params["HyperParameterTuningJobName"]))

    def real_best_training_job(params: dict[str, Any], parsed: dict[str, Any], transport: str) -> None:
        tuning_job_name = params["HyperParameterTuningJobName"]
        best = parsed.get("BestTrainingJob")
        if best is None:
            return
        name = best_training_job_name(tuning_job_name)
        objective = parsed["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
        best.update({
            "TrainingJobName": name,
            "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
            "TuningJobName": tuning_job_name,
            "TunedHyperParameters": dict(BEST_TUNED_HYPERPARAMETERS),
            "FinalHyperParameterTuningJobObjectiveMetric": {**objective, "Value": BEST_OBJECTIVE_VALUE},
        })
        best.pop("FailureReason", None)
        parsed.pop("OverallBestTrainingJob", None)

    recorder.observe("sagemaker", "CreateHyperParameterTuningJob", write_best_artifact)
    recorder.amend("sagemaker", "DescribeHyperParameterTuningJob", real_best_training_job)
    simulate_processing_jobs(recorder, PASSING_ACCURACY)
