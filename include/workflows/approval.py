"""A person approves a model version in Airflow: what they are shown, and what each answer does.

With ``registry.approval_status = "PendingManualApproval"`` a registered version waits in a
Human-in-the-loop task (the UI's Required Actions, or ``PATCH .../hitlDetails``) that shows the
candidate's metrics against the serving model. Approve: the registry version becomes Approved, with the
reviewer, the time and the note recorded on it, and the approved-model Asset deploys it. Reject: the
version becomes Rejected with the note. No answer within ``registry.approval_timeout_hours``: the version
stays pending and an alert goes out. A version approved outside Airflow (SageMaker Studio, the API) is
announced by ``scones_registry_watch`` (:func:`newly_approved`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.standard.operators.hitl import HITLOperator
from airflow.sdk import BaseNotifier, Param
from airflow.sdk.definitions.param import ParamsDict

from include import runtime
from include.builders.registry import APPROVAL_AT, APPROVAL_BY, approval_update_request
from include.registry import APPROVED, PENDING, REJECTED, ModelRegistry, model_data_url
from include.run_keys import RUN_KEY_PROPERTY
from include.runtime.capabilities import Alerts
from include.settings import Settings
from include.storage import ObjectStore
from include.web.links import evaluation_page
from include.workflows import training

LOG = logging.getLogger(__name__)
APPROVE = "Approve"
REJECT = "Reject"
NOTE = "note"
DECISIONS = {APPROVE: APPROVED, REJECT: REJECTED}


class ModelApprovalRequest(HITLOperator):
    """Approve or Reject a model version, with a note; an unanswered request ends as ``{"timed_out": True}``.

    The provider's operator fails on a response timeout; here the wait simply ends and the next task records
    that nobody answered, so the run finishes and the version stays pending in the registry.
    """

    def __init__(self, *, response_timeout: timedelta, params: ParamsDict | dict | None = None, **kwargs: Any) -> None:
        # Airflow hands every operator the DAG's params too (the provider keeps only the task's own).
        form = params if isinstance(params, ParamsDict) else ParamsDict(params or {})
        form[NOTE] = Param("", type="string", maxLength=1024, source="task",
                           description="Why (recorded on the registry version as its approval description)")
        super().__init__(options=[APPROVE, REJECT], multiple=False, params=form, response_timeout=response_timeout,
                         **kwargs)

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        if event.get("error_type") == "timeout":
            self.log.warning("No answer within %s: %s", self.response_timeout, event.get("error"))
            return {"timed_out": True, "chosen_options": [], "params_input": {}, "responded_by_user": None,
                    "responded_at": None}
        return super().execute_complete(context=context, event=event)


class ApprovalRequestedAlert(BaseNotifier):
    """Tells reviewers (the alerts topic) that a model version waits for them, with the link to answer."""

    def notify(self, context: Any) -> None:
        task = context["task"]
        try:
            link = HITLOperator.generate_link_to_ui_from_context(context=context)
        except ValueError:
            link = f"Required Actions of {context['dag_run'].dag_id} run {context['dag_run'].run_id}"
        runtime.alerts().publish(f"Approval requested: {task.subject}", f"{task.subject}\nAnswer here: {link}")


def _metric(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def review_request(settings: Settings, store: ObjectStore, *, version: Mapping[str, Any], evaluation_result: dict,
                   serving: Mapping[str, Any] | None) -> dict[str, str]:
    """The approval's subject and Markdown body: candidate vs serving model, the gate's reason, the evaluation.

    ``version`` is a registration summary (:func:`version_summary`); its ``run_key`` is the model's key.
    ``serving`` is the registry record of the version the endpoint serves (``None`` before the first deployment).
    """
    model_key = version["run_key"]
    evaluation_uri, evaluation = training.read_evaluation(store, evaluation_result)
    gate = training.quality_gate(evaluation, settings.gate.min_accuracy, settings.gate.max_regression)
    candidate, champion = evaluation["metrics"], evaluation.get("champion")
    serving_name = f"serving model (version {serving['ModelPackageVersion']})" if serving else "serving model"
    rows = [("accuracy", candidate["accuracy"], champion and champion["accuracy"]),
            ("ECE (expected calibration error)", candidate["ece"], champion and champion.get("ece"))]
    rows += [(f"recall {name}", recall, champion and champion.get("recall", {}).get(name))
             for name, recall in candidate["recall"].items()]
    table = [f"| | candidate (version {version['version']}) | {serving_name} |", "|---|---|---|"]
    table += [f"| {name} | {_metric(mine)} | {_metric(theirs)} |" for name, mine, theirs in rows]
    champion_note = ("The serving model was re-scored on the same test split." if champion else
                     "There is no serving model yet: this would be the first deployment.")
    hours = settings.registry.approval_timeout_hours
    body = "\n".join([
        f"Model version **{version['version']}** of `{settings.registry.model_package_group}` "
        f"(run `{model_key}`), scored on {candidate.get('n', '?')} test images.",
        "",
        *table,
        "",
        champion_note,
        "",
        f"**Quality gate:** {'passed' if gate.passed else 'failed'} — {gate.reason}.",
        "",
        f"**Evaluation:** [report and registry record]({evaluation_page(model_key)}) · `{evaluation_uri}`",
        "",
        f"**Approve** deploys it to endpoint `{settings.deploy.endpoint_name}`; **Reject** records your note on "
        f"the version. Without an answer in {hours:g} h the version stays {PENDING} and an alert goes out.",
    ])
    subject = f"Approve model version {version['version']} (accuracy {candidate['accuracy']:.3f}) for deployment?"
    return {"subject": subject, "body": body}


def _when(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value)
    return datetime.now(UTC)


def record_decision(registry: ModelRegistry, alerts: Alerts, *, version: Mapping[str, Any],
                    review: Mapping[str, Any], via: str, timeout_hours: float) -> dict:
    """Write the reviewer's answer on the registry version, or alert that nobody answered; returns the version."""
    arn = version["model_package_arn"]
    if review.get("timed_out"):
        record = registry.describe(arn)
        message = (f"Model version {version['version']} ({arn}) was neither approved nor rejected within "
                   f"{timeout_hours:g} h ({via}); it stays {record['ModelApprovalStatus']}. Approve it in the model "
                   "registry and scones_registry_watch deploys it, or clear the review task to ask again.")
        alerts.publish(f"Model version {version['version']} is still awaiting approval", message)
        LOG.warning(message)
        return version_summary(record)
    choice = review["chosen_options"][0]
    user = review.get("responded_by_user") or {}
    reviewer = user.get("name") or user.get("id") or "unknown reviewer"
    note = str((review.get("params_input") or {}).get(NOTE) or "")
    request = approval_update_request(registry.describe(arn), DECISIONS[choice], reviewer=reviewer,
                                      at=_when(review.get("responded_at")), via=via, note=note)
    record = registry.update_approval(request)
    LOG.info("Model version %s %s by %s: %s", version["version"], record["ModelApprovalStatus"], reviewer,
             record.get("ApprovalDescription", ""))
    return version_summary(record)


