"""The inference workflow's steps: the interval's photos, the executions planned for them, re-runs, the routing
file and the review queue.

Executions run with the local interpreter on the deployed definition, against stand-in handlers that
classify a photo by its file name (``bike``, ``moto``, ``blurry``; ``notes`` is not an image), so the
results read back are the ResultWriter's own files on S3 on disk.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from include.runtime.local.inference_flow import StoreObjects
from include.runtime.local.stepfunctions import run_execution
from include.runtime.local.store import LocalObjectStore
from include.settings import get_settings
from include.workflows.inference import (
    IntervalNotClassifiedError,
    MissingOutcomeError,
    execution_name,
    list_interval_photos,
    plan_executions,
    publish_routing,
)
from lambdas.filter_low_confidence import app as filter_low_confidence
from lambdas.serialize_image.app import NotAnImageError
from tests.stepfunctions.inference_scenarios import ARNS, definition

START = datetime(2026, 3, 1, 10, tzinfo=UTC)
END = datetime(2026, 3, 1, 11, tzinfo=UTC)
RUN_KEY = "20260301T1000"
HOUR = "incoming/photos/2026/03/01/10"
STEP_FUNCTIONS_NAME = re.compile(r"^[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/]{1,80}$")
INFERENCES = {"bike": [0.97, 0.03], "moto": [0.02, 0.98], "blurry": [0.55, 0.45]}


class EndpointUnavailableError(RuntimeError):
    """What a stand-in classify raises for the photos it is told are hit by an outage."""


class StandInHandlers:
    """serialize, classify and filter by file name; classify fails for the photos in ``outage``."""

    def __init__(self, outage: set[str] = frozenset()) -> None:
        self.outage = outage
        self.classified: list[str] = []

    def resources(self) -> dict[str, Any]:
        return {ARNS["SerializeImageFunctionArn"]: self.serialize, ARNS["ClassifyImageFunctionArn"]: self.classify,
                ARNS["FilterLowConfidenceFunctionArn"]: filter_low_confidence.lambda_handler}

    def serialize(self, event: dict, context: Any) -> dict:
        if event["s3_key"].endswith(".txt"):
            raise NotAnImageError(f"s3://{event['s3_bucket']}/{event['s3_key']} is not a PNG or JPEG")
        return {"statusCode": 200, "body": {**event, "image_data": "", "content_type": "image/png", "inferences": []}}

    def classify(self, event: dict, context: Any) -> dict:
        key = event["body"]["s3_key"]
        if key in self.outage:
            raise EndpointUnavailableError(f"endpoint unreachable for {key}")
        self.classified.append(key)
        inferences = INFERENCES[key.rsplit("/", 1)[1].split("-")[0]]
        best = 0 if inferences[0] >= inferences[1] else 1
        return {"statusCode": 200, "body": {**event["body"], "inferences": inferences,
                                            "predicted_class": ("bicycle", "motorcycle")[best],
                                            "confidence": inferences[best]}}


@pytest.fixture
def store(settings) -> LocalObjectStore:
    return LocalObjectStore(settings.data_root)


@pytest.fixture
def small_chunks(scones_env, monkeypatch):
    monkeypatch.setenv("SCONES_INFERENCE__PHOTOS_PER_EXECUTION", "3")
    monkeypatch.setenv("SCONES_INFERENCE__TOLERATED_FAILURE_PERCENTAGE", "100")
    monkeypatch.setenv("SCONES_CONFIDENCE_THRESHOLD", "0.9")
    get_settings.cache_clear()
    return get_settings()


def put_photos(settings, store, names: list[str], hour: str = HOUR) -> list[str]:
    keys = [f"{hour}/{name}" for name in names]
    for key in keys:
        store.put_bytes(settings.s3_uri(key), b"\x89PNG\r\n\x1a\n" + key.encode())
    return keys


def classify(settings, store, executions: list[dict], handlers: StandInHandlers) -> list[dict]:
    """Run each planned execution with the local interpreter, as the local runtime's task does."""
    outcomes = []
    for execution in executions:
        result = run_execution(definition(), execution["input"], handlers.resources(), name=execution["name"],
                               objects=StoreObjects(store), state_machine_arn=settings.inference.state_machine_arn,
                               sleep=lambda _: None)
        outcomes.append({"name": execution["name"], "executionArn": f"arn:{execution['name']}",
                         "status": result.status, "output": result.output, "error": result.error,
                         "cause": result.cause})
    return outcomes


