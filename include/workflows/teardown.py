"""The teardown workflow: find what serves traffic or costs money, and remove it unless dry run.

``aws``: SageMaker endpoints, endpoint configs and models named ``scones-*`` and the monitoring
schedules of those endpoints are listed; a real run stops and deletes the monitoring schedules,
then deletes the endpoints. Endpoint configs and models cost nothing and are kept for rollback.
``local``: the local model server and its endpoints are listed; a real run stops the server.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from include.settings import Settings

NAME_PREFIX = "scones-"
LOG = logging.getLogger(__name__)


def model_server_state_dir(settings: Settings) -> Path:
    return settings.data_root / ".work" / "model-server"


def sagemaker_client(settings: Settings) -> Any:
    """The SageMaker client of the Airflow AWS connection."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    return AwsBaseHook(aws_conn_id=settings.aws_conn_id, client_type="sagemaker",
                       region_name=settings.region).get_conn()


def _names(client: Any, operation: str, result_key: str, name_key: str) -> list[str]:
    names: list[str] = []
    for page in client.get_paginator(operation).paginate(NameContains=NAME_PREFIX):
        names += [item[name_key] for item in page[result_key] if item[name_key].startswith(NAME_PREFIX)]
    return sorted(names)


def _monitoring_schedules(client: Any) -> list[dict[str, str]]:
    schedules: list[dict[str, str]] = []
    for page in client.get_paginator("list_monitoring_schedules").paginate():
        for item in page["MonitoringScheduleSummaries"]:
            owned = item["MonitoringScheduleName"].startswith(NAME_PREFIX)
            if owned or item.get("EndpointName", "").startswith(NAME_PREFIX):
                schedules.append({"name": item["MonitoringScheduleName"],
                                  "status": item["MonitoringScheduleStatus"]})
    return sorted(schedules, key=lambda schedule: schedule["name"])


def aws_plan(client: Any) -> dict[str, Any]:
    """What exists in SageMaker and what a real run deletes."""
    schedules = _monitoring_schedules(client)
    endpoints = _names(client, "list_endpoints", "Endpoints", "EndpointName")
    actions = [f"stop monitoring schedule {s['name']}" for s in schedules if s["status"] in ("Scheduled", "Pending")]
    actions += [f"delete monitoring schedule {s['name']}" for s in schedules]
    actions += [f"delete endpoint {name}" for name in endpoints]
    return {
        "runtime": "aws",
        "monitoring_schedules": schedules,
        "endpoints": endpoints,
        "endpoint_configs": _names(client, "list_endpoint_configs", "EndpointConfigs", "EndpointConfigName"),
        "models": _names(client, "list_models", "Models", "ModelName"),
        "actions": actions,
    }


def local_plan(settings: Settings) -> dict[str, Any]:
    """The local model server's state and whether a real run stops it."""
    from include.runtime.local.model_server_control import server_status

    state_dir = model_server_state_dir(settings)
    status = server_status(state_dir)
    actions = [f"stop the local model server (pid {status['pid']}, {status['url']})"] if status["running"] else []
    return {
        "runtime": "local",
        "model_server": {key: status.get(key) for key in ("running", "pid", "url", "state_dir")},
        "endpoints": sorted(status.get("endpoints", [])),
        "actions": actions,
    }


def plan_teardown(settings: Settings, client: Any | None = None) -> dict[str, Any]:
    """The resources found and the actions a real run takes, logged one per line."""
    if settings.runtime == "aws":
        plan = aws_plan(client if client is not None else sagemaker_client(settings))
    else:
        plan = local_plan(settings)
    for name in ("monitoring_schedules", "endpoints", "endpoint_configs", "models"):
        if name in plan:
            LOG.info("found %s: %s", name.replace("_", " "), plan[name] or "none")
    for action in plan["actions"] or ["nothing to tear down"]:
        LOG.info("plan: %s", action)
    return plan


def _apply_aws(plan: dict[str, Any], client: Any) -> list[str]:
    done = []
    for schedule in plan["monitoring_schedules"]:
        if schedule["status"] in ("Scheduled", "Pending"):
            client.stop_monitoring_schedule(MonitoringScheduleName=schedule["name"])
            done.append(f"stopped monitoring schedule {schedule['name']}")
        client.delete_monitoring_schedule(MonitoringScheduleName=schedule["name"])
        done.append(f"deleted monitoring schedule {schedule['name']}")
    for name in plan["endpoints"]:
        client.delete_endpoint(EndpointName=name)
        done.append(f"deleted endpoint {name}")
    return done


def _apply_local(settings: Settings) -> list[str]:
    from include.runtime.local.model_server_control import stop_server

    stopped = stop_server(model_server_state_dir(settings))
    return ["stopped the local model server"] if stopped else ["the local model server was not running"]


def apply_teardown(settings: Settings, plan: dict[str, Any], dry_run: bool, client: Any | None = None) -> list[str]:
    """Carry out ``plan`` (nothing when ``dry_run``); returns what was done."""
    if dry_run:
        for action in plan["actions"]:
            LOG.info("dry run: would %s", action)
        LOG.info("dry run: nothing changed; trigger with dry_run=false to tear down")
        return []
    if plan["runtime"] != settings.runtime:
        raise ValueError(f"the plan was made for runtime {plan['runtime']!r} but runtime is {settings.runtime!r}: "
                         "trigger the teardown again")
    if settings.runtime == "aws":
        done = _apply_aws(plan, client if client is not None else sagemaker_client(settings))
    else:
        done = _apply_local(settings)
    for line in done:
        LOG.info("%s", line)
    return done
