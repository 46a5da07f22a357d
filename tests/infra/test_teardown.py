"""The teardown workflow: the plan names exactly what exists, and only a real run removes it."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from include.runtime.aws.teardown import SageMakerTeardown
from include.runtime.capabilities import StalePlanError
from include.runtime.local.teardown import LocalTeardown, model_server_state_dir
from include.settings import PROJECT_ROOT
from include.workflows import teardown

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def summaries(kind: str, names: list[str]) -> list[dict]:
    name_key, arn_kind = {"Endpoints": ("EndpointName", "endpoint"),
                          "EndpointConfigs": ("EndpointConfigName", "endpoint-config"),
                          "Models": ("ModelName", "model")}[kind]
    rows = []
    for name in names:
        row = {name_key: name, f"{name_key[:-4]}Arn": f"arn:aws:sagemaker:us-east-1:111122223333:{arn_kind}/{name}",
               "CreationTime": NOW}
        if kind == "Endpoints":
            row.update(LastModifiedTime=NOW, EndpointStatus="InService")
        rows.append(row)
    return rows


def schedule(name: str, status: str, endpoint: str) -> dict:
    return {"MonitoringScheduleName": name, "MonitoringScheduleStatus": status, "EndpointName": endpoint,
            "MonitoringScheduleArn": f"arn:aws:sagemaker:us-east-1:111122223333:monitoring-schedule/{name}",
            "CreationTime": NOW, "LastModifiedTime": NOW}


@pytest.fixture
def sagemaker():
    client = boto3.client("sagemaker", region_name="us-east-1")
    with Stubber(client) as stubber:
        stubber.add_response("list_monitoring_schedules", {"MonitoringScheduleSummaries": [
            schedule("scones-drift-hourly", "Scheduled", "scones-vehicle-classifier"),
            schedule("other-team-monitor", "Scheduled", "other-endpoint"),
            schedule("drift-of-scones", "Stopped", "scones-vehicle-classifier"),
        ]})
        prefix = {"NameContains": "scones-"}
        stubber.add_response("list_endpoints", {"Endpoints": summaries(
            "Endpoints", ["scones-vehicle-classifier", "not-scones-endpoint"])}, prefix)
        stubber.add_response("list_endpoint_configs", {"EndpointConfigs": summaries(
            "EndpointConfigs", ["scones-vehicle-classifier-run1", "scones-vehicle-classifier-run2"])}, prefix)
        stubber.add_response("list_models", {"Models": summaries("Models", ["scones-model-run1"])}, prefix)
        yield client, stubber


def test_aws_plan_lists_only_scones_resources(settings, sagemaker, caplog):
    client, stubber = sagemaker
    aws_settings = settings.model_copy(update={"runtime": "aws"})
    with caplog.at_level(logging.INFO, logger=teardown.__name__):
        plan = teardown.plan_teardown(SageMakerTeardown(aws_settings, client))
    stubber.assert_no_pending_responses()
    assert plan["endpoints"] == ["scones-vehicle-classifier"]
    assert plan["endpoint_configs"] == ["scones-vehicle-classifier-run1", "scones-vehicle-classifier-run2"]
    assert plan["models"] == ["scones-model-run1"]
    assert [s["name"] for s in plan["monitoring_schedules"]] == ["drift-of-scones", "scones-drift-hourly"]
    assert plan["actions"] == [
        "stop monitoring schedule scones-drift-hourly",
        "delete monitoring schedule drift-of-scones",
        "delete monitoring schedule scones-drift-hourly",
        "delete endpoint scones-vehicle-classifier",
    ]
    assert "plan: delete endpoint scones-vehicle-classifier" in caplog.text


def test_aws_dry_run_changes_nothing(settings, sagemaker, caplog):
    client, stubber = sagemaker
    aws_teardown = SageMakerTeardown(settings.model_copy(update={"runtime": "aws"}), client)
    plan = teardown.plan_teardown(aws_teardown)
    with caplog.at_level(logging.INFO, logger=teardown.__name__):
        assert teardown.apply_teardown(aws_teardown, plan, dry_run=True) == []
    stubber.assert_no_pending_responses()
    assert "dry run: would delete endpoint scones-vehicle-classifier" in caplog.text


def test_aws_real_run_stops_schedules_before_deleting_endpoints(settings, sagemaker):
    client, stubber = sagemaker
    aws_teardown = SageMakerTeardown(settings.model_copy(update={"runtime": "aws"}), client)
    plan = teardown.plan_teardown(aws_teardown)
    stubber.add_response("delete_monitoring_schedule", {}, {"MonitoringScheduleName": "drift-of-scones"})
    stubber.add_response("stop_monitoring_schedule", {}, {"MonitoringScheduleName": "scones-drift-hourly"})
    stubber.add_response("delete_monitoring_schedule", {}, {"MonitoringScheduleName": "scones-drift-hourly"})
    stubber.add_response("delete_endpoint", {}, {"EndpointName": "scones-vehicle-classifier"})
    done = teardown.apply_teardown(aws_teardown, plan, dry_run=False)
    stubber.assert_no_pending_responses()
    assert done[-1] == "deleted endpoint scones-vehicle-classifier"


def test_plan_from_another_runtime_is_refused(settings):
    plan = {"runtime": "aws", "actions": ["delete endpoint scones-x"]}
    with pytest.raises(StalePlanError, match="trigger the teardown again"):
        teardown.apply_teardown(LocalTeardown(settings), plan, dry_run=False)


def test_local_teardown_stops_the_running_model_server(settings):
    from include.runtime.local.model_server_control import ensure_server, running_server_url

    state_dir = model_server_state_dir(settings)
    url = ensure_server(state_dir, port=0)
    local = LocalTeardown(settings)
    try:
        plan = teardown.plan_teardown(local)
        assert plan["model_server"]["running"] is True and plan["model_server"]["url"] == url
        assert teardown.apply_teardown(local, plan, dry_run=True) == []
        assert running_server_url(state_dir) == url
        assert teardown.apply_teardown(local, plan, dry_run=False) == ["stopped the local model server"]
        assert running_server_url(state_dir) is None
        assert teardown.plan_teardown(local)["actions"] == []
    finally:
        from include.runtime.local.model_server_control import stop_server

        stop_server(state_dir)


def test_teardown_dag_is_manual_with_a_dry_run_default(scones_env):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(PROJECT_ROOT / "dags" / "scones_teardown.py"))
    assert bag.import_errors == {}
    dag = bag.dags["scones_teardown"]
    assert type(dag.timetable).__name__ == "NullTimetable", "the teardown runs only when triggered"
    assert dag.params["dry_run"] is True
    assert {task.task_id for task in dag.tasks} == {"list_resources", "tear_down"}
