"""Arrival messages read by name: photos to classify, S3's test event, URL-encoded keys, duplicates, keys outside
the prefix, photos gone before the run, and unreadable messages to the dead-letter prefix with their reason."""

from __future__ import annotations

import json

import pytest

from include.runtime.local.store import LocalObjectStore
from include.workflows.inference.arrivals import (
    arrival_run_key,
    hour_run_key,
    message_batches,
    parse_messages,
    read_arrivals,
)
from tests.events.s3_notifications import asset_event, created, s3_record, s3_test_event, sqs_message

HOUR = "incoming/photos/2026/03/01/10"
RUN_KEY = "events-20260301T101500"


@pytest.fixture
def store(settings) -> LocalObjectStore:
    return LocalObjectStore(settings.data_root)


def test_a_created_photo_under_the_prefix_is_a_photo_to_classify(settings):
    arrivals = parse_messages(settings, [created(settings.bucket, f"{HOUR}/bike-1.png")])
    assert arrivals.photos == [f"{HOUR}/bike-1.png"] and arrivals.messages == 1


def test_url_encoded_keys_are_decoded(settings):
    message = created(settings.bucket, f"{HOUR}/courier photo (1)+ü.png")
    encoded = json.loads(message["Body"])["Records"][0]["s3"]["object"]["key"]
    assert encoded.endswith("courier+photo+%281%29%2B%C3%BC.png")
    assert parse_messages(settings, [message]).photos == [f"{HOUR}/courier photo (1)+ü.png"]


def test_s3_test_event_is_counted_and_names_no_photo(settings):
    arrivals = parse_messages(settings, [s3_test_event(settings.bucket)])
    assert (arrivals.test_events, arrivals.photos, arrivals.dead_letters) == (1, [], [])


def test_duplicate_deliveries_are_one_photo(settings):
    message = created(settings.bucket, f"{HOUR}/bike-1.png", f"{HOUR}/bike-1.png", message_id="m-1")
    arrivals = parse_messages(settings, [message, message, created(settings.bucket, f"{HOUR}/bike-1.png")])
    assert arrivals.photos == [f"{HOUR}/bike-1.png"] and arrivals.duplicates == 4


def test_keys_outside_the_prefix_other_buckets_folders_and_removals_are_ignored_with_their_reason(settings):
    records = [s3_record(settings.bucket, "incoming/labelled/bicycle/b.png"),
               s3_record("someone-elses-bucket", f"{HOUR}/bike-1.png"),
               s3_record(settings.bucket, f"{HOUR}/"),
               s3_record(settings.bucket, f"{HOUR}/bike-2.png", event_name="ObjectRemoved:Delete")]
    arrivals = parse_messages(settings, [sqs_message({"Records": records})])
    assert arrivals.photos == []
    assert [item["reason"] for item in arrivals.ignored] == [
        "outside incoming/photos/", "bucket someone-elses-bucket is not the pipeline's bucket scones-mlops",
        "a folder marker, not a photo", "ObjectRemoved:Delete is not an object creation"]


@pytest.mark.parametrize(("body", "reason"), [
    ("{not json", "the body is not JSON"),
    (json.dumps({"hello": "world"}), "not an S3 event notification"),
    (json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}}}]}),
     "an event record lacks 'object'"),
])
def test_unreadable_messages_are_dead_letters_with_their_reason(settings, body, reason):
    arrivals = parse_messages(settings, [sqs_message(body, message_id="bad-1")])
    (letter,) = arrivals.dead_letters
    assert letter["message_id"] == "bad-1" and reason in letter["reason"] and letter["body"] == body


def test_one_bad_message_does_not_cost_the_others_their_photos(settings):
    messages = [sqs_message("{not json"), created(settings.bucket, f"{HOUR}/bike-1.png")]
    arrivals = parse_messages(settings, messages)
    assert arrivals.photos == [f"{HOUR}/bike-1.png"] and len(arrivals.dead_letters) == 1


def test_an_sns_envelope_is_unwrapped(settings):
    inner = json.dumps({"Records": [s3_record(settings.bucket, f"{HOUR}/moto-1.png")]})
    message = sqs_message({"Type": "Notification", "MessageId": "sns-1", "Message": inner})
    assert parse_messages(settings, [message]).photos == [f"{HOUR}/moto-1.png"]


def test_messages_come_from_the_triggering_asset_events_payloads(settings):
    first, second = created(settings.bucket, f"{HOUR}/a.png"), created(settings.bucket, f"{HOUR}/b.png")
    events = [asset_event(first), asset_event(second), {"extra": {}}]
    assert message_batches(events) == [first, second]


def test_photos_deleted_before_the_run_are_listed_as_gone_and_bad_messages_written_with_the_reason(settings, store):
    store.put_bytes(settings.s3_uri(HOUR, "bike-1.png"), b"\x89PNG")
    messages = [created(settings.bucket, f"{HOUR}/bike-1.png", f"{HOUR}/deleted.png"),
                sqs_message("{not json", message_id="bad/1")]
    arrivals, present = read_arrivals(settings, store, RUN_KEY, messages)
    assert present == [f"{HOUR}/bike-1.png"] and arrivals.gone == [f"{HOUR}/deleted.png"]
    letter = json.loads(store.get_bytes(settings.s3_uri("events/dead-letter", RUN_KEY, "bad-1.json")))
    assert letter["body"] == "{not json" and letter["reason"].startswith("the body is not JSON")
    report = json.loads(store.get_bytes(settings.s3_uri("inference", RUN_KEY, "arrivals.json")))
    assert report["gone"] == [f"{HOUR}/deleted.png"] and report["messages"] == 2


def test_an_arrival_run_is_keyed_apart_from_the_hourly_runs_and_a_photo_knows_its_hour(settings):
    def run(run_id: str) -> dict:
        return {"dag_run": type("Run", (), {"logical_date": None, "run_id": run_id})()}

    first = arrival_run_key(run("asset_triggered__2026-03-01T10:15:00.000001+00:00"))
    second = arrival_run_key(run("asset_triggered__2026-03-01T10:15:00.000002+00:00"))
    assert first.startswith("events-asset-triggered-2026-03-01t10") and first != second
    assert hour_run_key(settings, f"{HOUR}/bike-1.png") == "20260301T1000"
    assert hour_run_key(settings, "incoming/photos/loose.png") is None
