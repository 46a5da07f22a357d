"""The inference state machine as moto cannot run it, for scones_inference; and the account it runs in.

moto keeps a Step Functions execution ``RUNNING`` for ever and runs no Lambda, so here each execution
does at its start what the deployed Distributed Map would: it reads the execution's photo manifest from
S3 (``ItemReader``) and writes one record per photo under the execution's ResultWriter prefix, in the
shapes Step Functions writes (``<prefix>/<Map Run id>/SUCCEEDED_0.json``, ``FAILED_0.json``,
``manifest.json``). moto then stops the execution (so Step Functions refuses to start the name again),
and its description shows it ``SUCCEEDED`` with the Map's output ``{"MapRunArn", "ResultWriterDetails"}``.
The trigger's first poll still sees the execution running.

A photo's file name decides its outcome: ``bicycle*`` and ``motorcycle*`` are classified, ``flaky*``
fails with a transient endpoint error in an interval's first round and is classified in later rounds
(executions named ``...-t2`` and on), anything else is unsure and routed to review.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from include.settings import PROJECT_ROOT
from tests.aws.ingest_scenario import png_bytes
from tests.aws.recorder import RequestRecorder

ACCOUNT = "123456789012"
REGION = "us-east-1"
STATE_MACHINE_NAME = "scones-inference"
STATE_MACHINE_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{STATE_MACHINE_NAME}"
LABEL = "ClassifyPhotos"
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
    "flaky": {"vehicle": "bicycle", "assignment": "nearby", "confidence": 0.96, "inferences": [0.96, 0.04]},
}
LOW_CONFIDENCE_MESSAGE = "confidence 0.61 is below the threshold 0.93"
UNSURE = {
    "vehicle": "review", "assignment": "human_review", "confidence": 0.61, "inferences": [0.61, 0.39],
    "review": {"Error": "LowConfidenceError",
               "Cause": json.dumps({"errorMessage": LOW_CONFIDENCE_MESSAGE, "errorType": "LowConfidenceError"})},
}
OUTAGE_ERROR = "EndpointInvocationError"
OUTAGE_CAUSE = json.dumps({"errorMessage": "endpoint 'scones-vehicle-classifier' failed: throttled",
                           "errorType": OUTAGE_ERROR})


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


def photo_outcome(event: dict[str, str], execution_name: str) -> tuple[str, dict[str, Any]]:
    """``(status, output or error fields)`` of one photo's child execution."""
    stem = event["s3_key"].rsplit("/", 1)[-1]
    if stem.startswith("flaky") and "-t" not in execution_name.rsplit("-c", 1)[-1]:
        return "FAILED", {"Error": OUTAGE_ERROR, "Cause": OUTAGE_CAUSE}
    classification = next((c for prefix, c in CLASSIFICATIONS.items() if stem.startswith(prefix)), UNSURE)
    return "SUCCEEDED", {"s3_bucket": event["s3_bucket"], "s3_key": event["s3_key"], **classification}


def child_record(event: dict[str, str], execution_name: str) -> dict[str, Any]:
    """A child execution as Step Functions' ResultWriter records it."""
    name = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{execution_name}:{event['s3_key']}"))
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    status, fields = photo_outcome(event, execution_name)
    record = {"ExecutionArn": f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{STATE_MACHINE_NAME}/{LABEL}:{name}",
              "Input": json.dumps(event, separators=(",", ":")), "InputDetails": {"Included": True}, "Name": name,
              "OutputDetails": {"Included": True}, "RedriveCount": 0, "StartDate": now,
              "StateMachineArn": f"{STATE_MACHINE_ARN}/{LABEL}", "Status": status, "StopDate": now}
    if status == "SUCCEEDED":
        record.update(Output=json.dumps(fields, separators=(",", ":")), RedriveStatus="NOT_REDRIVABLE",
                      RedriveStatusReason="Execution is SUCCEEDED and cannot be redriven")
    else:
        record.update(fields, RedriveStatus="REDRIVABLE_BY_MAP_RUN")
    return record


def map_output(execution_name: str, execution_input: dict[str, Any]) -> dict[str, Any]:
    """The Distributed Map's output: its Map Run and where its ResultWriter put the manifest."""
    run_id = str(uuid.uuid5(uuid.NAMESPACE_URL, execution_name))
    bucket, prefix = execution_input["results"]["Bucket"], execution_input["results"]["Prefix"].strip("/")
    return {"MapRunArn": f"arn:aws:states:{REGION}:{ACCOUNT}:mapRun:{STATE_MACHINE_NAME}/{LABEL}:{run_id}",
            "ResultWriterDetails": {"Bucket": bucket, "Key": f"{prefix}/{run_id}/manifest.json"}}


def run_distributed_map(s3: Any, execution_name: str, execution_input: dict[str, Any]) -> dict[str, Any]:
    """Read the manifest, write the results and their manifest; returns the Map's output."""
    photos = execution_input["photos"]
    items = json.loads(s3.get_object(Bucket=photos["Bucket"], Key=photos["Key"])["Body"].read())
    output = map_output(execution_name, execution_input)
    run_id = output["MapRunArn"].rsplit(":", 1)[1]
    bucket, prefix = execution_input["results"]["Bucket"], execution_input["results"]["Prefix"].strip("/")
    records = [child_record(item, execution_name) for item in items]
    files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    for status in ("SUCCEEDED", "FAILED"):
        chosen = [record for record in records if record["Status"] == status]
        if chosen:
            body = json.dumps(chosen).encode()
            key = f"{prefix}/{run_id}/{status}_0.json"
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            files[status].append({"Key": key, "Size": len(body)})
    s3.put_object(Bucket=bucket, Key=output["ResultWriterDetails"]["Key"], Body=json.dumps(
        {"DestinationBucket": bucket, "MapRunArn": output["MapRunArn"], "ResultFiles": files}).encode())
    return output


def install(recorder: RequestRecorder) -> None:
    stepfunctions, s3 = recorder.client("stepfunctions"), recorder.client("s3")
    unpolled: set[str] = set()
    outputs: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()

    def run_at_once(params: dict[str, Any], parsed: dict[str, Any], transport: str) -> None:
        arn = parsed.get("executionArn")
        if arn:
            output = run_distributed_map(s3, params["name"], json.loads(params["input"]))
            stepfunctions.stop_execution(executionArn=arn)
            with lock:
                unpolled.add(arn)
                outputs[arn] = output

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
        output = outputs.get(parsed["executionArn"]) or map_output(parsed["name"], json.loads(parsed["input"]))
        parsed.update(status="SUCCEEDED", output=json.dumps(output))

    recorder.amend("stepfunctions", "StartExecution", run_at_once)
    recorder.amend("stepfunctions", "DescribeExecution", succeeded)
