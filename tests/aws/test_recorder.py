"""The request recorder on both transports: records parameters, answers canned calls, amends answers."""

from __future__ import annotations

import asyncio
from typing import Any

import botocore.session
import pytest
from botocore.config import Config

from devtools.local_airflow import free_port
from tests.aws.recorder import RequestRecorder, json_safe

NO_RETRIES = Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=2)
SCHEDULE = {"MonitoringScheduleName": "scones-drift", "MonitoringScheduleStatus": "Scheduled"}


@pytest.fixture
def closed_endpoint() -> str:
    """Nothing listens here: a request that is not short-circuited fails to connect."""
    return f"http://127.0.0.1:{free_port()}"


def canned_recorder() -> RequestRecorder:
    recorder = RequestRecorder()
    recorder.respond("sagemaker", "DescribeMonitoringSchedule",
                     lambda params: {**SCHEDULE, "MonitoringScheduleArn": f"arn:{params['MonitoringScheduleName']}"})

    def mark(params: dict[str, Any], parsed: dict[str, Any], transport: str) -> None:
        parsed["AmendedOn"] = transport

    recorder.amend("sagemaker", "DescribeMonitoringSchedule", mark)
    return recorder


def client_kwargs(endpoint: str) -> dict[str, Any]:
    return {"region_name": "us-east-1", "endpoint_url": endpoint, "config": NO_RETRIES,
            "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def test_botocore_call_is_recorded_and_answered_without_the_network(closed_endpoint: str) -> None:
    recorder = canned_recorder()
    session = botocore.session.Session()
    recorder.attach(session)
    client = session.create_client("sagemaker", **client_kwargs(closed_endpoint))

    answer = client.describe_monitoring_schedule(MonitoringScheduleName="scones-drift")

    assert answer["MonitoringScheduleStatus"] == "Scheduled"
    assert answer["MonitoringScheduleArn"] == "arn:scones-drift"
    assert answer["AmendedOn"] == "botocore"
    assert recorder.requests == [{"service": "sagemaker", "operation": "DescribeMonitoringSchedule",
                                  "transport": "botocore", "params": {"MonitoringScheduleName": "scones-drift"}}]


def test_aiobotocore_call_is_recorded_and_answered_without_the_network(closed_endpoint: str) -> None:
    from aiobotocore.session import AioSession

    recorder = canned_recorder()
    session = AioSession()
    recorder.attach(session)

    async def describe() -> dict[str, Any]:
        async with session.create_client("sagemaker", **client_kwargs(closed_endpoint)) as client:
            return await client.describe_monitoring_schedule(MonitoringScheduleName="scones-drift")

    answer = asyncio.run(describe())

    assert answer["MonitoringScheduleArn"] == "arn:scones-drift"
    assert answer["AmendedOn"] == "aiobotocore"
    assert [r["transport"] for r in recorder.requests] == ["aiobotocore"]


def test_calls_without_a_responder_still_reach_the_endpoint(closed_endpoint: str) -> None:
    from botocore.exceptions import EndpointConnectionError

    recorder = canned_recorder()
    session = botocore.session.Session()
    recorder.attach(session)
    client = session.create_client("sagemaker", **client_kwargs(closed_endpoint))

    with pytest.raises(EndpointConnectionError):
        client.list_monitoring_executions(MonitoringScheduleName="scones-drift")
    assert [r["operation"] for r in recorder.requests] == ["ListMonitoringExecutions"]


def test_unrecorded_sessions_are_not_attached(closed_endpoint: str) -> None:
    from botocore.exceptions import EndpointConnectionError

    recorder = canned_recorder()
    with recorder.unrecorded():
        session = botocore.session.Session()
        recorder.attach(session)
    client = session.create_client("sagemaker", **client_kwargs(closed_endpoint))

    with pytest.raises(EndpointConnectionError):
        client.describe_monitoring_schedule(MonitoringScheduleName="scones-drift")
    assert recorder.requests == []


def test_json_safe_describes_bytes_and_streams() -> None:
    import io

    safe = json_safe({"Body": b"\x89PNG", "Stream": io.BytesIO(b"x"), "Tags": ({"Key": "k"},)})
    assert safe == {"Body": {"bytes": 4, "head_b64": "iVBORw=="}, "Stream": {"object": "BytesIO"},
                    "Tags": [{"Key": "k"}]}