def run_interval(settings, store, handlers: StandInHandlers) -> tuple[list[dict], dict | None]:
    """Plan, classify and route the interval once; the routing summary, or None when routing raised."""
    photos = list_interval_photos(settings, store, START, END)
    executions = plan_executions(settings, store, run_key=RUN_KEY, photo_keys=photos)
    outcomes = classify(settings, store, executions, handlers)
    return executions, publish_routing(settings, store, run_key=RUN_KEY, executions=executions, outcomes=outcomes)


def routing_document(settings, store) -> dict:
    return json.loads(store.get_bytes(settings.s3_uri("routing", RUN_KEY, "routing.json")))


def rows_by_name(settings, store) -> dict[str, dict]:
    return {row["courier_photo"].rsplit("/", 1)[1]: row for row in routing_document(settings, store)["routing"]}


def test_interval_takes_photos_by_hour_folder_not_by_file_time(settings, store):
    for hour in ("09", "10", "11"):
        put_photos(settings, store, [f"courier-{hour}.png"], hour=f"incoming/photos/2026/03/01/{hour}")
    assert list_interval_photos(settings, store, START, END) == [f"{HOUR}/courier-10.png"]


def test_interval_without_photos_plans_no_execution_and_routes_nothing(settings, store):
    executions, summary = run_interval(settings, store, StandInHandlers())
    assert executions == []
    assert routing_document(settings, store)["routing"] == [] and summary["photos"] == 0


def test_every_photo_is_planned_once_in_chunks_of_photos_per_execution(small_chunks, store):
    keys = put_photos(small_chunks, store, [f"bike-{n:02d}.png" for n in range(8)])
    executions = plan_executions(small_chunks, store, run_key=RUN_KEY, photo_keys=keys)
    assert [e["name"] for e in executions] == ["20260301t1000-c0001", "20260301t1000-c0002", "20260301t1000-c0003"]
    chunks = [json.loads(store.get_bytes(f"s3://{e['input']['photos']['Bucket']}/{e['input']['photos']['Key']}"))
              for e in executions]
    assert [len(chunk) for chunk in chunks] == [3, 3, 2] == [e["photos"] for e in executions]
    assert [item["s3_key"] for chunk in chunks for item in chunk] == keys
    assert chunks[0][0] == {"s3_bucket": small_chunks.bucket, "s3_key": keys[0]}


def test_execution_input_carries_the_map_limits_from_the_settings(small_chunks, store):
    (execution,) = plan_executions(small_chunks, store, run_key=RUN_KEY,
                                   photo_keys=put_photos(small_chunks, store, ["bike-1.png"]))
    assert execution["input"] == {
        "photos": {"Bucket": small_chunks.bucket, "Key": "inference/20260301T1000/t1/c0001/photos.json"},
        "results": {"Bucket": small_chunks.bucket, "Prefix": "inference/20260301T1000/t1/c0001/results"},
        "max_concurrency": small_chunks.inference.max_concurrency, "tolerated_failure_percentage": 100}


def test_execution_names_are_step_functions_safe_and_try_suffixed_after_the_first_round():
    long_key = "manual__2026-03-01T10:00:00.123456+00:00-" + "x" * 80
    names = [execution_name(long_key, 1, 1), execution_name(long_key, 1, 2), execution_name(RUN_KEY, 12, 3)]
    assert all(STEP_FUNCTIONS_NAME.match(name) for name in names)
    assert names[0].endswith("-c0001") and names[1].endswith("-c0001-t2") and names[2] == "20260301t1000-c0012-t3"
    assert len(set(names)) == 3


def test_every_photo_is_routed_exactly_once(small_chunks, store):
    names = ["bike-1.png", "moto-2.png", "blurry-3.png", "notes-4.txt", "bike-5.png", "moto-6.png", "bike-7.png"]
    put_photos(small_chunks, store, names)
    _, summary = run_interval(small_chunks, store, StandInHandlers())
    rows = routing_document(small_chunks, store)["routing"]
    assert sorted(row["courier_photo"].rsplit("/", 1)[1] for row in rows) == sorted(names)
    assert summary["counts"] == {"nearby": 3, "distant": 2, "human_review": 2}
    assert (summary["succeeded"], summary["failed"], summary["not_classified"]) == (6, 1, 0)
    routed = rows_by_name(small_chunks, store)
    assert routed["notes-4.txt"]["reason"].startswith("NotAnImageError: ")
    assert routed["blurry-3.png"]["reason"].startswith("LowConfidenceError: ")
    assert ":execution:scones-inference/ClassifyPhotos:" in routed["bike-1.png"]["execution"]


