"""The definition file in moto's Step Functions engine: it parses, and executes like the local interpreter.

moto's Lambda needs Docker, so its ASL engine's Lambda invocation is replaced by a call to the same Python
handlers the local interpreter runs; handler exceptions are reported the way Lambda reports an unhandled
error (``FunctionError`` with an ``{"errorMessage", "errorType"}`` payload).

Compared where moto runs them: the per-photo flow through ``lambda:invoke`` (outputs, errors, retries, the
states entered), an inline Map of it, and the Distributed Map reading its photo manifest from (moto's)
S3 with ``ItemReader``. moto 5.2.5 writes a ResultWriter manifest without result files, implements no
failure tolerance, and evaluates the ResultWriter's ``Parameters`` paths against the Map's results where
Step Functions uses the Map's input; so the ResultWriter is compared by its output and manifest shape
with static ``Parameters``, and tolerance and result contents are tested against the local interpreter
alone (``test_local_map.py``).
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
from tests.stepfunctions.inference_scenarios import BUCKET, InferenceHandlers, definition, photo_flow

ROLE_ARN = "arn:aws:iam::123456789012:role/scones-stepfunctions"
STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:scones-inference"
MANIFEST_BUCKET = "scones-parity"
PHOTOS = ["photos/bike.png", "photos/moto.jpg", "photos/blurry.png", "photos/notes.txt"]


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


def run_in_moto(client: Any, handlers: InferenceHandlers, state_input: dict[str, Any],
                machine_definition: dict[str, Any] | None = None) -> dict[str, Any]:
    machine = client.create_state_machine(name="scones-inference",
                                          definition=json.dumps(machine_definition or photo_flow()),
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


def run_locally(handlers: InferenceHandlers, state_input: dict[str, Any],
                machine_definition: dict[str, Any] | None = None, objects: Any = None) -> dict[str, Any]:
    result = run_execution(machine_definition or photo_flow(), state_input, handlers.resources(), name="parity",
                           sleep=lambda _: None, objects=objects, state_machine_arn=STATE_MACHINE_ARN)
    return {"status": result.status, "output": result.output, "error": result.error, "cause": result.cause,
            "history": result.history}


def test_definition_creates_in_moto(moto_stepfunctions: Any) -> None:
    """The deployed definition, Distributed Map and ResultWriter included, parses in moto."""
    arn = moto_stepfunctions.create_state_machine(name="scones-inference", definition=json.dumps(definition()),
                                                  roleArn=ROLE_ARN)["stateMachineArn"]
    described = moto_stepfunctions.describe_state_machine(stateMachineArn=arn)
    assert json.loads(described["definition"]) == definition()


def test_moto_parses_definitions_and_rejects_a_misspelled_state_type(moto_stepfunctions: Any) -> None:
    broken = definition()
    broken["States"]["ClassifyPhotos"]["ItemProcessor"]["States"]["ClassifyImage"]["Type"] = "Tsak"
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


class MotoObjects:
    """The local interpreter's S3 access through a boto3 client of moto's S3."""

    def __init__(self, s3: Any) -> None:
        self.s3 = s3

    def get_object(self, bucket: str, key: str) -> bytes:
        return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    def put_object(self, bucket: str, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=bucket, Key=key, Body=body)


@pytest.fixture
def manifest_in_s3(moto_stepfunctions: Any) -> Any:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=MANIFEST_BUCKET)
    items = [{"s3_bucket": BUCKET, "s3_key": key} for key in PHOTOS]
    s3.put_object(Bucket=MANIFEST_BUCKET, Key="t1/c0001/photos.json", Body=json.dumps(items).encode())
    return s3


def chunk_input() -> dict[str, Any]:
    return {"photos": {"Bucket": MANIFEST_BUCKET, "Key": "t1/c0001/photos.json"},
            "results": {"Bucket": MANIFEST_BUCKET, "Prefix": "t1/c0001/results"},
            "max_concurrency": 2, "tolerated_failure_percentage": 50}


def without_result_writer() -> dict[str, Any]:
    changed = definition()
    del changed["States"]["ClassifyPhotos"]["ResultWriter"]
    return changed


def test_distributed_map_over_the_s3_manifest_agrees_with_moto(moto_stepfunctions: Any, manifest_in_s3: Any) -> None:
    moto_handlers, local_handlers = InferenceHandlers(), InferenceHandlers()
    in_moto = run_in_moto(moto_stepfunctions, moto_handlers, chunk_input(), without_result_writer())
    local = run_locally(local_handlers, chunk_input(), without_result_writer(), MotoObjects(manifest_in_s3))
    assert in_moto == local
    assert local["status"] == "SUCCEEDED" and local["history"] == ["ClassifyPhotos"]
    assert [o and o["assignment"] for o in local["output"]] == ["nearby", "distant", "human_review", None]
    assert sorted(moto_handlers.photos) == sorted(local_handlers.photos)


def test_inline_map_of_the_photo_flow_agrees_with_moto(moto_stepfunctions: Any) -> None:
    flow = photo_flow()
    inline = {"StartAt": "EachPhoto", "States": {"EachPhoto": {
        "Type": "Map", "ItemsPath": "$.photos", "MaxConcurrency": 1, "ResultPath": "$.routed", "End": True,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, **flow}}}}
    state_input = {"photos": [{"s3_bucket": BUCKET, "s3_key": key} for key in PHOTOS[:3]]}
    in_moto = run_in_moto(moto_stepfunctions, InferenceHandlers(), state_input, inline)
    local = run_locally(InferenceHandlers(), state_input, inline)
    assert in_moto == local
    assert [row["assignment"] for row in local["output"]["routed"]] == ["nearby", "distant", "human_review"]
    assert local["history"].count("FilterLowConfidence") == 3


def test_result_writer_output_and_manifest_agree_with_moto(moto_stepfunctions: Any, manifest_in_s3: Any) -> None:
    static = definition()
    static["States"]["ClassifyPhotos"]["ResultWriter"]["Parameters"] = {"Bucket": MANIFEST_BUCKET,
                                                                        "Prefix": "t1/c0001/results"}
    in_moto = run_in_moto(moto_stepfunctions, InferenceHandlers(), chunk_input(), static)
    local = run_locally(InferenceHandlers(), chunk_input(), static, MotoObjects(manifest_in_s3))
    shapes = []
    for run in (in_moto, local):
        assert run["status"] == "SUCCEEDED", run
        map_run = run["output"]["MapRunArn"]
        assert map_run.startswith("arn:aws:states:us-east-1:123456789012:mapRun:scones-inference/ClassifyPhotos:")
        details = run["output"]["ResultWriterDetails"]
        assert details == {"Bucket": MANIFEST_BUCKET,
                           "Key": f"t1/c0001/results/{map_run.rsplit(':', 1)[1]}/manifest.json"}
        manifest = json.loads(manifest_in_s3.get_object(Bucket=MANIFEST_BUCKET, Key=details["Key"])["Body"].read())
        shapes.append((sorted(run["output"]), sorted(manifest), sorted(manifest["ResultFiles"]),
                       manifest["DestinationBucket"], manifest["MapRunArn"] == map_run))
    assert shapes[0] == shapes[1]
def test_moto_retries_an_unavailable_endpoint_like_the_local_interpreter(moto_stepfunctions: Any) -> None:
    state_input = {"s3_bucket": BUCKET, "s3_key": "photos/bike.png"}
    moto_handlers, local_handlers = InferenceHandlers(unavailable_failures=1), InferenceHandlers(unavailable_failures=1)
    in_moto = run_in_moto(moto_stepfunctions, moto_handlers, state_input)
    local = run_locally(local_handlers, state_input)
    assert in_moto == local
    assert (local["status"], local["output"]["assignment"]) == ("SUCCEEDED", "nearby")
    assert moto_handlers.calls == local_handlers.calls == ["serialize", "classify", "classify", "filter"]
