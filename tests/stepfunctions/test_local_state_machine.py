"""The local Step Functions interpreter running the per-photo flow: Tasks through lambda:invoke, Choice, Pass,
Succeed and Fail, Retry and Catch; and what it refuses."""

from __future__ import annotations

import json
import re

import pytest

from include.runtime.local.stepfunctions import (
    PlaceholderError,
    TaskFailure,
    UnknownResourceError,
    UnsupportedStateError,
    load_definition,
    run_execution,
)
from include.runtime.local.stepfunctions_validation import LAMBDA_INVOKE
from tests.stepfunctions.inference_scenarios import (
    ARNS,
    BUCKET,
    DEFINITION_FILE,
    InferenceHandlers,
    photo_flow,
)


def run(key: str, handlers: InferenceHandlers | None = None, sleeps: list[float] | None = None, **kwargs):
    handlers = handlers or InferenceHandlers()
    record = sleeps if sleeps is not None else []
    return run_execution(kwargs.pop("definition", None) or photo_flow(), {"s3_bucket": BUCKET, "s3_key": key},
                         handlers.resources(), name=key.replace("/", "-"), sleep=record.append)


def test_confident_bicycle_is_assigned_nearby_orders() -> None:
    result = run("photos/bike.png")
    assert result.status == "SUCCEEDED"
    assert result.output == {"s3_bucket": BUCKET, "s3_key": "photos/bike.png", "vehicle": "bicycle",
                             "confidence": 0.97, "inferences": [0.97, 0.03], "assignment": "nearby"}
    assert result.history == ["SerializeImage", "ClassifyImage", "FilterLowConfidence", "RouteByVehicle",
                              "AssignNearbyOrders"]


def test_confident_motorcycle_is_assigned_distant_orders() -> None:
    result = run("photos/moto.jpg")
    assert (result.status, result.output["vehicle"], result.output["assignment"]) == (
        "SUCCEEDED", "motorcycle", "distant")


def test_low_confidence_is_caught_and_sent_to_human_review() -> None:
    result = run("photos/blurry.png")
    assert result.status == "SUCCEEDED"
    assert result.history[-2:] == ["NeedsHumanReview", "ReviewQueued"]
    review = result.output.pop("review")
    assert result.output == {"s3_bucket": BUCKET, "s3_key": "photos/blurry.png", "vehicle": "review",
                             "confidence": 0.55, "inferences": [0.55, 0.45], "assignment": "human_review"}
    assert review["Error"] == "LowConfidenceError"
    assert json.loads(review["Cause"])["errorMessage"].startswith("confidence 0.5500")


def test_non_image_fails_the_execution_with_error_and_cause() -> None:
    handlers = InferenceHandlers()
    result = run("photos/notes.txt", handlers)
    assert (result.status, result.error) == ("FAILED", "NotAnImageError")
    assert json.loads(result.cause) == {"errorMessage": "s3://scones-test/photos/notes.txt is not a PNG or JPEG",
                                       "errorType": "NotAnImageError"}
    assert result.history == ["SerializeImage", "ClassificationFailed"]
    assert handlers.calls == ["serialize"]


def test_transient_lambda_service_error_is_retried_with_backoff() -> None:
    handlers, sleeps = InferenceHandlers(transient_failures=2), []
    result = run("photos/flaky.png", handlers, sleeps)
    assert result.status == "SUCCEEDED"
    assert sleeps == [1, 2]
    assert handlers.calls[:3] == ["serialize", "serialize", "serialize"]


def test_retries_give_up_after_max_attempts_and_fail() -> None:
    handlers, sleeps = InferenceHandlers(transient_failures=10), []
    result = run("photos/flaky.png", handlers, sleeps)
    assert (result.status, result.error) == ("FAILED", "Lambda.ServiceException")
    assert result.cause == "Lambda is temporarily unavailable"
    assert sleeps == [1, 2, 4]


def test_unavailable_endpoint_is_retried_with_jittered_backoff_then_classified() -> None:
    handlers, sleeps = InferenceHandlers(unavailable_failures=3), []
    result = run("photos/bike.png", handlers, sleeps)
    assert (result.status, result.output["assignment"]) == ("SUCCEEDED", "nearby")
    assert handlers.calls == ["serialize", "classify", "classify", "classify", "classify", "filter"]
    assert len(sleeps) == 3 and all(0 <= delay <= cap for delay, cap in zip(sleeps, [1, 2, 4], strict=True))


def test_endpoint_unavailable_beyond_the_retries_fails_with_the_transient_error() -> None:
    handlers, sleeps = InferenceHandlers(unavailable_failures=99), []
    result = run("photos/bike.png", handlers, sleeps)
    assert (result.status, result.error) == ("FAILED", "EndpointUnavailableError")
    assert handlers.calls.count("classify") == 6
    assert len(sleeps) == 5 and max(sleeps) <= 10


def test_photo_the_model_rejects_fails_at_once_without_retrying() -> None:
    handlers, sleeps = InferenceHandlers(), []
    result = run("photos/rejected.png", handlers, sleeps)
    assert (result.status, result.error) == ("FAILED", "PhotoRejectedError")
    assert (handlers.calls, sleeps) == (["serialize", "classify"], [])


