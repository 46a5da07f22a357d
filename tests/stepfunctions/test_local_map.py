"""The local interpreter's Map state (inline, and distributed with ItemReader and ResultWriter) and the
lambda:invoke integration, on the inference definition and small definitions of their own.

The ResultWriter files are compared with the shapes Step Functions writes, as recorded from real accounts
(``RECORDED_*`` below; moto writes no result contents, so these shapes are checked here only).
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from typing import Any

import pytest

from include.runtime.local.stepfunctions import UnsupportedStateError, run_execution
from include.runtime.local.stepfunctions_validation import LAMBDA_INVOKE
from tests.stepfunctions.inference_scenarios import BUCKET, InferenceHandlers, MemoryObjects, definition

MANIFEST = ("manifests", "chunk/photos.json")
STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:scones-inference"
# Keys of the records a Distributed Map's ResultWriter writes (transformation NONE), recorded from AWS.
RECORDED_SUCCEEDED_KEYS = {"ExecutionArn", "Input", "InputDetails", "Name", "Output", "OutputDetails", "RedriveCount",
                           "RedriveStatus", "RedriveStatusReason", "StartDate", "StateMachineArn", "Status", "StopDate"}
RECORDED_FAILED_KEYS = {"Cause", "Error", "ExecutionArn", "Input", "InputDetails", "Name", "OutputDetails",
                        "RedriveCount", "RedriveStatus", "StartDate", "StateMachineArn", "Status", "StopDate"}
RECORDED_MANIFEST_KEYS = {"DestinationBucket", "MapRunArn", "ResultFiles"}
AWS_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def manifest_of(keys: list[str]) -> MemoryObjects:
    objects = MemoryObjects()
    objects.put_object(*MANIFEST, json.dumps([{"s3_bucket": BUCKET, "s3_key": key} for key in keys]).encode())
    return objects


def chunk_input(max_concurrency: int = 4, tolerated: float = 50) -> dict[str, Any]:
    return {"photos": {"Bucket": MANIFEST[0], "Key": MANIFEST[1]},
            "results": {"Bucket": "results-bucket", "Prefix": "interval/t1/c0001/results"},
            "max_concurrency": max_concurrency, "tolerated_failure_percentage": tolerated}


def run_chunk(keys: list[str], handlers: InferenceHandlers | None = None, **input_fields: Any):
    objects = manifest_of(keys)
    handlers = handlers or InferenceHandlers()
    result = run_execution(definition(), chunk_input(**input_fields), handlers.resources(), name="chunk-1",
                           objects=objects, state_machine_arn=STATE_MACHINE, sleep=lambda _: None)
    return result, objects, handlers


def result_files(objects: MemoryObjects, result) -> tuple[dict, dict[str, list[dict]]]:
    details = result.output["ResultWriterDetails"] if result.output else None
    manifest_key = details["Key"] if details else next(k for b, k in objects if k.endswith("manifest.json"))
    manifest = objects.json("results-bucket", manifest_key)
    files = {status: [record for entry in entries for record in objects.json("results-bucket", entry["Key"])]
             for status, entries in manifest["ResultFiles"].items()}
    return manifest, files


def photo_of(record: dict) -> str:
    return json.loads(record["Input"])["s3_key"]


def test_distributed_map_runs_each_photo_of_the_manifest_once():
    keys = ["photos/bike.png", "photos/moto.jpg", "photos/blurry.png", "photos/notes.txt"]
    result, _, handlers = run_chunk(keys)
    assert result.status == "SUCCEEDED", result
    assert sorted(key for call, key in handlers.photos if call == "serialize") == sorted(keys)
    assert result.history == ["ClassifyPhotos"]


def test_result_writer_output_names_the_map_run_and_its_manifest():
    result, _, _ = run_chunk(["photos/bike.png"])
    map_run = result.output["MapRunArn"]
    assert re.fullmatch(r"arn:aws:states:us-east-1:123456789012:mapRun:scones-inference/ClassifyPhotos:[0-9a-f-]{36}",
                        map_run)
    assert result.output["ResultWriterDetails"] == {
        "Bucket": "results-bucket", "Key": f"interval/t1/c0001/results/{map_run.rsplit(':', 1)[1]}/manifest.json"}


def test_result_files_hold_every_child_in_the_recorded_aws_shapes():
    keys = ["photos/bike.png", "photos/blurry.png", "photos/notes.txt"]
    result, objects, _ = run_chunk(keys)
    manifest, files = result_files(objects, result)
    assert set(manifest) == RECORDED_MANIFEST_KEYS
    assert manifest["MapRunArn"] == result.output["MapRunArn"]
    assert [entry["Key"].rsplit("/", 1)[1] for entry in manifest["ResultFiles"]["SUCCEEDED"]] == ["SUCCEEDED_0.json"]
    assert manifest["ResultFiles"]["PENDING"] == []
    assert sorted(photo_of(r) for r in files["SUCCEEDED"]) == ["photos/bike.png", "photos/blurry.png"]
    (failed,) = files["FAILED"]
    assert set(failed) == RECORDED_FAILED_KEYS and (failed["Status"], failed["Error"]) == ("FAILED", "NotAnImageError")
    assert failed["RedriveStatus"] == "REDRIVABLE_BY_MAP_RUN"
    for record in files["SUCCEEDED"]:
        assert set(record) == RECORDED_SUCCEEDED_KEYS and record["Status"] == "SUCCEEDED"
        assert record["ExecutionArn"] == (f"arn:aws:states:us-east-1:123456789012:execution:scones-inference/"
                                          f"ClassifyPhotos:{record['Name']}")
        assert record["StateMachineArn"] == f"{STATE_MACHINE}/ClassifyPhotos"
        assert AWS_TIMESTAMP.match(record["StartDate"]) and AWS_TIMESTAMP.match(record["StopDate"])
    bike = next(r for r in files["SUCCEEDED"] if photo_of(r) == "photos/bike.png")
    assert json.loads(bike["Output"])["assignment"] == "nearby"
    sizes = {entry["Key"]: entry["Size"] for entries in manifest["ResultFiles"].values() for entry in entries}
    assert all(len(objects[("results-bucket", key)]) == size for key, size in sizes.items())


def test_max_concurrency_bounds_the_photos_in_flight():
    in_flight, peak, lock = [0], [0], threading.Lock()
    handlers = InferenceHandlers()
    serialize = handlers.serialize

    def slow_serialize(event, context):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.02)
        with lock:
            in_flight[0] -= 1
        return serialize(event, context)

    handlers.serialize = slow_serialize
    run_chunk(["photos/bike.png"] * 12, handlers, max_concurrency=3)
    assert peak[0] == 3


def test_failures_above_the_tolerated_percentage_fail_the_map_and_leave_the_rest_pending():
    keys = ["photos/notes.txt", "photos/bike.png", "photos/moto.jpg", "photos/bike.png", "photos/moto.jpg"]
    result, objects, _ = run_chunk(keys, max_concurrency=1, tolerated=10)
    assert (result.status, result.error) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    _, files = result_files(objects, result)
    assert [photo_of(r) for r in files["FAILED"]] == ["photos/notes.txt"]
    assert len(files["PENDING"]) == 4 and files["SUCCEEDED"] == []
    assert all(set(r) == {"Input", "InputDetails", "Status"} for r in files["PENDING"])


def test_failures_within_the_tolerated_percentage_succeed():
    keys = ["photos/notes.txt", "photos/bike.png", "photos/moto.jpg"]
    result, objects, _ = run_chunk(keys, tolerated=34)
    assert result.status == "SUCCEEDED"
    _, files = result_files(objects, result)
    assert (len(files["SUCCEEDED"]), len(files["FAILED"]), len(files["PENDING"])) == (2, 1, 0)


def test_tolerated_failure_count_fails_past_the_count():
    changed = definition()
    state = changed["States"]["ClassifyPhotos"]
    del state["ToleratedFailurePercentagePath"]
    state["ToleratedFailureCount"] = 1
    objects = manifest_of(["photos/notes.txt", "photos/notes.txt", "photos/bike.png"])
    result = run_execution(changed, chunk_input(), InferenceHandlers().resources(), name="count", objects=objects)
    assert result.error == "States.ExceedToleratedFailureThreshold"


def test_progress_reports_finished_and_failed_photos():
    seen: list[tuple[int, int, int]] = []
    objects = manifest_of(["photos/bike.png", "photos/notes.txt", "photos/moto.jpg"])
    run_execution(definition(), chunk_input(max_concurrency=1), InferenceHandlers().resources(), name="p",
                  objects=objects, progress=lambda *counts: seen.append(counts))
    assert seen == [(1, 0, 3), (2, 1, 3), (3, 1, 3)]


def test_distributed_map_without_result_writer_returns_outputs_in_item_order():
    changed = definition()
    del changed["States"]["ClassifyPhotos"]["ResultWriter"]
    objects = manifest_of(["photos/moto.jpg", "photos/notes.txt", "photos/bike.png"])
    result = run_execution(changed, chunk_input(), InferenceHandlers().resources(), name="o", objects=objects)
    assert [o and o["assignment"] for o in result.output] == ["distant", None, "nearby"]


def test_missing_manifest_fails_with_item_reader_failed():
    result = run_execution(definition(), chunk_input(), InferenceHandlers().resources(), name="m",
                           objects=MemoryObjects())
    assert (result.status, result.error) == ("FAILED", "States.ItemReaderFailed")
    assert "s3://manifests/chunk/photos.json" in result.cause


def test_manifest_that_is_not_an_array_fails_with_item_reader_failed():
    objects = MemoryObjects()
    objects.put_object(*MANIFEST, b'{"s3_key": "photos/bike.png"}')
    result = run_execution(definition(), chunk_input(), InferenceHandlers().resources(), name="m", objects=objects)
    assert result.error == "States.ItemReaderFailed" and "not an array" in result.cause


def test_max_concurrency_path_to_a_non_number_fails_with_states_runtime():
    objects = manifest_of(["photos/bike.png"])
    result = run_execution(definition(), {**chunk_input(), "max_concurrency": "many"},
                           InferenceHandlers().resources(), name="c", objects=objects)
    assert result.error == "States.Runtime" and "MaxConcurrencyPath" in result.cause


def inline_map(**map_fields: Any) -> dict[str, Any]:
    flow = definition()["States"]["ClassifyPhotos"]["ItemProcessor"]
    return {"StartAt": "Each", "States": {
        "Each": {"Type": "Map", "ItemsPath": "$.photos", "MaxConcurrency": 1,
                 "ItemProcessor": {"StartAt": flow["StartAt"], "States": flow["States"]},
                 "ResultPath": "$.routed", "End": True, **map_fields}}}


def test_inline_map_returns_each_items_output_in_order():
    photos = [{"s3_bucket": BUCKET, "s3_key": key} for key in ("photos/moto.jpg", "photos/bike.png")]
    result = run_execution(inline_map(), {"photos": photos}, InferenceHandlers().resources(), name="inline")
    assert result.status == "SUCCEEDED"
    assert [row["assignment"] for row in result.output["routed"]] == ["distant", "nearby"]
    assert result.history[:2] == ["Each", "SerializeImage"] and result.history.count("SerializeImage") == 2


def test_inline_map_fails_with_the_failed_items_error_unless_caught():
    photos = [{"s3_bucket": BUCKET, "s3_key": "photos/notes.txt"}, {"s3_bucket": BUCKET, "s3_key": "photos/bike.png"}]
    failed = run_execution(inline_map(), {"photos": photos}, InferenceHandlers().resources(), name="f")
    assert (failed.status, failed.error) == ("FAILED", "NotAnImageError")
    caught_map = inline_map(Catch=[{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "Done"}])
    caught_map["States"]["Done"] = {"Type": "Succeed"}
    caught = run_execution(caught_map, {"photos": photos}, InferenceHandlers().resources(), name="c")
    assert caught.status == "SUCCEEDED" and caught.output["failure"]["Error"] == "NotAnImageError"


def test_inline_map_over_a_non_array_fails_with_states_runtime():
    result = run_execution(inline_map(), {"photos": {"not": "a list"}}, InferenceHandlers().resources(), name="n")
    assert result.error == "States.Runtime"


def test_lambda_invoke_wraps_the_functions_result_in_the_invoke_response():
    function = "arn:aws:lambda:us-east-1:123456789012:function:echo"
    machine = {"StartAt": "Echo", "States": {"Echo": {
        "Type": "Task", "Resource": LAMBDA_INVOKE, "Parameters": {"FunctionName": function, "Payload.$": "$.event"},
        "End": True}}}
    result = run_execution(machine, {"event": {"a": 1}}, {function: lambda event, context: {"echo": event}}, name="e")
    assert set(result.output) == {"ExecutedVersion", "Payload", "SdkHttpMetadata", "SdkResponseMetadata", "StatusCode"}
    assert (result.output["Payload"], result.output["StatusCode"]) == ({"echo": {"a": 1}}, 200)
    assert result.output["SdkHttpMetadata"]["HttpStatusCode"] == 200


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda m: m.__setitem__("ItemBatcher", {"MaxItemsPerBatch": 10}), "ItemBatcher"),
        (lambda m: m.__setitem__("ItemSelector", {"photo.$": "$$.Map.Item.Value"}), "ItemSelector"),
        (lambda m: m["ItemReader"]["ReaderConfig"].__setitem__("InputType", "CSV"), "CSV"),
        (lambda m: m["ItemReader"]["ReaderConfig"].__setitem__("MaxItems", 5), "MaxItems"),
        (lambda m: m["ResultWriter"].__setitem__("WriterConfig", {"OutputType": "JSONL"}), "WriterConfig"),
        (lambda m: m["ResultWriter"].__setitem__("Resource", "arn:aws:states:::s3:listObjectsV2"), "listObjectsV2"),
        (lambda m: m["ItemProcessor"]["ProcessorConfig"].__setitem__("Mode", "PARALLEL"), "PARALLEL"),
        (lambda m: m["ItemProcessor"]["ProcessorConfig"].__setitem__("Mode", "INLINE"), "DISTRIBUTED"),
        (lambda m: m.__setitem__("MaxConcurrency", 3), "not both"),
        (lambda m: m["ItemProcessor"]["States"]["ClassifyImage"].__setitem__("Next", "Nowhere"), "'Nowhere'"),
    ],
)
def test_unsupported_map_parts_are_refused_by_name(change, named: str):
    changed = copy.deepcopy(definition())
    change(changed["States"]["ClassifyPhotos"])
    with pytest.raises(UnsupportedStateError, match=re.escape(named)):
        run_execution(changed, chunk_input(), InferenceHandlers().resources(), name="x", objects=MemoryObjects())