def test_rerun_reuses_succeeded_photos_and_retries_failed_ones_in_try_suffixed_executions(small_chunks, store):
    names = ["bike-1.png", "moto-2.png", "bike-3.png", "moto-4.png", "bike-5.png"]
    keys = put_photos(small_chunks, store, names)
    run_interval(small_chunks, store, StandInHandlers(outage={keys[1], keys[4]}))
    first = rows_by_name(small_chunks, store)
    assert first["moto-2.png"]["reason"].startswith("EndpointUnavailableError")
    handlers = StandInHandlers()
    executions, summary = run_interval(small_chunks, store, handlers)
    assert [e["name"] for e in executions] == ["20260301t1000-c0001-t2"]
    assert sorted(handlers.classified) == sorted([keys[1], keys[4]])
    again = rows_by_name(small_chunks, store)
    assert (again["moto-2.png"]["assignment"], again["bike-5.png"]["assignment"]) == ("distant", "nearby")
    assert again["bike-1.png"] == first["bike-1.png"]
    assert summary["photos"] == 5 and summary["failed"] == 0


def test_rerun_with_nothing_to_retry_starts_nothing_and_rewrites_the_same_routing_file(small_chunks, store):
    put_photos(small_chunks, store, ["bike-1.png", "notes-2.txt"])
    run_interval(small_chunks, store, StandInHandlers())
    routing = store.get_bytes(small_chunks.s3_uri("routing", RUN_KEY, "routing.json"))
    handlers = StandInHandlers()
    executions, _ = run_interval(small_chunks, store, handlers)
    assert executions == [] and handlers.classified == []
    assert store.get_bytes(small_chunks.s3_uri("routing", RUN_KEY, "routing.json")) == routing


def test_photo_arriving_late_in_the_hour_is_classified_by_the_rerun(small_chunks, store):
    put_photos(small_chunks, store, ["bike-1.png"])
    run_interval(small_chunks, store, StandInHandlers())
    (late,) = put_photos(small_chunks, store, ["moto-9.png"])
    handlers = StandInHandlers()
    executions, summary = run_interval(small_chunks, store, handlers)
    assert [e["name"] for e in executions] == ["20260301t1000-c0001-t2"] and handlers.classified == [late]
    assert summary["counts"] == {"nearby": 1, "distant": 1, "human_review": 0}


def test_unfinished_round_is_planned_again_unchanged_plus_photos_that_arrived(small_chunks, store):
    keys = put_photos(small_chunks, store, ["bike-1.png", "moto-2.png", "bike-3.png", "moto-4.png"])
    first = plan_executions(small_chunks, store, run_key=RUN_KEY, photo_keys=keys)
    keys += put_photos(small_chunks, store, ["bike-5.png"])
    again = plan_executions(small_chunks, store, run_key=RUN_KEY, photo_keys=keys)
    assert again[:2] == first and [e["name"] for e in again[2:]] == ["20260301t1000-c0003"]
    assert again[2]["photos"] == 1


def test_execution_failed_as_a_whole_routes_its_photos_to_review_then_fails_the_step(small_chunks, store, monkeypatch):
    monkeypatch.setenv("SCONES_INFERENCE__TOLERATED_FAILURE_PERCENTAGE", "0")
    monkeypatch.setenv("SCONES_INFERENCE__MAX_CONCURRENCY", "1")
    get_settings.cache_clear()
    settings = get_settings()
    keys = put_photos(settings, store, ["bike-1.png", "moto-2.png", "bike-3.png"])
    with pytest.raises(IntervalNotClassifiedError, match=r"States\.ExceedToleratedFailureThreshold"):
        run_interval(settings, store, StandInHandlers(outage={keys[0]}))
    routed = rows_by_name(settings, store)
    assert routed["bike-1.png"]["reason"].startswith("EndpointUnavailableError")
    assert routed["moto-2.png"]["reason"].startswith("not classified")
    assert {row["assignment"] for row in routed.values()} == {"human_review"}
    executions, summary = run_interval(settings, store, StandInHandlers())
    assert executions[0]["name"] == "20260301t1000-c0001-t2" and executions[0]["photos"] == 3
    assert summary["counts"] == {"nearby": 2, "distant": 1, "human_review": 0}