def test_result_selector_drops_the_inline_photo_after_classification() -> None:
    seen = []
    handlers = InferenceHandlers()
    resources = handlers.resources()
    filter_handler = resources[ARNS["FilterLowConfidenceFunctionArn"]]
    resources[ARNS["FilterLowConfidenceFunctionArn"]] = lambda event, context: (
        seen.append(event) or filter_handler(event, context))
    run_execution(photo_flow(), {"s3_bucket": BUCKET, "s3_key": "photos/bike.png"}, resources, name="x")
    assert seen[0]["body"]["image_data"] == ""
    assert seen[0]["body"]["inferences"] == [0.97, 0.03]


def test_oversize_task_result_fails_with_data_limit_exceeded() -> None:
    big = {"statusCode": 200, "body": {"image_data": "A" * 300_000}}
    resources = {**InferenceHandlers().resources(), ARNS["SerializeImageFunctionArn"]: lambda event, context: big}
    result = run_execution(photo_flow(), {"s3_bucket": BUCKET, "s3_key": "k"}, resources, name="big")
    assert (result.status, result.error) == ("FAILED", "States.DataLimitExceeded")
    assert result.history == ["SerializeImage"]


def test_handler_input_is_a_json_copy() -> None:
    def mutate(event, context):
        event["s3_key"] = "changed"
        raise TaskFailure("Custom", "stop")

    resources = {**InferenceHandlers().resources(), ARNS["SerializeImageFunctionArn"]: mutate}
    state_input = {"s3_bucket": BUCKET, "s3_key": "k"}
    run_execution(photo_flow(), state_input, resources, name="copy")
    assert state_input == {"s3_bucket": BUCKET, "s3_key": "k"}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda d: d["States"].__setitem__("Fan", {"Type": "Parallel", "Branches": [], "End": True}), "'Fan'"),
        (lambda d: d["States"]["ClassifyImage"].__setitem__("Resource", f"{LAMBDA_INVOKE}.waitForTaskToken"),
         "lambda:invoke.waitForTaskToken"),
        (lambda d: d["States"]["ClassifyImage"].__setitem__("Resource", "arn:aws:states:::sqs:sendMessage"),
         "sqs:sendMessage"),
        (lambda d: d["States"]["ClassifyImage"]["Parameters"].__setitem__("InvocationType", "Event"), "InvocationType"),
        (lambda d: d["States"]["ClassifyImage"]["Parameters"].update({"FunctionName.$": "$.function"}),
         "FunctionName.$"),
        (lambda d: d["States"]["ClassifyImage"].__setitem__("TimeoutSeconds", 30), "TimeoutSeconds"),
        (lambda d: d["States"]["SerializeImage"]["Retry"][0].__setitem__("JitterStrategy", "HALF"),
         "JitterStrategy"),
        (lambda d: d["States"]["RouteByVehicle"]["Choices"][0].__setitem__("Variable", "$$.Execution.Id"),
         "Variable"),
        (lambda d: d["States"]["AssignNearbyOrders"]["Parameters"].__setitem__("id.$", "States.UUID()"), "id.$"),
        (lambda d: d.__setitem__("TimeoutSeconds", 60), "TimeoutSeconds"),
    ],
)
def test_unsupported_definition_parts_are_refused_by_name(change, named: str) -> None:
    changed = photo_flow()
    change(changed)
    with pytest.raises(UnsupportedStateError, match=re.escape(named)):
        run("photos/bike.png", definition=changed)


def test_next_to_a_missing_state_is_refused() -> None:
    changed = photo_flow()
    changed["States"]["ClassifyImage"]["Next"] = "Nowhere"
    with pytest.raises(UnsupportedStateError, match="'Nowhere' is not a state"):
        run("photos/bike.png", definition=changed)


def test_missing_placeholder_value_names_the_placeholder() -> None:
    partial = {k: v for k, v in ARNS.items() if k != "ClassifyImageFunctionArn"}
    with pytest.raises(PlaceholderError, match="ClassifyImageFunctionArn"):
        load_definition(DEFINITION_FILE, partial)


def test_resource_without_a_handler_is_refused() -> None:
    resources = InferenceHandlers().resources()
    del resources[ARNS["ClassifyImageFunctionArn"]]
    with pytest.raises(UnknownResourceError, match="ClassifyImage"):
        run_execution(photo_flow(), {"s3_bucket": BUCKET, "s3_key": "k"}, resources, name="x")


def test_placeholder_names_resolve_resources_of_an_unsubstituted_definition() -> None:
    processor = json.loads(DEFINITION_FILE.read_text())["States"]["ClassifyPhotos"]["ItemProcessor"]
    raw = {"StartAt": processor["StartAt"], "States": processor["States"]}
    resources = {placeholder: InferenceHandlers().resources()[arn] for placeholder, arn in ARNS.items()}
    result = run_execution(raw, {"s3_bucket": BUCKET, "s3_key": "photos/moto.jpg"}, resources, name="raw")
    assert result.output["assignment"] == "distant"
