"""The ``local`` runtime's training and tuning operators: the same request configs, run on this machine."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator

from include.runtime.job_reuse import choose_job
from include.runtime.local.jobs import LocalJobRegistry
from include.runtime.stores import local_work_root, object_store
from include.settings import get_settings


def _local_status(description: dict, status_field: str) -> str:
    # A local job runs inside its task's process: one still "InProgress" belongs to an attempt that died.
    status = description[status_field]
    return "Failed" if status == "InProgress" else status


class LocalTrainingOperator(BaseOperator):
    """Runs a CreateTrainingJob request under the local training container contract."""

    template_fields = ("config",)
    template_fields_renderers = {"config": "json"}
    ui_color = "#f4e6d0"

    def __init__(self, *, config: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config

    def execute(self, context: Any) -> dict:
        from include.runtime.local.training import run_training_job

        settings = get_settings()
        registry = LocalJobRegistry(local_work_root(settings), "training")
        choice = choose_job(
            self.config["TrainingJobName"],
            context["ti"].try_number,
            registry.describe,
            lambda description: _local_status(description, "TrainingJobStatus"),
        )
        if choice.action == "reuse":
            self.log.info("Reusing completed training job %s of this run.", choice.name)
            return {"Training": choice.description}
        request = {**self.config, "TrainingJobName": choice.name}
        description = run_training_job(request, store=object_store(settings), registry=registry, log=self.log.info)
        return {"Training": description}


class LocalTuningOperator(BaseOperator):
    """Runs a CreateHyperParameterTuningJob request with Optuna, each trial a local training job."""

    template_fields = ("config",)
    template_fields_renderers = {"config": "json"}
    ui_color = "#f4e6d0"

    def __init__(self, *, config: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config

    def execute(self, context: Any) -> dict:
        from include.runtime.local.tuning import run_tuning_job

        settings = get_settings()
        registry = LocalJobRegistry(local_work_root(settings), "tuning")
        choice = choose_job(
            self.config["HyperParameterTuningJobName"],
            context["ti"].try_number,
            registry.describe,
            lambda description: _local_status(description, "HyperParameterTuningJobStatus"),
        )
        if choice.action == "reuse":
            self.log.info("Reusing completed tuning job %s of this run.", choice.name)
            return {"Tuning": choice.description}
        request = {**self.config, "HyperParameterTuningJobName": choice.name}
        description = run_tuning_job(request, store=object_store(settings), registry=registry, log=self.log.info)
        return {"Tuning": description}
