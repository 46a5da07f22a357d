"""The ``local`` runtime's training and tuning operators: the same request configs, run on this machine."""

from __future__ import annotations

from typing import Any

from include.runtime.local.operators import LocalJobOperator


class LocalTrainingOperator(LocalJobOperator):
    """Runs a CreateTrainingJob request under the local training container contract."""

    kind, name_field, status_field, result_key = "training", "TrainingJobName", "TrainingJobStatus", "Training"

    def run_job(self, request: dict, **kwargs: Any) -> dict:
        from include.runtime.local.training import run_training_job

        return run_training_job(request, **kwargs)


class LocalTuningOperator(LocalJobOperator):
    """Runs a CreateHyperParameterTuningJob request with Optuna, each trial a local training job."""

    kind, name_field, result_key = "tuning", "HyperParameterTuningJobName", "Tuning"
    status_field = "HyperParameterTuningJobStatus"

    def run_job(self, request: dict, **kwargs: Any) -> dict:
        from include.runtime.local.tuning import run_tuning_job

        return run_tuning_job(request, **kwargs)