def test_missing_outcome_names_the_execution(small_chunks, store):
    keys = put_photos(small_chunks, store, ["bike-1.png"])
    executions = plan_executions(small_chunks, store, run_key=RUN_KEY, photo_keys=keys)
    with pytest.raises(MissingOutcomeError, match="20260301t1000-c0001"):
        publish_routing(small_chunks, store, run_key=RUN_KEY, executions=executions, outcomes=[])


def test_review_queue_holds_unsure_photos_with_a_note(small_chunks, store):
    put_photos(small_chunks, store, ["bike-1.png", "blurry-2.png", "notes-3.txt"])
    _, summary = run_interval(small_chunks, store, StandInHandlers())
    queued = sorted(info.uri.rsplit("/", 1)[1] for info in store.list(summary["review_prefix"]))
    assert queued == ["blurry-2.png", "blurry-2.png.json", "notes-3.txt", "notes-3.txt.json"]
    assert summary["queued"] == 2
    blurry = small_chunks.s3_uri("review", RUN_KEY, "2026/03/01/10/blurry-2.png")
    assert store.get_bytes(blurry) == store.get_bytes(small_chunks.s3_uri(HOUR, "blurry-2.png"))
    note = json.loads(store.get_bytes(f"{blurry}.json"))
    assert (note["confidence"], note["inferences"]) == (0.55, [0.55, 0.45])
    assert note["reason"].startswith("LowConfidenceError")


def test_rerun_takes_a_now_classified_photo_out_of_the_review_queue(small_chunks, store):
    keys = put_photos(small_chunks, store, ["bike-1.png", "moto-2.png"])
    _, first = run_interval(small_chunks, store, StandInHandlers(outage={keys[1]}))
    assert first["queued"] == 1
    _, again = run_interval(small_chunks, store, StandInHandlers())
    assert again["queued"] == 0 and store.list(again["review_prefix"]) == []


def test_rerun_keeps_a_reviewers_label_and_does_not_queue_its_photo_again(small_chunks, store):
    from include.review import label_photo, label_record

    put_photos(small_chunks, store, ["blurry-2.png"])
    _, first = run_interval(small_chunks, store, StandInHandlers())
    [queued] = [i.uri for i in store.list(first["review_prefix"]) if i.uri.endswith(".png")]
    filed = label_photo(small_chunks, store, queued, "bicycle", reviewer="ana")
    run_interval(small_chunks, store, StandInHandlers())  # cleared, or reprocessed by a backfill
    assert label_record(store, queued)["label"] == "bicycle" and store.exists(filed)
    assert not store.exists(queued), "a labelled photo is not back in the queue"


def test_interval_run_key_is_the_interval_start_whatever_the_run():
    from include.intervals import interval_run_key

    context = {"data_interval_start": START, "data_interval_end": END, "dag_run": SimpleNamespace(run_after=END)}
    assert interval_run_key(context) == RUN_KEY


def test_run_without_data_interval_covers_the_hour_before_it_ran():
    from include.intervals import data_interval

    context = {"data_interval_start": None, "data_interval_end": None,
               "dag_run": SimpleNamespace(run_after=datetime(2026, 3, 1, 11, 20, tzinfo=UTC))}
    assert data_interval(context) == (START, END)


def test_retired_photo_cap_setting_is_refused_by_name():
    from include.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match=r"inference\.max_photos_per_interval.*inference\.photos_per_execution"):
        load_settings(environ={"SCONES_INFERENCE__MAX_PHOTOS_PER_INTERVAL": "500"})


def test_every_permanent_photo_error_is_one_the_flow_raises():
    """A name the Lambdas or the definition no longer raise would silently turn into retries."""
    import ast

    from include.settings import PROJECT_ROOT
    from include.workflows.inference.results import PERMANENT_PHOTO_ERRORS

    raised = {node.name for path in (PROJECT_ROOT / "lambdas").rglob("app.py")
              for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ClassDef)}
    raised |= {state["Error"] for state in _all_states() if state.get("Type") == "Fail" and "Error" in state}
    assert raised >= PERMANENT_PHOTO_ERRORS
    assert {"EndpointUnavailableError", "InvalidProbabilitiesError"}.isdisjoint(PERMANENT_PHOTO_ERRORS)


def _all_states() -> list[dict]:
    import json

    from include.settings import PROJECT_ROOT

    definition = json.loads((PROJECT_ROOT / "include" / "statemachine" / "inference.asl.json").read_text())
    states, pending = [], [definition]
    while pending:
        machine = pending.pop()
        for state in machine.get("States", {}).values():
            states.append(state)
            if "ItemProcessor" in state:
                pending.append(state["ItemProcessor"])
    return states
