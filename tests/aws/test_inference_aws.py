"""scones_inference in ``aws`` mode: one deferrable Step Functions execution per chunk of photos, each with its
photo manifest in S3, then the routing file from what the executions' ResultWriter wrote.

Four scheduled runs share one emulated account with the inference state machine, two photos per execution:
the 10:00 hour (five photos, one hit by a transient endpoint error) runs three executions; the same hour
again (a re-run after that partial failure) starts one try-suffixed execution for the failed photo alone and
reuses the rest; a third run finds nothing left to classify and rewrites the same routing file; the 12:00
hour has no photos and gets an empty routing file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pendulum
import pytest

from tests.aws import inference_scenario
from tests.aws.inference_scenario import LOW_CONFIDENCE_MESSAGE, OUTAGE_ERROR, STATE_MACHINE_ARN
from tests.aws.moto_harness import AwsHarness, DagRunResult, MotoServer
from tests.support.botocore_contract import assert_valid_request

pytestmark = pytest.mark.e2e

BUCKET = "scones-inference-e2e"
HOUR_DATE = pendulum.datetime(2026, 1, 1, 11, tz="UTC")
RUN_KEY = "20260101T1000"
EMPTY_HOUR_DATE = pendulum.datetime(2026, 1, 1, 13, tz="UTC")
EMPTY_RUN_KEY = "20260101T1200"
NAMES = ("bicycle-1.png", "blurry-2.png", "flaky-3.png", "motorcycle-4.png", "motorcycle-5.png")
PHOTOS = [f"incoming/photos/2026/01/01/10/{name}" for name in NAMES]
LATE_PHOTO = "incoming/photos/2026/01/01/11/bicycle-late.png"
TASKS = ["plan_executions", "classify_photos", "write_routing"]
CHUNKS = [PHOTOS[0:2], PHOTOS[2:4], PHOTOS[4:5]]
FIRST_ROUND = ["20260101t1000-c0001", "20260101t1000-c0002", "20260101t1000-c0003"]
SCENARIO = "tests.aws.inference_scenario:install"
STEP_FUNCTIONS_TRIGGER = "airflow.providers.amazon.aws.triggers.step_function.StepFunctionsExecutionCompleteTrigger"


@dataclass
class InferenceRuns:
    first: DagRunResult
    first_routing: bytes
    rerun: DagRunResult
    rerun_routing: bytes
    settled: DagRunResult
    settled_routing: bytes
    empty_hour: DagRunResult
    moto: MotoServer


def read_object(moto: MotoServer, key: str) -> bytes:
    return moto.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()


def routing(runs_routing: bytes) -> dict[str, dict]:
    return {row["courier_photo"].rsplit("/", 1)[-1]: row for row in json.loads(runs_routing)["routing"]}


@pytest.fixture(scope="module")
def inference_runs(aws_harness: AwsHarness) -> InferenceRuns:
    env = {"SCONES_BUCKET": BUCKET, "SCONES_INFERENCE__STATE_MACHINE_ARN": STATE_MACHINE_ARN,
           "SCONES_INFERENCE__PHOTOS_PER_EXECUTION": "2"}

    def account_with_photos(moto: MotoServer) -> None:
        s3 = moto.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        inference_scenario.put_photos(s3, BUCKET, [*PHOTOS, LATE_PHOTO])
        arn = inference_scenario.create_state_machine(moto.client("iam"), moto.client("stepfunctions"))
        assert arn == STATE_MACHINE_ARN

    def hour(setup=None) -> tuple[DagRunResult, bytes]:
        run = aws_harness.run_dag("scones_inference", HOUR_DATE, env, setup=setup, scenarios=[SCENARIO])
        return run, read_object(aws_harness.moto, f"routing/{RUN_KEY}/routing.json")

    first, first_routing = hour(setup=account_with_photos)
    rerun, rerun_routing = hour()
    settled, settled_routing = hour()
    empty_hour = aws_harness.run_dag("scones_inference", EMPTY_HOUR_DATE, env, scenarios=[SCENARIO])
    return InferenceRuns(first, first_routing, rerun, rerun_routing, settled, settled_routing, empty_hour,
                         aws_harness.moto)


def started(run: DagRunResult) -> list[dict]:
    return [call.params for call in run.calls("stepfunctions", "StartExecution")]


def test_an_hour_is_three_task_instances_whatever_its_photo_count(inference_runs: InferenceRuns) -> None:
    run = inference_runs.first
    assert run.task_states == dict.fromkeys(TASKS, "success"), run.log_tail()
    assert run.dag_run_state == "success", run.log_tail()
    assert run.run_id == "scheduled__2026-01-01T11:00:00+00:00"


def test_one_execution_per_chunk_with_its_manifest_in_s3(inference_runs: InferenceRuns) -> None:
    requests = started(inference_runs.first)
    assert [r["name"] for r in requests] == FIRST_ROUND
    for request, chunk in zip(requests, CHUNKS, strict=True):
        assert_valid_request("stepfunctions", "StartExecution", request)
        assert request["stateMachineArn"] == STATE_MACHINE_ARN
        execution_input = json.loads(request["input"])
        assert execution_input["photos"]["Bucket"] == BUCKET
        manifest = json.loads(read_object(inference_runs.moto, execution_input["photos"]["Key"]))
        assert manifest == [{"s3_bucket": BUCKET, "s3_key": key} for key in chunk]
        assert execution_input["results"]["Prefix"].startswith(f"inference/{RUN_KEY}/t1/")
        assert (execution_input["max_concurrency"], execution_input["tolerated_failure_percentage"]) == (16, 5)


def test_every_execution_deferred_to_the_step_functions_trigger(inference_runs: InferenceRuns) -> None:
    run = inference_runs.first
    assert [t["task_id"] for t in run.triggers] == ["classify_photos"] * len(CHUNKS), run.log_tail()
    assert {t["trigger"] for t in run.triggers} == {STEP_FUNCTIONS_TRIGGER}
    arns = [t["event"]["execution_arn"] for t in run.triggers if t["event"]["status"] == "success"]
    assert arns == [f"{STATE_MACHINE_ARN.replace(':stateMachine:', ':execution:')}:{name}" for name in FIRST_ROUND]


def test_routing_file_routes_every_photo_once_from_the_results(inference_runs: InferenceRuns) -> None:
    document = json.loads(inference_runs.first_routing)
    rows = routing(inference_runs.first_routing)
    assert (document["run_key"], document["photos"]) == (RUN_KEY, len(PHOTOS))
    assert [row["courier_photo"] for row in document["routing"]] == [f"s3://{BUCKET}/{key}" for key in PHOTOS]
    assert document["counts"] == {"nearby": 1, "distant": 2, "human_review": 2}
    assert (rows["bicycle-1.png"]["vehicle"], rows["bicycle-1.png"]["confidence"]) == ("bicycle", 0.97)
    assert rows["blurry-2.png"]["reason"] == f"LowConfidenceError: {LOW_CONFIDENCE_MESSAGE}"
    assert rows["flaky-3.png"]["reason"].startswith(f"{OUTAGE_ERROR}: ")
    assert all(":execution:scones-inference/ClassifyPhotos:" in row["execution"] for row in rows.values())


def test_unsure_photo_is_queued_for_review(inference_runs: InferenceRuns) -> None:
    review = f"review/{RUN_KEY}/2026/01/01/10/blurry-2.png"
    assert read_object(inference_runs.moto, review) == read_object(inference_runs.moto, PHOTOS[1])
    note = json.loads(read_object(inference_runs.moto, f"{review}.json"))
    assert note["confidence"] == 0.61
    assert note["execution"] == routing(inference_runs.first_routing)["blurry-2.png"]["execution"]


def test_rerun_after_partial_failure_classifies_only_the_failed_photo_again(inference_runs: InferenceRuns) -> None:
    run = inference_runs.rerun
    assert run.task_states == dict.fromkeys(TASKS, "success"), run.log_tail()
    (request,) = started(run)
    assert request["name"] == "20260101t1000-c0001-t2"
    manifest = json.loads(read_object(inference_runs.moto, json.loads(request["input"])["photos"]["Key"]))
    assert manifest == [{"s3_bucket": BUCKET, "s3_key": PHOTOS[2]}]
    before, after = routing(inference_runs.first_routing), routing(inference_runs.rerun_routing)
    assert (after["flaky-3.png"]["assignment"], after["flaky-3.png"]["reason"]) == ("nearby", "")
    assert {name: row for name, row in after.items() if name != "flaky-3.png"} == {
        name: row for name, row in before.items() if name != "flaky-3.png"}


def test_rerun_takes_the_classified_photo_out_of_the_review_queue(inference_runs: InferenceRuns) -> None:
    queued = inference_runs.moto.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=f"review/{RUN_KEY}/")
    assert sorted(o["Key"].rsplit("/", 1)[-1] for o in queued["Contents"]) == ["blurry-2.png", "blurry-2.png.json"]


def test_settled_hour_starts_nothing_and_rewrites_the_same_routing_file(inference_runs: InferenceRuns) -> None:
    run = inference_runs.settled
    assert run.task_states == dict.fromkeys(TASKS, "success"), run.log_tail()
    assert started(run) == [] and run.triggers == []
    assert inference_runs.settled_routing == inference_runs.rerun_routing
    executions = inference_runs.moto.client("stepfunctions").list_executions(stateMachineArn=STATE_MACHINE_ARN)
    assert len(executions["executions"]) == len(CHUNKS) + 1


def test_hour_without_photos_gets_an_empty_routing_file(inference_runs: InferenceRuns) -> None:
    run = inference_runs.empty_hour
    assert run.dag_run_state == "success", run.log_tail()
    assert started(run) == []
    document = json.loads(read_object(inference_runs.moto, f"routing/{EMPTY_RUN_KEY}/routing.json"))
    assert document == {"run_key": EMPTY_RUN_KEY, "photos": 0, "routing": [],
                        "counts": {"nearby": 0, "distant": 0, "human_review": 0}}


def test_photos_outside_the_interval_are_not_classified(inference_runs: InferenceRuns) -> None:
    manifests = [json.loads(read_object(inference_runs.moto, json.loads(r["input"])["photos"]["Key"]))
                 for run in (inference_runs.first, inference_runs.rerun) for r in started(run)]
    assert LATE_PHOTO not in {item["s3_key"] for manifest in manifests for item in manifest}
