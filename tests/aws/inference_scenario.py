"""The inference state machine as moto cannot run it, for scones_inference; and the account it runs in.

moto keeps a Step Functions execution ``RUNNING`` for ever and runs no Lambda. Here each
execution ends as soon as it starts (moto stops it, so Step Functions refuses to start the
name again) and its description shows it ``SUCCEEDED`` with the output the state machine's
last state gives for that photo. The photo's file name decides the classification. The
trigger's first poll still sees the execution running.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from include.settings import PROJECT_ROOT
from tests.aws.ingest_scenario import png_bytes
from tests.aws.recorder import RequestRecorder

ACCOUNT = "123456789012"
REGION = "us-east-1"
STATE_MACHINE_NAME = "scones-inference"
STATE_MACHINE_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{STATE_MACHINE_NAME}"
DEFINITION_FILE = PROJECT_ROOT / "include" / "statemachine" / "inference.asl.json"
FUNCTIONS = {
    "SerializeImageFunctionArn": "scones-serialize-image",
    "ClassifyImageFunctionArn": "scones-classify-image",
    "FilterLowConfidenceFunctionArn": "scones-filter-low-confidence",
}
ROLE_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
CLASSIFICATIONS = {
    "bicycle": {"vehicle": "bicycle", "assignment": "nearby", "confidence": 0.97, "inferences": [0.97, 0.03]},
    "motorcycle": {"vehicle": "motorcycle", "assignment": "distant", "confidence": 0.95,
                   "inferences": [0.05, 0.95]},
}
LOW_CONFIDENCE_MESSAGE = "confidence 0.61 is below the threshold 0.93"
UNSURE = {
    "vehicle": "review", "assignment": "human_review", "confidence": 0.61, "inferences": [0.61, 0.39],
    "review": {"Error": "LowConfidenceError",
               "Cause": json.dumps({"errorMessage": LOW_CONFIDENCE_MESSAGE, "errorType": "LowConfidenceError"})},
}


def state_machine_definition() -> str:
    """The project's definition file with its Lambda ARN placeholders filled in."""
    definition = DEFINITION_FILE.read_text()
    for placeholder, function in FUNCTIONS.items():
        definition = definition.replace("${" + placeholder + "}",
                                        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function}")
    return definition


def create_state_machine(iam: Any, stepfunctions: Any) -> str:
    """The inference state machine and its execution role; returns the state machine's ARN."""
    role = iam.create_role(RoleName="scones-inference-states", AssumeRolePolicyDocument=json.dumps(ROLE_TRUST))
    return stepfunctions.create_state_machine(name=STATE_MACHINE_NAME, definition=state_machine_definition(),
                                              roleArn=role["Role"]["Arn"])["stateMachineArn"]


def put_photos(s3: Any, bucket: str, keys: list[str]) -> None:
    for index, key in enumerate(keys):
        s3.put_object(Bucket=bucket, Key=key, Body=png_bytes(50 + 40 * index), ContentType="image/png")


def state_machine_output(execution_input: dict[str, str]) -> dict[str, Any]:
    """What the state machine's last state returns for a photo: its file name says bicycle, motorcycle or unsure."""
    stem = execution_input["s3_key"].rsplit("/", 1)[-1]
    classification = next((c for prefix, c in CLASSIFICATIONS.items() if stem.startswith(prefix)), UNSURE)
    return {"s3_bucket": execution_input["s3_bucket"], "s3_key": execution_input["s3_key"], **classification}


def install(recorder: RequestRecorder) -> None:
    stepfunctions = recorder.client("stepfunctions")
    unpolled: set[str] = set()
    lock = threading.Lock()

    def end_at_once(params: dict[str, Any], parsed: dict[str, Any], transport: str) -> None:
        arn = parsed.get("executionArn")
        if arn:
            stepfunctions.stop_execution(executionArn=arn)
            with lock:
                unpolled.add(arn)

    def succeeded(params: dict[str, Any], parsed: dict[str, Any], transport: str) -> None:
        if parsed.get("status") != "ABORTED":
            return
        with lock:
            first_poll = transport == "aiobotocore" and parsed["executionArn"] in unpolled
            if first_poll:
                unpolled.discard(parsed["executionArn"])
        if first_poll:
            parsed.update(status="RUNNING")
            parsed.pop("stopDate", None)
            return
        output = state_machine_output(json.loads(parsed["input"]))
        parsed.update(status="SUCCEEDED", output=json.dumps(output))

    recorder.amend("stepfunctions", "StartExecution", end_at_once)
    recorder.amend("stepfunctions", "DescribeExecution", succeeded)
