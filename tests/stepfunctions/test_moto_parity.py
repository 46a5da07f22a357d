"""The definition file in moto's Step Functions engine: it parses, and executes like the local interpreter.

moto's Lambda needs Docker, so its ASL engine's Lambda invocation is replaced by a call to the same Python
handlers the local interpreter runs; handler exceptions are reported the way Lambda reports an unhandled
error (``FunctionError`` with an ``{"errorMessage", "errorType"}`` payload).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

from include.runtime.local.stepfunctions import TaskFailure, run_execution
from tests.stepfunctions.inference_scenarios import BUCKET, InferenceHandlers, definition

ROLE_ARN = "arn:aws:iam::123456789012:role/scones-stepfunctions"


def lambda_invoker(resources: dict[str, Callable[[Any, Any], Any]]) -> Callable[..., dict[str, Any]]:
    def invoke(parameters: dict[str, Any], region: str, state_credentials: Any) -> dict[str, Any]:
        event = json.loads(parameters["Payload"])
        try:
            return {"StatusCode": 200, "Payload": resources[parameters["FunctionName"]](event, None)}
        except TaskFailure as exc:
            error = {"errorMessage": exc.cause, "errorType": exc.error}
        except Exception as exc:
            error = {"errorMessage": str(exc), "errorType": type(exc).__name__}
        return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": error}

    return invoke


@pytest.fixture
def moto_stepfunctions() -> Iterator[Any]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield boto3.client("stepfunctions", region_name="us-east-1")


def run_in_moto(client: Any, handlers: InferenceHandlers, state_input: dict[str, Any]) -> dict[str, Any]:
    machine = client.create_state_machine(name="scones-inference", definition=json.dumps(definition()),
                                          roleArn=ROLE_ARN)["stateMachineArn"]
    with mock.patch.object(lambda_eval_utils, "_invoke_lambda_function", lambda_invoker(handlers.resources())):
        execution = client.start_execution(stateMachineArn=machine, name="parity",
                                           input=json.dumps(state_input))["executionArn"]
        deadline = time.monotonic() + 30
        while (described := client.describe_execution(executionArn=execution))["status"] == "RUNNING":
            assert time.monotonic() < deadline, "moto execution did not finish in 30 s"
            time.sleep(0.02)
    events = client.get_execution_history(executionArn=execution)["events"]
    return {
        "status": described["status"],
        "output": json.loads(described["output"]) if "output" in described else None,
        "error": described.get("error"),
        "cause": described.get("cause"),
        "history": [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e],
    }


def run_locally(handlers: InferenceHandlers, state_input: dict[str, Any]) -> dict[str, Any]:
    result = run_execution(definition(), state_input, handlers.resources(), name="parity", sleep=lambda _: None)
    return {"status": result.status, "output": result.output, "error": result.error, "cause": result.cause,
            "history": result.history}


def test_definition_creates_in_moto(moto_stepfunctions: Any) -> None:
    arn = moto_stepfunctions.create_state_machine(name="scones-inference", definition=json.dumps(definition()),
                                                  roleArn=ROLE_ARN)["stateMachineArn"]
    described = moto_stepfunctions.describe_state_machine(stateMachineArn=arn)
    assert json.loads(described["definition"]) == definition()


def test_moto_parses_definitions_and_rejects_a_misspelled_state_type(moto_stepfunctions: Any) -> None:
    broken = definition()
    broken["States"]["ClassifyImage"]["Type"] = "Tsak"
    with pytest.raises(ClientError, match="ASLParserException"):
        moto_stepfunctions.create_state_machine(name="broken", definition=json.dumps(broken), roleArn=ROLE_ARN)


@pytest.mark.parametrize(
    ("key", "expected_status", "expected_outcome"),
    [
        ("photos/bike.png", "SUCCEEDED", "nearby"),
        ("photos/moto.jpg", "SUCCEEDED", "distant"),
        ("photos/blurry.png", "SUCCEEDED", "human_review"),
        ("photos/notes.txt", "FAILED", "NotAnImageError"),
        ("photos/rejected.png", "FAILED", "PhotoRejectedError"),
    ],
)
def test_moto_and_the_local_interpreter_agree(
    moto_stepfunctions: Any, key: str, expected_status: str, expected_outcome: str
) -> None:
    state_input = {"s3_bucket": BUCKET, "s3_key": key}
    in_moto = run_in_moto(moto_stepfunctions, InferenceHandlers(), state_input)
    local = run_locally(InferenceHandlers(), state_input)
    assert in_moto == local
    assert local["status"] == expected_status
    assert expected_outcome in (local["error"], (local["output"] or {}).get("assignment"))


def test_moto_retries_a_transient_lambda_error_like_the_local_interpreter(moto_stepfunctions: Any) -> None:
    state_input = {"s3_bucket": BUCKET, "s3_key": "photos/flaky.png"}
    moto_handlers, local_handlers = InferenceHandlers(transient_failures=1), InferenceHandlers(transient_failures=1)
    in_moto = run_in_moto(moto_stepfunctions, moto_handlers, state_input)
    local = run_locally(local_handlers, state_input)
    assert in_moto == local
    assert moto_handlers.calls == local_handlers.calls == ["serialize", "serialize", "classify", "filter"]


def test_moto_retries_an_unavailable_endpoint_like_the_local_interpreter(moto_stepfunctions: Any) -> None:
    state_input = {"s3_bucket": BUCKET, "s3_key": "photos/bike.png"}
    moto_handlers, local_handlers = InferenceHandlers(unavailable_failures=1), InferenceHandlers(unavailable_failures=1)
    in_moto = run_in_moto(moto_stepfunctions, moto_handlers, state_input)
    local = run_locally(local_handlers, state_input)
    assert in_moto == local
    assert (local["status"], local["output"]["assignment"]) == ("SUCCEEDED", "nearby")
    assert moto_handlers.calls == local_handlers.calls == ["serialize", "classify", "classify", "filter"]
