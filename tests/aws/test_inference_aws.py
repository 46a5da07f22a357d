"""scones_inference in ``aws`` mode: one deferrable Step Functions execution per photo, then the routing file.

Three scheduled runs share one emulated account with the inference state machine: the 10:00
hour (three photos) runs three executions and routes their couriers; the same hour again
starts no execution (Step Functions refuses the names, the operator reuses the finished
executions) and rewrites an identical routing file; the 12:00 hour has no photos and gets an
empty routing file.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import pendulum
import pytest

from tests.aws import inference_scenario
from tests.aws.inference_scenario import LOW_CONFIDENCE_MESSAGE, STATE_MACHINE_ARN
from tests.aws.moto_harness import AwsHarness, DagRunResult, MotoServer
from tests.support.botocore_contract import assert_valid_request

pytestmark = pytest.mark.e2e

BUCKET = "scones-inference-e2e"
HOUR_DATE = pendulum.datetime(2026, 1, 1, 11, tz="UTC")
RUN_KEY = "20260101T1000"
EMPTY_HOUR_DATE = pendulum.datetime(2026, 1, 1, 13, tz="UTC")
EMPTY_RUN_KEY = "20260101T1200"
PHOTOS = [f"incoming/photos/2026/01/01/10/{name}" for name in ("bicycle-1.png", "blurry-2.png", "motorcycle-3.png")]
LATE_PHOTO = "incoming/photos/2026/01/01/11/bicycle-late.png"
MAPPED = [f"classify_photo[{index}]" for index in range(len(PHOTOS))]
TASKS = ["list_photos", "build_executions", *MAPPED, "write_routing"]
SCENARIO = "tests.aws.inference_scenario:install"
STEP_FUNCTIONS_TRIGGER = "airflow.providers.amazon.aws.triggers.step_function.StepFunctionsExecutionCompleteTrigger"


@dataclass
class InferenceRuns:
    first: DagRunResult
    first_routing: bytes
    again: DagRunResult
    again_routing: bytes
    empty_hour: DagRunResult
    moto: MotoServer


def read_object(moto: MotoServer, key: str) -> bytes:
    return moto.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()


def execution_name(photo_key: str) -> str:
    stem = photo_key.rsplit("/", 1)[-1].removesuffix(".png")
    return f"{RUN_KEY.lower()}-{stem}-{hashlib.sha256(photo_key.encode()).hexdigest()[:16]}"


@pytest.fixture(scope="module")
def inference_runs(aws_harness: AwsHarness) -> InferenceRuns:
    env = {"SCONES_BUCKET": BUCKET, "SCONES_INFERENCE__STATE_MACHINE_ARN": STATE_MACHINE_ARN}

    def account_with_photos(moto: MotoServer) -> None:
        s3 = moto.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        inference_scenario.put_photos(s3, BUCKET, [*PHOTOS, LATE_PHOTO])
        arn = inference_scenario.create_state_machine(moto.client("iam"), moto.client("stepfunctions"))
        assert arn == STATE_MACHINE_ARN

    first = aws_harness.run_dag("scones_inference", HOUR_DATE, env, setup=account_with_photos, scenarios=[SCENARIO])
    first_routing = read_object(aws_harness.moto, f"routing/{RUN_KEY}/routing.json")
    again = aws_harness.run_dag("scones_inference", HOUR_DATE, env, scenarios=[SCENARIO])
    again_routing = read_object(aws_harness.moto, f"routing/{RUN_KEY}/routing.json")
    empty_hour = aws_harness.run_dag("scones_inference", EMPTY_HOUR_DATE, env, scenarios=[SCENARIO])
    return InferenceRuns(first, first_routing, again, again_routing, empty_hour, aws_harness.moto)


def started(run: DagRunResult) -> list[dict]:
    return [call.params for call in run.calls("stepfunctions", "StartExecution")]


def test_hour_with_photos_succeeds_in_every_task(inference_runs: InferenceRuns) -> None:
    run = inference_runs.first
    assert run.task_states == dict.fromkeys(TASKS, "success"), run.log_tail()
    assert run.dag_run_state == "success", run.log_tail()
    assert run.run_id == "scheduled__2026-01-01T11:00:00+00:00"


def test_one_execution_per_photo_of_the_hour(inference_runs: InferenceRuns) -> None:
    requests = sorted(started(inference_runs.first), key=lambda r: r["name"])
    expected = sorted(PHOTOS, key=execution_name)

    assert [r["name"] for r in requests] == [execution_name(key) for key in expected]
    for request, key in zip(requests, expected, strict=True):
        assert_valid_request("stepfunctions", "StartExecution", request)
        assert request["stateMachineArn"] == STATE_MACHINE_ARN
        assert json.loads(request["input"]) == {"s3_bucket": BUCKET, "s3_key": key}


def test_every_execution_deferred_to_the_step_functions_trigger(inference_runs: InferenceRuns) -> None:
    run = inference_runs.first
    assert sorted(t["task_id"] for t in run.triggers) == ["classify_photo"] * len(PHOTOS), run.log_tail()
    assert {t["trigger"] for t in run.triggers} == {STEP_FUNCTIONS_TRIGGER}
    arns = {t["event"]["execution_arn"] for t in run.triggers if t["event"]["status"] == "success"}
    assert arns == {f"{STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:{execution_name(key)}"
                    for key in PHOTOS}
    assert len(run.calls("stepfunctions", "DescribeExecution", transport="aiobotocore")) >= 2 * len(PHOTOS)


def test_routing_file_assigns_each_courier(inference_runs: InferenceRuns) -> None:
    document = json.loads(inference_runs.first_routing)
    rows = {row["courier_photo"].rsplit("/", 1)[-1]: row for row in document["routing"]}

    assert (document["run_key"], document["photos"]) == (RUN_KEY, 3)
    assert document["counts"] == {"nearby": 1, "distant": 1, "human_review": 1}
    assert [row["courier_photo"] for row in document["routing"]] == [f"s3://{BUCKET}/{key}" for key in PHOTOS]
    assert (rows["bicycle-1.png"]["vehicle"], rows["bicycle-1.png"]["assignment"]) == ("bicycle", "nearby")
    assert rows["bicycle-1.png"]["confidence"] == 0.97
    assert (rows["motorcycle-3.png"]["vehicle"], rows["motorcycle-3.png"]["assignment"]) == ("motorcycle", "distant")
    assert rows["blurry-2.png"]["assignment"] == "human_review"
    assert rows["blurry-2.png"]["reason"] == f"LowConfidenceError: {LOW_CONFIDENCE_MESSAGE}"
    assert {row["execution"] for row in document["routing"]} == {execution_name(key) for key in PHOTOS}


def test_unsure_photo_is_queued_for_review(inference_runs: InferenceRuns) -> None:
    review = "review/20260101T1000/2026/01/01/10/blurry-2.png"
    assert read_object(inference_runs.moto, review) == read_object(inference_runs.moto, PHOTOS[1])
    note = json.loads(read_object(inference_runs.moto, f"{review}.json"))
    assert note["execution"] == execution_name(PHOTOS[1])
    assert note["confidence"] == 0.61


def test_rerun_reuses_the_finished_executions(inference_runs: InferenceRuns) -> None:
    run = inference_runs.again
    assert run.task_states == dict.fromkeys(TASKS, "success"), run.log_tail()
    assert sorted(r["name"] for r in started(run)) == sorted(execution_name(key) for key in PHOTOS)
    assert run.triggers == []
    assert run.log_path.read_text(errors="replace").count("exists (started by an earlier try or run); reusing") == 3
    executions = inference_runs.moto.client("stepfunctions").list_executions(stateMachineArn=STATE_MACHINE_ARN)
    assert len(executions["executions"]) == len(PHOTOS)


def test_rerun_rewrites_an_identical_routing_file(inference_runs: InferenceRuns) -> None:
    assert inference_runs.again_routing == inference_runs.first_routing


def test_hour_without_photos_gets_an_empty_routing_file(inference_runs: InferenceRuns) -> None:
    run = inference_runs.empty_hour
    assert run.dag_run_state == "success", run.log_tail()
    assert run.task_states["write_routing"] == "success", run.log_tail()
    assert started(run) == []
    document = json.loads(read_object(inference_runs.moto, f"routing/{EMPTY_RUN_KEY}/routing.json"))
    assert document == {"run_key": EMPTY_RUN_KEY, "photos": 0, "routing": [],
                        "counts": {"nearby": 0, "distant": 0, "human_review": 0}}


def test_photos_outside_the_interval_are_not_classified(inference_runs: InferenceRuns) -> None:
    every_input = [json.loads(r["input"])["s3_key"] for run in (inference_runs.first, inference_runs.empty_hour)
                   for r in started(run)]
    assert LATE_PHOTO not in every_input
