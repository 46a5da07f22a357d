"""Run a CreateHyperParameterTuningJob request on this machine: Optuna's TPE over the request's ranges.

Each trial is a local training job built from the TrainingJobDefinition plus the sampled
hyperparameters (strings, as SageMaker passes them), named ``<tuning job>-<NNN>-<8 hex>``.
Its objective is the final value of the objective metric, parsed with the job's own
MetricDefinitions. A failed trial counts as failed; the tuning job fails only if all do.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from typing import Any

import optuna

from include.runtime.capabilities import JobFailedError
from include.runtime.local.job_records import LocalJobRegistry, now_iso
from include.runtime.local.training import TrainingJobError, cpu_count, run_training_job
from include.storage import ObjectStore

TRIALS_FILE = "training_jobs.json"
_TRAINING_FIELDS = (
    "RoleArn", "InputDataConfig", "OutputDataConfig", "ResourceConfig", "StoppingCondition",
    "EnableManagedSpotTraining", "Environment",
)


class TuningJobError(JobFailedError):
    """A local tuning job failed (every training job it launched failed)."""


def trial_job_name(tuning_job_name: str, number: int) -> str:
    """``<tuning job>-<NNN>-<8 hex>``, SageMaker's naming for the jobs a tuning job launches."""
    suffix = hashlib.sha256(f"{tuning_job_name}/{number}".encode()).hexdigest()[:8]
    return f"{tuning_job_name}-{number:03d}-{suffix}"


def sampler_seed(request: dict) -> int:
    """The request's RandomSeed, else one derived from the tuning job's name."""
    seed = request["HyperParameterTuningJobConfig"].get("RandomSeed")
    if seed is not None:
        return int(seed)
    return int(hashlib.sha256(request["HyperParameterTuningJobName"].encode()).hexdigest()[:8], 16)


def suggest_hyperparameters(trial: optuna.Trial, ranges: dict[str, list[dict]]) -> dict[str, str]:
    """One sample of every range, rendered as the strings SageMaker passes to a training job."""
    values: dict[str, str] = {}
    for spec in ranges.get("ContinuousParameterRanges", []):
        log = spec.get("ScalingType") == "Logarithmic"
        values[spec["Name"]] = repr(trial.suggest_float(spec["Name"], float(spec["MinValue"]),
                                                        float(spec["MaxValue"]), log=log))
    for spec in ranges.get("IntegerParameterRanges", []):
        log = spec.get("ScalingType") == "Logarithmic"
        values[spec["Name"]] = str(trial.suggest_int(spec["Name"], int(spec["MinValue"]),
                                                     int(spec["MaxValue"]), log=log))
    for spec in ranges.get("CategoricalParameterRanges", []):
        values[spec["Name"]] = str(trial.suggest_categorical(spec["Name"], list(spec["Values"])))
    return values


def trial_request(request: dict, name: str, tuned: dict[str, str]) -> dict:
    """The CreateTrainingJob request of one trial, from the TrainingJobDefinition."""
    definition = request["TrainingJobDefinition"]
    algorithm = definition["AlgorithmSpecification"]
    training = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {key: algorithm[key] for key in
                                   ("TrainingImage", "TrainingInputMode", "MetricDefinitions") if key in algorithm},
        "HyperParameters": {**definition.get("StaticHyperParameters", {}), **tuned},
        **{field: definition[field] for field in _TRAINING_FIELDS if field in definition},
    }
    if "CheckpointConfig" in definition:
        # Trials never share checkpoints: each keeps its own under the definition's S3Uri.
        checkpoint = definition["CheckpointConfig"]
        training["CheckpointConfig"] = {**checkpoint, "S3Uri": f"{checkpoint['S3Uri'].rstrip('/')}/{name}/"}
    return training


def objective_value(description: dict, metric_name: str) -> float:
    for metric in description.get("FinalMetricDataList", []):
        if metric["MetricName"] == metric_name:
            return float(metric["Value"])
    raise TrainingJobError(
        f"training job {description['TrainingJobName']} logged no {metric_name}: "
        "check the MetricDefinitions regex against the program's log lines"
    )


def parallelism(request: dict, n_parallel: int | None) -> int:
    """MaxParallelTrainingJobs, capped by ``n_parallel`` and by this machine's cores."""
    limit = request["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxParallelTrainingJobs"]
    return max(1, min(limit, n_parallel or limit, cpu_count()))