def version_summary(record: Mapping[str, Any]) -> dict:
    """What the workflows pass around about a registry version (and the approved-model Asset carries)."""
    metadata = record.get("CustomerMetadataProperties", {})
    accuracy = metadata.get("scones:accuracy")
    summary = {
        "model_package_arn": record["ModelPackageArn"],
        "version": record["ModelPackageVersion"],
        "approval_status": record["ModelApprovalStatus"],
        "model_data_url": model_data_url(record),
        "run_key": metadata.get(RUN_KEY_PROPERTY),
        "accuracy": float(accuracy) if accuracy else None,
    }
    if metadata.get(APPROVAL_BY):
        summary.update(approved_by=metadata[APPROVAL_BY], approved_at=metadata.get(APPROVAL_AT))
    return summary


def announcement(settings: Settings, record: Mapping[str, Any]) -> dict:
    """The approved-model Asset event's ``extra``: the version, and where its drift baseline is."""
    summary = version_summary(record)
    return {**summary, "baseline": training.baseline_uri(settings, summary["run_key"])}


def newly_approved(registry: ModelRegistry, last_announced_arn: str | None) -> dict | None:
    """The registry's latest approved version when it is not the one last announced (approved outside Airflow)."""
    record = registry.latest_approved()
    if record is None or record["ModelPackageArn"] == last_announced_arn:
        return None
    return record
