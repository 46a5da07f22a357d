"""The approval's steps: what the reviewer is shown, what each answer writes, and versions approved elsewhere."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from include.builders.registry import APPROVAL_BY, approval_update_request
from include.runtime.local.alerts import FileAlerts, read_alerts
from include.runtime.local.registry import LocalModelRegistry
from include.runtime.local.store import LocalObjectStore
from include.workflows import approval
from tests.unit.test_registry_approval import pending_request

EVALUATION = {
    "metrics": {"accuracy": 0.912, "ece": 0.031, "recall": {"bicycle": 0.95, "motorcycle": 0.874}, "n": 200},
    "champion": {"accuracy": 0.887, "ece": 0.052, "recall": {"bicycle": 0.9, "motorcycle": 0.874}, "n": 200},
    "confusion_matrix": {"labels": ["bicycle", "motorcycle"], "matrix": [[95, 5], [13, 87]]},
}


@pytest.fixture
def registry(settings) -> LocalModelRegistry:
    return LocalModelRegistry(settings)


def evaluation_result(settings, store, run_key: str, report: dict = EVALUATION) -> dict:
    prefix = settings.s3_uri("models", run_key, "evaluation")
    store.put_bytes(prefix + "/evaluation.json", json.dumps(report).encode())
    return {"Processing": {"ProcessingOutputConfig": {"Outputs": [{"S3Output": {"S3Uri": prefix + "/"}}]}}}


def registered(settings, registry, run_key: str, status: str = "PendingManualApproval") -> dict:
    record = registry.register({**pending_request(settings, run_key), "ModelApprovalStatus": status})
    return approval.version_summary(record)


def test_the_reviewer_sees_metrics_against_the_serving_model_the_gate_and_the_evaluation(settings, registry):
    store = LocalObjectStore(settings.data_root)
    registered(settings, registry, "train-serving", status="Approved")
    version = registered(settings, registry, "train-candidate")
    request = approval.review_request(settings, store, version=version,
                                      evaluation_result=evaluation_result(settings, store, "train-candidate"),
                                      serving=registry.latest_approved())
    body = request["body"]
    assert "| candidate (version 2) | serving model (version 1) |" in body
    for row in ("| accuracy | 0.9120 | 0.8870 |", "| ECE (expected calibration error) | 0.0310 | 0.0520 |",
                "| recall bicycle | 0.9500 | 0.9000 |", "| recall motorcycle | 0.8740 | 0.8740 |"):
        assert row in body
    assert "**Quality gate:** passed — accuracy 0.9120 >= floor 0.8000; champion 0.8870." in body
    assert "/scones/models/train-candidate/evaluation" in body
    assert settings.s3_uri("models/train-candidate/evaluation/evaluation.json") in body
    assert request["subject"] == "Approve model version 2 (accuracy 0.912) for deployment?"


def test_without_a_serving_model_the_table_says_so(settings, registry):
    store = LocalObjectStore(settings.data_root)
    version = registered(settings, registry, "train-first")
    result = evaluation_result(settings, store, "train-first", {**EVALUATION, "champion": None})
    body = approval.review_request(settings, store, version=version, evaluation_result=result, serving=None)["body"]
    assert "| accuracy | 0.9120 | — |" in body and "no serving model yet" in body


def answer(choice: str, note: str = "", user: str = "alice") -> dict:
    return {"chosen_options": [choice], "params_input": {"note": note},
            "responded_by_user": {"id": user, "name": user}, "responded_at": datetime(2026, 3, 1, 12, tzinfo=UTC)}


def test_approve_marks_the_version_approved_by_the_reviewer(settings, registry):
    version = registered(settings, registry, "train-ok")
    decision = approval.record_decision(registry, FileAlerts(settings), version=version,
                                        review=answer("Approve", "fine"), via="Airflow scones_train run r",
                                        timeout_hours=72)
    assert (decision["approval_status"], decision["approved_by"]) == ("Approved", "alice")
    assert registry.describe(version["model_package_arn"])["ApprovalDescription"] == "fine"


def test_reject_records_the_reviewers_note(settings, registry):
    version = registered(settings, registry, "train-no")
    decision = approval.record_decision(registry, FileAlerts(settings), version=version,
                                        review=answer("Reject", "misses motorcycles at night", user="bob"),
                                        via="Airflow", timeout_hours=72)
    record = registry.describe(version["model_package_arn"])
    assert decision["approval_status"] == "Rejected"
    assert (record["ApprovalDescription"], record["CustomerMetadataProperties"][APPROVAL_BY]) == (
        "misses motorcycles at night", "bob")


def test_no_answer_leaves_the_version_pending_and_alerts(settings, registry):
    version = registered(settings, registry, "train-late")
    timed_out = {"timed_out": True, "chosen_options": [], "params_input": {}, "responded_by_user": None}
    decision = approval.record_decision(registry, FileAlerts(settings), version=version, review=timed_out,
                                        via="Airflow scones_train run r", timeout_hours=72)
    assert decision["approval_status"] == "PendingManualApproval"
    (alert,) = read_alerts(settings)
    assert alert["subject"] == "Model version 1 is still awaiting approval"
    assert "within 72 h" in alert["message"] and "scones_registry_watch" in alert["message"]


def test_a_version_approved_outside_airflow_is_newly_approved_once(settings, registry):
    version = registered(settings, registry, "train-studio")
    assert approval.newly_approved(registry, None) is None
    registry.update_approval(approval_update_request(registry.describe(version["model_package_arn"]), "Approved",
                                                     reviewer="studio-user", at=datetime.now(UTC), via="Studio"))
    found = approval.newly_approved(registry, last_announced_arn="local:model-package/other/9")
    assert found["ModelPackageArn"] == version["model_package_arn"]
    assert approval.newly_approved(registry, last_announced_arn=version["model_package_arn"]) is None
    extra = approval.announcement(settings, found)
    assert extra["baseline"] == settings.s3_uri("models/train-studio/baseline") + "/"
    assert (extra["approval_status"], extra["approved_by"]) == ("Approved", "studio-user")
