"""The post-deployment check both runtimes share: the endpoint must serve the config just deployed.

SageMaker rolls a blue/green update back on its alarms and ends ``InService`` on the old
config; waiting for ``InService`` alone would report that rollback as a success. The error fails
the task without retries: the alarms or the failed model would only roll a retry back again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.sdk.exceptions import AirflowFailException


class EndpointRollbackError(AirflowFailException):
    """The endpoint does not serve the endpoint config this deployment asked for."""


def verify_endpoint_serves(description: Mapping[str, Any], expected_config_name: str) -> None:
    """Raise :class:`EndpointRollbackError` unless the DescribeEndpoint answer shows the new config in service."""
    name = description.get("EndpointName", "?")
    status = description.get("EndpointStatus")
    serving = description.get("EndpointConfigName")
    reason = description.get("FailureReason") or ""
    if status != "InService":
        raise EndpointRollbackError(
            f"endpoint {name} is {status}, not InService, after deploying {expected_config_name}"
            f"{': ' + reason if reason else ''}; check the endpoint's events and the rollback alarms, "
            "fix the model and run the deployment again"
        )
    if serving != expected_config_name:
        raise EndpointRollbackError(
            f"endpoint {name} serves endpoint config {serving}, not {expected_config_name}: the update was "
            f"rolled back{' (' + reason + ')' if reason else ''}; check the rollback alarms and the new model's "
            "logs, then run the deployment again"
        )
