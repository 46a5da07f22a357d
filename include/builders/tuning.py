"""The CreateHyperParameterTuningJob request: the training request's job, searched over settings.tuning."""

from __future__ import annotations

import json

from include.builders.common import tags
from include.run_keys import sanitise
from include.settings import Settings

TUNING_NAME_MAX = 32
RETRY_SUFFIX_ROOM = 4
"""Room left for a retry's ``-tNN`` suffix, so every attempt's name stays within SageMaker's 32 characters."""
OBJECTIVE_HYPERPARAMETER = "_tuning_objective_metric"
_DEFINITION_FIELDS = (
    "RoleArn", "InputDataConfig", "OutputDataConfig", "ResourceConfig", "StoppingCondition",
    "EnableManagedSpotTraining", "CheckpointConfig", "Environment",
)


def tuning_job_name(model_key: str) -> str:
    """``scones-<model key>`` (e.g. ``scones-tune-20260101t0000``), hash-shortened to leave a retry suffix
    within SageMaker's 32 characters."""
    return sanitise(f"scones-{model_key}", TUNING_NAME_MAX - RETRY_SUFFIX_ROOM)


def tuned_names(settings: Settings) -> set[str]:
    tuning = settings.tuning
    return {r.name for r in tuning.continuous} | {r.name for r in tuning.integer} | {r.name for r in tuning.categorical}


def parameter_ranges(settings: Settings) -> dict[str, list[dict]]:
    """settings.tuning's ranges in SageMaker's ParameterRanges shape (every bound a string)."""
    tuning = settings.tuning
    return {
        "ContinuousParameterRanges": [
            {"Name": r.name, "MinValue": str(r.min), "MaxValue": str(r.max), "ScalingType": r.scaling}
            for r in tuning.continuous
        ],
        "IntegerParameterRanges": [
            {"Name": r.name, "MinValue": str(r.min), "MaxValue": str(r.max), "ScalingType": r.scaling}
            for r in tuning.integer
        ],
        "CategoricalParameterRanges": [{"Name": r.name, "Values": list(r.values)} for r in tuning.categorical],
    }


def static_hyperparameters(settings: Settings, training_hyperparameters: dict[str, str]) -> dict[str, str]:
    """The training request's hyperparameters without the tuned ones, at the tuning epoch budget.

    Like the SageMaker Python SDK's tuner, it names the objective metric in ``_tuning_objective_metric``.
    """
    tuned = tuned_names(settings)
    static = {name: value for name, value in training_hyperparameters.items() if name not in tuned}
    static["epochs"] = json.dumps(settings.tuning.epochs)
    static[OBJECTIVE_HYPERPARAMETER] = settings.tuning.objective_metric
    return static


def training_job_definition(settings: Settings, training_request: dict) -> dict:
    """The TrainingJobDefinition every tuning trial is launched from."""
    algorithm = training_request["AlgorithmSpecification"]
    definition = {
        "StaticHyperParameters": static_hyperparameters(settings, training_request["HyperParameters"]),
        "AlgorithmSpecification": {
            "TrainingImage": algorithm["TrainingImage"],
            "TrainingInputMode": algorithm["TrainingInputMode"],
            "MetricDefinitions": algorithm["MetricDefinitions"],
        },
    }
    definition.update({field: training_request[field] for field in _DEFINITION_FIELDS if field in training_request})
    return definition


def tuning_job_request(
    settings: Settings, *, run_key: str, tuning_job_name: str, training_request_template: dict
) -> dict:
    """CreateHyperParameterTuningJob request searching ``settings.tuning`` around a training request."""
    tuning = settings.tuning
    return {
        "HyperParameterTuningJobName": tuning_job_name,
        "HyperParameterTuningJobConfig": {
            "Strategy": tuning.strategy,
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": tuning.objective_metric},
            "ResourceLimits": {
                "MaxNumberOfTrainingJobs": tuning.max_jobs,
                "MaxParallelTrainingJobs": tuning.max_parallel_jobs,
            },
            "ParameterRanges": parameter_ranges(settings),
            "TrainingJobEarlyStoppingType": "Off",
            "RandomSeed": settings.training.seed,
        },
        "TrainingJobDefinition": training_job_definition(settings, training_request_template),
        "Tags": tags(settings, "tuning", run_key),
    }
