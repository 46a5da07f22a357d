"""Model approval end to end: a real scheduler runs the approval tail, a reviewer answers through the REST API.

Three versions wait at once: one is approved, one rejected, one left unanswered until its response timeout.
A fourth is approved straight in the registry and reaches deployment through ``scones_registry_watch``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from include.builders.registry import APPROVAL_BY, approval_update_request
from include.runtime.local.alerts import read_alerts
from include.runtime.local.registry import LocalModelRegistry
from include.runtime.local.store import LocalObjectStore
from include.workflows import deploy
from tests.hitl.airflow_users import AirflowWithUsers, DagRunProcess, wait_until
from tests.unit.test_approval_steps import EVALUATION
from tests.unit.test_registry_approval import pending_request

pytestmark = pytest.mark.e2e

ANSWERED, UNANSWERED, WATCH = "scones_approval_answered", "scones_approval_unanswered", "scones_registry_watch"
REVIEW_TASK = "review_model_version"


@dataclass
class Scenario:
    arn: str
    run_id: str = ""
    outcome: dict | None = None
    shown: dict | None = None
    viewer_answer: int | None = None
    answer: dict | None = None


def register_pending(env: AirflowWithUsers, run_key: str) -> tuple[str, str]:
    settings = env.settings
    prefix = settings.s3_uri("models", run_key, "evaluation") + "/"
    LocalObjectStore(settings.data_root).put_bytes(prefix + "evaluation.json", json.dumps(EVALUATION).encode())
    record = LocalModelRegistry(settings).register(pending_request(settings, run_key))
    return record["ModelPackageArn"], prefix


def run_of(env: AirflowWithUsers, dag_id: str, arn: str) -> str | None:
    """The run triggered for ``arn`` (``None`` until its process has written the DAG and the run)."""
    response = env.clients["alice"].request("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100})
    runs = response.json()["dag_runs"] if response.status_code == 200 else []
    return next((run["dag_run_id"] for run in runs if (run.get("conf") or {}).get("model_package_arn") == arn), None)


def awaiting_input(env: AirflowWithUsers, dag_id: str, run_id: str) -> dict | None:
    alice = env.clients["alice"]
    if alice.task_states(dag_id, run_id).get(REVIEW_TASK) != "awaiting_input":
        return None
    response = alice.request("GET", alice.hitl_path(dag_id, run_id, REVIEW_TASK))
    return response.json() if response.status_code == 200 else None


@dataclass
class Scenarios:
    runs: dict[str, Scenario]
    watch: DagRunProcess
    """Two scones_registry_watch runs, waiting for ``watch_go`` to exist (their process is up already)."""
    watch_go: Path


@pytest.fixture(scope="module")
def scenarios(airflow_with_users: AirflowWithUsers, tmp_path_factory: pytest.TempPathFactory) -> Scenarios:
    env = airflow_with_users
    alice, bob, victor = (env.clients[name] for name in ("alice", "bob", "victor"))
    watch_go = tmp_path_factory.mktemp("watch") / "go"
    watch = env.run_dag(WATCH, times=2, after=watch_go)
    runs, processes = {}, {}
    for name, dag_id in (("approve", ANSWERED), ("reject", ANSWERED), ("timeout", UNANSWERED)):
        arn, prefix = register_pending(env, f"train-{name}")
        runs[name] = Scenario(arn)
        processes[name] = env.run_dag(dag_id, {"model_package_arn": arn, "evaluation_prefix": prefix})
    for name, choice, note, reviewer in (("approve", "Approve", "better at night", alice),
                                         ("reject", "Reject", "misses motorcycles in the rain", bob)):
        scenario = runs[name]
        scenario.run_id = wait_until(f"{name}: its run", lambda s=scenario: run_of(env, ANSWERED, s.arn))
        scenario.shown = wait_until(f"{name}: the approval to wait for input",
                                    lambda s=scenario: awaiting_input(env, ANSWERED, s.run_id))
        path = reviewer.hitl_path(ANSWERED, scenario.run_id, REVIEW_TASK)
        scenario.viewer_answer = victor.request("PATCH", path, json={"chosen_options": [choice]}).status_code
        scenario.answer = reviewer.ok("PATCH", path, json={"chosen_options": [choice], "params_input": {"note": note}})
    for name, process in processes.items():
        (runs[name].outcome,) = process.outcomes()
        runs[name].run_id = runs[name].outcome["run_id"]
    return Scenarios(runs, watch, watch_go)


def record_of(env: AirflowWithUsers, arn: str) -> dict:
    return LocalModelRegistry(env.settings).describe(arn)


def events_from(env: AirflowWithUsers, run_id: str) -> list[dict]:
    return [event for event in env.clients["alice"].approved_model_events() if event["source_run_id"] == run_id]


def test_the_reviewer_sees_the_candidate_against_the_serving_model(scenarios):
    shown = scenarios.runs["approve"].shown
    assert shown["options"] == ["Approve", "Reject"] and list(shown["params"]) == ["note"]
    assert shown["subject"].startswith("Approve model version")
    for expected in ("| accuracy | 0.9120 | 0.8870 |", "ECE", "recall motorcycle", "**Quality gate:** passed",
                     "/scones/models/train-approve/evaluation"):
        assert expected in shown["body"], expected


def test_a_viewer_may_not_answer(scenarios):
    assert scenarios.runs["approve"].viewer_answer == 403


def test_approve_approves_the_version_and_announces_it_for_deployment(airflow_with_users, scenarios):
    scenario = scenarios.runs["approve"]
    assert scenario.outcome["state"] == "success", scenario.outcome
    record = record_of(airflow_with_users, scenario.arn)
    assert record["ModelApprovalStatus"] == "Approved"
    assert (record["CustomerMetadataProperties"][APPROVAL_BY], record["ApprovalDescription"]) == (
        "alice", "better at night")
    assert scenario.answer["responded_by"]["name"] == "alice"
    (event,) = events_from(airflow_with_users, scenario.run_id)
    assert (event["extra"]["model_package_arn"], event["extra"]["approved_by"]) == (scenario.arn, "alice")
    chosen = deploy.choose_model_version(LocalModelRegistry(airflow_with_users.settings), param_arn=None,
                                         asset_extras=[event["extra"]])
    assert chosen["ModelPackageArn"] == scenario.arn, "scones_deploy deploys what the event names"


def test_reject_rejects_the_version_with_the_reviewers_note(airflow_with_users, scenarios):
    scenario = scenarios.runs["reject"]
    assert scenario.outcome["state"] == "success", scenario.outcome
    record = record_of(airflow_with_users, scenario.arn)
    assert (record["ModelApprovalStatus"], record["ApprovalDescription"]) == (
        "Rejected", "misses motorcycles in the rain")
    assert record["CustomerMetadataProperties"][APPROVAL_BY] == "bob"
    assert events_from(airflow_with_users, scenario.run_id) == []
    tasks = scenario.outcome["tasks"]
    assert (tasks["approved_by_reviewer"], tasks["announce_approved_model"]) == ("success", "skipped")


def test_no_answer_in_time_leaves_the_version_pending_and_alerts(airflow_with_users, scenarios):
    scenario = scenarios.runs["timeout"]
    assert scenario.outcome["state"] == "success", scenario.outcome
    assert scenario.outcome["tasks"]["review_model_version"] == "success", "no answer is not a failure"
    assert record_of(airflow_with_users, scenario.arn)["ModelApprovalStatus"] == "PendingManualApproval"
    assert events_from(airflow_with_users, scenario.run_id) == []
    version = record_of(airflow_with_users, scenario.arn)["ModelPackageVersion"]
    subjects = [alert["subject"] for alert in read_alerts(airflow_with_users.settings)]
    assert f"Model version {version} is still awaiting approval" in subjects
    assert any(subject.startswith(f"Approval requested: Approve model version {version} ") for subject in subjects)


def test_a_version_approved_in_the_registry_reaches_deployment(airflow_with_users, scenarios):
    env = airflow_with_users
    registry = LocalModelRegistry(env.settings)
    arn, _ = register_pending(env, "train-studio")
    registry.update_approval(approval_update_request(registry.describe(arn), "Approved", reviewer="studio-user",
                                                     at=datetime.now(UTC), via="SageMaker Studio"))
    scenarios.watch_go.touch()
    first, again = scenarios.watch.outcomes()
    assert (first["state"], again["state"]) == ("success", "success")
    (event,) = events_from(env, first["run_id"])
    assert (event["extra"]["model_package_arn"], event["extra"]["approved_by"]) == (arn, "studio-user")
    assert events_from(env, again["run_id"]) == [], "an announced version is not announced twice"
    assert again["tasks"]["announce_approved_model"] == "skipped"
