"""A photo is routed once, whichever run decides it first: the arrival run and the hourly run both consult the
per-photo routing records, created with a conditional write, and the hourly routing file is built from them.

Executions run with the local interpreter against the stand-in handlers of the inference workflow's tests
(``bike`` → nearby, ``moto`` → distant, ``blurry`` → human review, ``.txt`` not an image).
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from include.review import label_photo
from include.runtime.local.store import LocalObjectStore
from include.workflows.inference import (
    list_interval_photos,
    plan_arrivals,
    plan_executions,
    publish_routing,
    route_arrivals,
)
from include.workflows.inference.records import claim, record_uri
from tests.events.s3_notifications import created
from tests.serving_flow.test_inference_workflow import (
    END,
    HOUR,
    RUN_KEY,
    START,
    StandInHandlers,
    classify,
    put_photos,
    routing_document,
    small_chunks,  # noqa: F401  (fixture)
)

EVENTS = "events-20260301T101500"


@pytest.fixture
def settings(small_chunks):  # noqa: F811
    """Chunks of three, every failure tolerated, the confidence threshold at 0.9 (``blurry`` is unsure)."""
    return small_chunks


@pytest.fixture
def store(settings) -> LocalObjectStore:
    return LocalObjectStore(settings.data_root)


def run_arrivals(settings, store, keys: list[str], handlers: StandInHandlers, run_key: str = EVENTS) -> dict:
    """One arrival run for S3 notifications of ``keys``: plan, classify, route."""
    executions = plan_arrivals(settings, store, run_key=run_key,
                               messages=[created(settings.bucket, key) for key in keys])
    return route_arrivals(settings, store, run_key=run_key, executions=executions,
                          outcomes=classify(settings, store, executions, handlers))


def run_interval(settings, store, handlers: StandInHandlers) -> dict:
    """One hourly run, as ``scones_inference`` does it: plan, classify, route with the interval's photos."""
    photos = list_interval_photos(settings, store, START, END)
    executions = plan_executions(settings, store, run_key=RUN_KEY, photo_keys=photos)
    outcomes = classify(settings, store, executions, handlers)
    return publish_routing(settings, store, run_key=RUN_KEY, executions=executions, outcomes=outcomes,
                           photo_keys=list_interval_photos(settings, store, START, END))


def record(settings, store, key: str) -> dict:
    return json.loads(store.get_bytes(record_uri(settings, key)))


def rows(settings, store) -> dict[str, dict]:
    return {row["courier_photo"].rsplit("/", 1)[1]: row for row in routing_document(settings, store)["routing"]}


def review_queue(settings, store) -> list[str]:
    return sorted(info.uri.rsplit("/", 1)[1] for info in store.list(settings.s3_uri("review") + "/"))


def test_the_arrival_run_routes_a_photo_and_the_hourly_run_lists_it_without_classifying_it_again(settings, store):
    keys = put_photos(settings, store, ["bike-1.png", "blurry-2.png", "moto-3.png"])
    arrivals = run_arrivals(settings, store, keys[:2], StandInHandlers())
    assert (arrivals["routed"], arrivals["counts"]) == (2, {"nearby": 1, "human_review": 1})
    assert record(settings, store, keys[0])["routed_by"] == EVENTS

    hourly = StandInHandlers()
    run_interval(settings, store, hourly)
    assert hourly.classified == [keys[2]]
    routed = rows(settings, store)
    assert sorted(routed) == ["bike-1.png", "blurry-2.png", "moto-3.png"]
    assert [routed[name]["routed_by"] for name in sorted(routed)] == [EVENTS, EVENTS, RUN_KEY]
    assert routed["bike-1.png"] == record(settings, store, keys[0])
    assert review_queue(settings, store) == ["blurry-2.png", "blurry-2.png.json"]


def test_after_the_hourly_run_a_late_notification_classifies_nothing(settings, store):
    keys = put_photos(settings, store, ["bike-1.png", "moto-2.png"])
    run_interval(settings, store, StandInHandlers())
    late = StandInHandlers()
    arrivals = run_arrivals(settings, store, keys, late)
    assert late.classified == [] and arrivals["photos"] == 0
    assert {record(settings, store, key)["routed_by"] for key in keys} == {RUN_KEY}


def test_when_both_runs_classify_a_photo_the_first_record_stands_in_both(settings, store):
    (key,) = put_photos(settings, store, ["blurry-1.png"])
    executions = plan_arrivals(settings, store, run_key=EVENTS, messages=[created(settings.bucket, key)])
    outcomes = classify(settings, store, executions, StandInHandlers())
    hourly = StandInHandlers()
    run_interval(settings, store, hourly)  # the hourly run plans before the arrival run has routed
    assert hourly.classified == [key]
    arrivals = route_arrivals(settings, store, run_key=EVENTS, executions=executions, outcomes=outcomes)
    assert (arrivals["routed"], arrivals["already_routed"]) == (0, 1)
    assert record(settings, store, key)["routed_by"] == RUN_KEY == rows(settings, store)["blurry-1.png"]["routed_by"]
    assert review_queue(settings, store) == ["blurry-1.png", "blurry-1.png.json"]


def test_duplicate_deliveries_classify_and_route_a_photo_once(settings, store):
    (key,) = put_photos(settings, store, ["moto-1.png"])
    handlers = StandInHandlers()
    first = run_arrivals(settings, store, [key, key, key], handlers)
    again = run_arrivals(settings, store, [key], handlers, run_key="events-20260301T101501")
    assert handlers.classified == [key] and (first["routed"], again["photos"]) == (1, 0)


def test_a_passing_failure_gets_no_record_and_the_hourly_run_classifies_it(settings, store):
    keys = put_photos(settings, store, ["bike-1.png", "moto-2.png"])
    arrivals = run_arrivals(settings, store, keys, StandInHandlers(outage={keys[1]}))
    assert (arrivals["routed"], arrivals["left_for_hourly_run"]) == (1, 1)
    assert not store.exists(record_uri(settings, keys[1]))
    hourly = StandInHandlers()
    run_interval(settings, store, hourly)
    assert hourly.classified == [keys[1]] and rows(settings, store)["moto-2.png"]["assignment"] == "distant"


def test_a_photo_refused_for_what_it_is_is_routed_once_to_review(settings, store):
    (key,) = put_photos(settings, store, ["notes-1.txt"])
    run_arrivals(settings, store, [key], StandInHandlers())
    assert record(settings, store, key)["reason"].startswith("NotAnImageError")
    hourly = StandInHandlers()
    run_interval(settings, store, hourly)
    assert hourly.classified == [] and rows(settings, store)["notes-1.txt"]["routed_by"] == EVENTS


def test_the_conditional_write_lets_one_claim_win(settings, store):
    photo = settings.s3_uri(HOUR, "bike-1.png")
    results = [claim(settings, store, {"courier_photo": photo, "assignment": a, "routed_by": by})
               for a, by in (("nearby", "one"), ("distant", "two"))]
    assert [created for created, _ in results] == [True, False]
    assert Counter(r["routed_by"] for _, r in results) == {"one": 2}


def test_a_label_given_to_a_photo_the_arrival_run_queued_survives_the_hourly_run(settings, store):
    (key,) = put_photos(settings, store, ["blurry-1.png"])
    run_arrivals(settings, store, [key], StandInHandlers())
    label_photo(settings, store, f"review/{RUN_KEY}/2026/03/01/10/blurry-1.png", "bicycle", reviewer="alice")
    run_interval(settings, store, StandInHandlers())
    assert "blurry-1.png.label.json" in review_queue(settings, store)
