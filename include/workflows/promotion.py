"""The tail both training workflows share: evaluate, gate, register, baseline, approve, announce.

``promote_model`` adds those tasks to the DAG being defined, so ``scones_train`` and
``scones_tune`` run the same promotion logic, written once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import TriggerRule, task, task_group

from include import runtime
from include.assets import APPROVED_MODEL
from include.deployed_model import serving_version_or_none
from include.registry import APPROVED, PENDING
from include.run_keys import job_name, run_key_from_context
from include.settings import get_settings
from include.workflows import approval, training


def model_key(prefix: str, context: dict[str, Any]) -> str:
    """Run-derived key for everything about this run's model: ``<workflow>-<run key>``."""
    return f"{prefix}-{run_key_from_context(context)}"


def promote_model(candidate: Any, prefix: str) -> Any:
    """Wire evaluation → gate → registration → baseline → approval → approved-model Asset after ``candidate``.

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
        def passes_quality_gate(candidate: dict, evaluation_result: dict, **context) -> bool:
            """A failed gate ends the run cleanly: downstream is skipped, the reason logged, and the candidate's
            inputs recorded so a run on the same inputs stops before training."""
            settings = get_settings()
            store = runtime.object_store(settings)
            _, evaluation = training.read_evaluation(store, evaluation_result)
            decision = training.quality_gate(evaluation, settings.gate.min_accuracy, settings.gate.max_regression)
            print(f"quality gate {'PASSED' if decision.passed else 'FAILED'}: {decision.reason}")
            if not decision.passed:
                recorded = training.record_failed_candidate(settings, store, candidate,
                                                            run_key=model_key(prefix, context),
                                                            reason=decision.reason,
                                                            accuracy=evaluation["metrics"]["accuracy"])
                print(f"recorded the refused candidate's inputs at {recorded}" if recorded else
                      "the partition has no content digest: the refused candidate's inputs are not recorded")
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
                hyperparameters=candidate["hyperparameters"],
                warm_start_model_url=candidate.get("warm_start_model_url"))

        @task
        def build_baseline_request(candidate: dict, evaluation_result: dict, **context) -> dict:
            settings = get_settings()
            store = runtime.object_store(settings)
            evaluation_uri, _ = training.read_evaluation(store, evaluation_result)
            key = model_key(prefix, context)
            return training.build_baseline_request(settings, store, run_key=key, job_name=job_name("baseline", key),
                                                   evaluation_uri=evaluation_uri, model_url=candidate["model_url"])

        evaluation = runtime.processing_job(task_id="evaluate", config=build_evaluation_request(candidate))
        version = register_model(candidate, evaluation.output)
        passes_quality_gate(candidate, evaluation.output) >> version
        baseline_request = build_baseline_request(candidate, evaluation.output)
        version >> baseline_request
        baseline = runtime.processing_job(task_id="baseline", config=baseline_request)
        approve_then_announce(version, evaluation.output, after=baseline)

    return promote(candidate)


def approve_then_announce(version: Any, evaluation_result: Any, *, after: Any,
                          response_timeout: timedelta | None = None) -> Any:
    """Wire the approval after ``after``: a version registered Approved is announced at once; a pending one
    waits for a reviewer (:mod:`include.workflows.approval`) and is announced only if approved.

    ``version`` is an XComArg of the registration summary; ``response_timeout`` defaults to
    ``registry.approval_timeout_hours``. Returns the announcement task.
    """
    settings = get_settings()
    timeout = response_timeout or timedelta(hours=settings.registry.approval_timeout_hours)

    @task
    def approved_at_registration(version: dict) -> dict:
        print(f"model version {version['version']} was registered {APPROVED} (registry.approval_status)")
        return version

    @task(multiple_outputs=True)
    def describe_for_review(version: dict, evaluation_result: dict) -> dict:
        settings = get_settings()
        serving = serving_version_or_none(settings, runtime.served_models(settings), runtime.model_registry(settings))
        return approval.review_request(settings, runtime.object_store(settings), version=version,
                                       evaluation_result=evaluation_result, serving=serving)

    @task
    def record_review_decision(version: dict, review: dict, **context) -> dict:
        settings = get_settings()
        run = context["dag_run"]
        return approval.record_decision(runtime.model_registry(settings), runtime.alerts(settings), version=version,
                                        review=review, via=f"Airflow {run.dag_id} run {run.run_id}",
                                        timeout_hours=timeout.total_seconds() / 3600)

    @task.short_circuit
    def approved_by_reviewer(decision: dict) -> bool:
        if decision["approval_status"] != APPROVED:
            print(f"model version {decision['version']} is {decision['approval_status']}: not deployed")
        return decision["approval_status"] == APPROVED

    @task(outlets=[APPROVED_MODEL], trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    def announce_approved_model(version: dict, **context) -> dict:
        settings = get_settings()
        record = runtime.model_registry(settings).describe(version["model_package_arn"])
        announcement = approval.announcement(settings, record)
        context["outlet_events"][APPROVED_MODEL].extra = announcement
        return announcement

    automatic = approved_at_registration(version)
    summary = describe_for_review(version, evaluation_result)
    review = approval.ModelApprovalRequest(
        task_id="review_model_version", subject=summary["subject"], body=summary["body"],
        response_timeout=timeout, notifiers=[approval.ApprovalRequestedAlert()])
    summary >> review

    @task.branch
    def choose_approval_path(version: dict) -> list[str]:
        """Registered Approved → announce; PendingManualApproval → ask a reviewer; Rejected → nothing to do."""
        status = version["approval_status"]
        if status == APPROVED:
            return [automatic.operator.task_id]
        if status == PENDING:
            return [summary.operator.task_id]
        print(f"model version {version['version']} is {status}: nothing to approve or deploy")
        return []

    path = choose_approval_path(version)
    after >> path >> [automatic, summary]
    decision = record_review_decision(version, review.output)
    announce = announce_approved_model(version)
    [automatic, approved_by_reviewer(decision)] >> announce
    return announce
