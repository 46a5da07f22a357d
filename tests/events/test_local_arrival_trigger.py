"""The local arrival trigger: S3 event notifications on disk, from the object store and the local S3 endpoint,
handed on in the SQS trigger's event shape; a message is delivered again after a restart, never lost."""

from __future__ import annotations

import asyncio
import importlib
import json

import boto3
import pytest
from botocore.config import Config

from include import runtime
from include.runtime.local.notifications import LocalQueue, photo_queue_configuration, put_bucket_notification
from include.runtime.local.photo_events import LocalQueueTrigger
from include.runtime.local.s3_server import start_s3_server, stop_s3_server
from include.runtime.local.store import LocalObjectStore
from include.workflows.inference.arrivals import parse_messages

HOUR = "incoming/photos/2026/03/01/10"
QUEUE = "scones-photo-arrivals"


@pytest.fixture
def store(settings) -> LocalObjectStore:
    return LocalObjectStore(settings.data_root)


@pytest.fixture
def notifying(settings) -> LocalQueue:
    """The bucket notifies the arrival queue, as the trigger configures it when it starts."""
    put_bucket_notification(settings.data_root, settings.bucket, photo_queue_configuration(QUEUE, "incoming/photos/"))
    return LocalQueue(settings.data_root, QUEUE)


def trigger_events(trigger: LocalQueueTrigger, count: int, timeout: float = 10) -> list[dict]:
    """The payloads of the trigger's first ``count`` events."""
    async def take() -> list[dict]:
        events = trigger.run()
        try:
            return [(await asyncio.wait_for(anext(events), timeout)).payload for _ in range(count)]
        finally:
            await events.aclose()

    return asyncio.run(take())


def test_the_runtime_chooses_the_local_trigger_and_it_survives_serialization(settings):
    trigger = runtime.photo_arrival_trigger(settings)
    path, kwargs = trigger.serialize()
    module, _, name = path.rpartition(".")
    again = getattr(importlib.import_module(module), name)(**kwargs)
    assert isinstance(again, LocalQueueTrigger) and again.serialize() == (path, kwargs)
    assert kwargs["queue"] == QUEUE and kwargs["prefix"] == "incoming/photos/"


def test_configuring_the_notification_sends_s3s_test_event_once(settings, notifying):
    again = put_bucket_notification(settings.data_root, settings.bucket,
                                    photo_queue_configuration(QUEUE, "incoming/photos/"))
    (message,) = notifying.receive()
    assert again is False and json.loads(message["Body"])["Event"] == "s3:TestEvent"


def test_photos_written_to_the_store_notify_the_queue_and_other_keys_do_not(settings, store, notifying):
    notifying.receive()  # the test event
    store.put_bytes(settings.s3_uri(HOUR, "courier 1.png"), b"\x89PNG")
    store.put_bytes(settings.s3_uri("models", "x.json"), b"{}")
    assert store.put_if_absent(settings.s3_uri(HOUR, "courier-2.png"), b"\x89PNG")
    arrivals = parse_messages(settings, notifying.receive())
    assert arrivals.photos == [f"{HOUR}/courier 1.png", f"{HOUR}/courier-2.png"] and arrivals.ignored == []


def test_photos_uploaded_through_the_local_s3_endpoint_notify_the_queue(settings, notifying):
    server, thread, url = start_s3_server(settings.data_root)
    try:
        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                        region_name="us-east-1")  # its own session: boto3's default one stays unset
        client = session.client("s3", endpoint_url=url, config=Config(s3={"addressing_style": "path"}))
        client.put_object(Bucket=settings.bucket, Key=f"{HOUR}/bike+1.png", Body=b"\x89PNG")
    finally:
        stop_s3_server(server, thread)
    messages = notifying.receive()
    record = json.loads(messages[-1]["Body"])["Records"][0]
    assert record["eventName"] == "ObjectCreated:Put" and record["s3"]["object"]["key"].endswith("bike%2B1.png")
    assert parse_messages(settings, messages).photos == [f"{HOUR}/bike+1.png"]


def test_the_trigger_fires_with_the_messages_in_the_sqs_triggers_shape_until_a_run_acknowledges_them(
        settings, store):
    store.put_bytes(settings.s3_uri(HOUR, "stored-before.png"), b"\x89PNG")  # no notification configured yet
    trigger = runtime.photo_arrival_trigger(settings)
    (configured,) = trigger_events(trigger, 1)
    assert configured["status"] == "success"
    assert parse_messages(settings, configured["message_batch"]).test_events == 1
    assert runtime.acknowledge_arrivals(configured["message_batch"], settings) == 1
    for index in range(23):
        store.put_bytes(settings.s3_uri(HOUR, f"bike-{index:02d}.png"), b"\x89PNG")
    first, rest = trigger_events(LocalQueueTrigger(**{**trigger.serialize()[1], "max_messages": 10, "batches": 2}), 2)
    assert (len(first["message_batch"]), len(rest["message_batch"])) == (20, 3)
    photos = parse_messages(settings, first["message_batch"] + rest["message_batch"]).photos
    assert photos == [f"{HOUR}/bike-{index:02d}.png" for index in range(23)]
    queue = LocalQueue(settings.data_root, QUEUE)
    assert (queue.depth(), queue.in_flight()) == (0, 23)
    acknowledged = runtime.acknowledge_arrivals(first["message_batch"] + rest["message_batch"], settings)
    assert acknowledged == 23 and (queue.depth(), queue.in_flight()) == (0, 0)


def test_a_message_no_run_acknowledged_is_delivered_again_after_the_visibility_timeout(settings, store, notifying):
    (test_event,) = notifying.receive()
    notifying.delete(test_event["ReceiptHandle"])
    store.put_bytes(settings.s3_uri(HOUR, "bike-1.png"), b"\x89PNG")
    trigger = LocalQueueTrigger(**{**runtime.photo_arrival_trigger(settings).serialize()[1],
                                   "visibility_seconds": 0.5, "poll_seconds": 0.1})
    first, again = trigger_events(trigger, 2)
    assert [m["MessageId"] for m in first["message_batch"]] == [m["MessageId"] for m in again["message_batch"]]
    assert parse_messages(settings, again["message_batch"]).photos == [f"{HOUR}/bike-1.png"]


def test_a_message_received_but_not_deleted_is_delivered_again_after_a_restart(settings, store, notifying):
    (test_event,) = notifying.receive()
    notifying.delete(test_event["ReceiptHandle"])
    store.put_bytes(settings.s3_uri(HOUR, "bike-1.png"), b"\x89PNG")
    (lost,) = notifying.receive()  # a consumer took it and stopped before deleting it
    (payload,) = trigger_events(runtime.photo_arrival_trigger(settings), 1)
    assert [message["MessageId"] for message in payload["message_batch"]] == [lost["MessageId"]]
