"""The ``local`` runtime's jobs: the same Processing, Training and Tuning requests, executed on this machine.

Each operator reuses its run's completed job, like the ``aws`` operators (see ``include/runtime/job_reuse.py``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.sdk import BaseOperator

from include.runtime.job_reuse import choose_job, rebuild_requested
from include.runtime.local.job_records import LocalJobRegistry
from include.runtime.local.store import LocalObjectStore, local_work_root
from include.settings import Settings, get_settings


def local_status(description: dict, status_field: str) -> str:
    # A local job runs inside its task's process: one still "InProgress" belongs to an attempt that died.
    status = description[status_field]
    return "Failed" if status == "InProgress" else status


class LocalJobOperator(BaseOperator):
    """Runs a SageMaker Create*Job request under the local runtime's contract for that kind of job."""

    template_fields = ("config",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"config": "json"}
    ui_color = "#f4e6d0"

    kind: ClassVar[str]
    name_field: ClassVar[str]
    status_field: ClassVar[str]
    result_key: ClassVar[str]

    def __init__(self, *, config: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config

    def run_job(self, request: dict, **kwargs: Any) -> dict:
        raise NotImplementedError

    def execute(self, context: Any) -> dict:
        settings = get_settings()
        registry = LocalJobRegistry(local_work_root(settings), self.kind)
        rebuild = rebuild_requested(context)
        choice = choose_job(
            self.config[self.name_field],
            context["ti"].try_number,
            registry.describe,
            lambda description: local_status(description, self.status_field),
            rebuild=rebuild,
        )
        if rebuild:
            self.log.info("The run asks to rebuild: starting %s job %s instead of reusing this run's.",
                          self.kind, choice.name)
        if choice.action == "reuse":
            self.log.info("Reusing completed %s job %s of this run.", self.kind, choice.name)
            return {self.result_key: choice.description}
        request = {**self.config, self.name_field: choice.name}
        description = self.run_job(request, store=LocalObjectStore(settings.data_root), registry=registry,
                                   log=self.log.info)
        return {self.result_key: description}


class LocalProcessingOperator(LocalJobOperator):
    """Runs a CreateProcessingJob request under the local Processing contract."""

    kind, name_field, status_field, result_key = "processing", "ProcessingJobName", "ProcessingJobStatus", "Processing"

    def run_job(self, request: dict, **kwargs: Any) -> dict:
        from include.runtime.local.processing import run_processing_job

        return run_processing_job(request, **kwargs)


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


class LocalJobs:
    """:class:`~include.runtime.capabilities.JobOperators` on this machine."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def processing_job(self, *, task_id: str, config: Any, **kwargs: Any) -> LocalProcessingOperator:
        return LocalProcessingOperator(task_id=task_id, config=config, **kwargs)

    def training_job(self, *, task_id: str, config: Any, **kwargs: Any) -> LocalTrainingOperator:
        return LocalTrainingOperator(task_id=task_id, config=config, **kwargs)

    def tuning_job(self, *, task_id: str, config: Any, **kwargs: Any) -> LocalTuningOperator:
        return LocalTuningOperator(task_id=task_id, config=config, **kwargs)
