"""The tail both training workflows share: evaluate, gate, register, baseline, announce.

``promote_model`` adds those tasks to the DAG being defined, so ``scones_train`` and
``scones_tune`` run the same promotion logic, written once.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import task, task_group

from include import runtime
from include.assets import APPROVED_MODEL
from include.run_keys import job_name, run_key_from_context
from include.settings import get_settings
from include.workflows import training


def model_key(prefix: str, context: dict[str, Any]) -> str:
    """Run-derived key for everything about this run's model: ``<workflow>-<run key>``."""
    return f"{prefix}-{run_key_from_context(context)}"


def promote_model(candidate: Any, prefix: str) -> Any:
    """Wire evaluation → gate → registration → baseline → approved-model Asset after ``candidate``.

    ``candidate`` is an XComArg of ``{"model_url", "training_job_name", "hyperparameters", "partition"}``.
    """

    @task_group(group_id="promote")
    def promote(candidate: Any) -> None:
        @task
        def build_evaluation_request(candidate: dict, **context) -> dict:
            settings = get_settings()
            key = model_key(prefix, context)
            return training.build_evaluation_request(
                settings, runtime.object_store(settings), runtime.model_registry(settings),
                runtime.served_models(settings), run_key=key, job_name=job_name("evaluate", key),
                model_url=candidate["model_url"], partition=candidate["partition"])

        @task.short_circuit
        def passes_quality_gate(evaluation_result: dict) -> bool:
            """A failed gate ends the run cleanly: downstream is skipped and the reason logged."""
            settings = get_settings()
            _, evaluation = training.read_evaluation(runtime.object_store(settings), evaluation_result)
            decision = training.quality_gate(evaluation, settings.gate.min_accuracy, settings.gate.max_regression)
            print(f"quality gate {'PASSED' if decision.passed else 'FAILED'}: {decision.reason}")
            return decision.passed

        @task
        def register_model(candidate: dict, evaluation_result: dict, **context) -> dict:
            settings = get_settings()
            store = runtime.object_store(settings)
            evaluation_uri, evaluation = training.read_evaluation(store, evaluation_result)
            return training.register(
                settings, store, runtime.model_registry(), run_key=model_key(prefix, context),
                model_url=candidate["model_url"], evaluation_uri=evaluation_uri, evaluation=evaluation,
                partition=candidate["partition"], training_job_name=candidate["training_job_name"],
                hyperparameters=candidate["hyperparameters"])

        @task
        def build_baseline_request(evaluation_result: dict, **context) -> dict:
            settings = get_settings()
            store = runtime.object_store(settings)
            evaluation_uri, _ = training.read_evaluation(store, evaluation_result)
            key = model_key(prefix, context)
            return training.build_baseline_request(settings, store, run_key=key, job_name=job_name("baseline", key),
                                                   evaluation_uri=evaluation_uri)

        @task.short_circuit
        def is_approved(version: dict) -> bool:
            """Where a version registered ``PendingManualApproval`` stops. Approving it later must update the
            ``scones_approved_model`` Asset with ``{"model_package_arn": ...}`` for scones_deploy to deploy it."""
            if version["approval_status"] != "Approved":
                print(f"model version {version['version']} is {version['approval_status']}: "
                      "deployment waits for its approval in the registry")
            return version["approval_status"] == "Approved"

        @task(outlets=[APPROVED_MODEL])
        def announce_approved_model(version: dict, **context) -> dict:
            settings = get_settings()
            announcement = {**version, "baseline": training.baseline_uri(settings, model_key(prefix, context))}
            context["outlet_events"][APPROVED_MODEL].extra = announcement
            return announcement

        evaluation = runtime.processing_job(task_id="evaluate", config=build_evaluation_request(candidate))
        version = register_model(candidate, evaluation.output)
        passes_quality_gate(evaluation.output) >> version
        baseline_request = build_baseline_request(evaluation.output)
        version >> baseline_request
        baseline = runtime.processing_job(task_id="baseline", config=baseline_request)
        [baseline, is_approved(version)] >> announce_approved_model(version)

    return promote(candidate)
