"""The ``aws`` runtime's teardown: the ``scones-*`` SageMaker endpoints and their monitoring schedules.

A real run stops and deletes the monitoring schedules, then deletes the endpoints. Endpoint configs and
models cost nothing and are kept for rollback.
"""

from __future__ import annotations

from typing import Any

from include.runtime.aws.clients import LazyClient, sagemaker_client
from include.runtime.capabilities import refuse_foreign_plan
from include.settings import Settings

NAME_PREFIX = "scones-"


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


class SageMakerTeardown:
    """:class:`~include.runtime.capabilities.Teardown` of SageMaker endpoints and monitoring schedules."""

    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self.settings = settings
        self._client = client

    client = LazyClient(sagemaker_client)

    def plan(self) -> dict[str, Any]:
        return aws_plan(self.client)

    def apply(self, plan: dict[str, Any]) -> list[str]:
        refuse_foreign_plan(plan, "aws")
        return _apply_aws(plan, self.client)
