"""The ``local`` runtime's operators: the same request configs, executed on this machine."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator

from include.runtime.job_reuse import choose_job
from include.runtime.local.jobs import LocalJobRegistry
from include.runtime.local.processing import run_processing_job
from include.runtime.stores import local_work_root, object_store
from include.settings import get_settings


def _local_status(description: dict, status_field: str) -> str:
    # A local job runs inside its task's process: one still "InProgress" belongs to an attempt that died.
    status = description[status_field]
    return "Failed" if status == "InProgress" else status


class LocalProcessingOperator(BaseOperator):
    """Runs a CreateProcessingJob request under the local Processing contract."""

    template_fields = ("config",)
    template_fields_renderers = {"config": "json"}
    ui_color = "#f4e6d0"

    def __init__(self, *, config: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config

    def execute(self, context: Any) -> dict:
        settings = get_settings()
        registry = LocalJobRegistry(local_work_root(settings), "processing")
        choice = choose_job(
            self.config["ProcessingJobName"],
            context["ti"].try_number,
            registry.describe,
            lambda description: _local_status(description, "ProcessingJobStatus"),
        )
        if choice.action == "reuse":
            self.log.info("Reusing completed processing job %s of this run.", choice.name)
            return {"Processing": choice.description}
        request = {**self.config, "ProcessingJobName": choice.name}
        description = run_processing_job(
            request, store=object_store(settings), registry=registry, log=self.log.info
        )
        return {"Processing": description}