def run_tuning_job(
    request: dict,
    *,
    store: ObjectStore,
    registry: LocalJobRegistry,
    log: Callable[[str], None],
    n_parallel: int | None = None,
) -> dict:
    """Execute ``request`` and return its DescribeHyperParameterTuningJob-shaped description."""
    name = request["HyperParameterTuningJobName"]
    config = request["HyperParameterTuningJobConfig"]
    objective = config["HyperParameterTuningJobObjective"]
    if objective["Type"] not in ("Maximize", "Minimize"):
        raise TuningJobError(f"tuning job {name}: objective type {objective['Type']!r} must be Maximize or Minimize")
    description = {**request, "HyperParameterTuningJobArn": f"local:hyper-parameter-tuning-job/{name}",
                   "HyperParameterTuningJobStatus": "InProgress", "CreationTime": now_iso()}
    registry.record(name, description)
    training_registry = LocalJobRegistry(registry.root.parent, "training")
    parallel = parallelism(request, n_parallel)
    cpus_per_job = max(1, cpu_count() // parallel)
    summaries: list[dict] = []
    lock = threading.Lock()

    def run_trial(trial: optuna.Trial) -> float:
        job_name = trial_job_name(name, trial.number + 1)
        tuned = suggest_hyperparameters(trial, config["ParameterRanges"])
        summary = {"TrainingJobName": job_name, "TrainingJobArn": f"local:training-job/{job_name}",
                   "TunedHyperParameters": tuned, "CreationTime": now_iso()}
        log(f"trial {job_name}: {json.dumps(tuned, sort_keys=True)}")
        try:
            trained = run_training_job(trial_request(request, job_name, tuned), store=store,
                                       registry=training_registry, log=lambda line: log(f"[{job_name}] {line}"),
                                       num_cpus=cpus_per_job)
            value = objective_value(trained, objective["MetricName"])
        except TrainingJobError as error:
            failed = training_registry.describe(job_name) or {}
            summary.update(TrainingJobStatus="Failed", ObjectiveStatus="Failed",
                           FailureReason=failed.get("FailureReason", str(error)))
            with lock:
                summaries.append(summary)
            raise
        summary.update(
            TrainingJobStatus="Completed", ObjectiveStatus="Succeeded",
            TrainingStartTime=trained["TrainingStartTime"], TrainingEndTime=trained["TrainingEndTime"],
            FinalHyperParameterTuningJobObjectiveMetric={"Type": objective["Type"],
                                                         "MetricName": objective["MetricName"], "Value": value},
        )
        with lock:
            summaries.append(summary)
        log(f"trial {job_name}: {objective['MetricName']} = {value}")
        return value

    study = optuna.create_study(
        direction="maximize" if objective["Type"] == "Maximize" else "minimize",
        sampler=optuna.samplers.TPESampler(seed=sampler_seed(request)),
    )
    study.optimize(run_trial, n_trials=config["ResourceLimits"]["MaxNumberOfTrainingJobs"], n_jobs=parallel,
                   catch=(TrainingJobError,))
    summaries.sort(key=lambda s: s["TrainingJobName"])
    (registry.job_dir(name) / TRIALS_FILE).write_text(json.dumps(summaries, indent=2))
    final = {**description, **tuning_outcome(summaries, objective), "LastModifiedTime": now_iso(),
             "HyperParameterTuningEndTime": now_iso()}
    registry.record(name, final)
    if final["HyperParameterTuningJobStatus"] == "Failed":
        raise TuningJobError(f"tuning job {name} failed: {final['FailureReason']}", job_name=name,
                             failure_reason=final["FailureReason"])
    return final


def tuning_outcome(summaries: list[dict], objective: dict) -> dict[str, Any]:
    """Status, counters and the best training job of a finished tuning job."""
    completed = [s for s in summaries if s["TrainingJobStatus"] == "Completed"]
    failed = len(summaries) - len(completed)
    outcome: dict[str, Any] = {
        "TrainingJobStatusCounters": {"Completed": len(completed), "InProgress": 0, "RetryableError": 0,
                                      "NonRetryableError": failed, "Stopped": 0},
        "ObjectiveStatusCounters": {"Succeeded": len(completed), "Pending": 0, "Failed": failed},
    }
    if not completed:
        reasons = "; ".join(f"{s['TrainingJobName']}: {s.get('FailureReason', '')}" for s in summaries[:3])
        return {**outcome, "HyperParameterTuningJobStatus": "Failed",
                "FailureReason": f"All training jobs failed ({reasons})"}
    sign = 1 if objective["Type"] == "Maximize" else -1
    best = max(completed, key=lambda s: sign * s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
    return {**outcome, "HyperParameterTuningJobStatus": "Completed", "BestTrainingJob": best}
