"""The arrival path in ``aws`` mode against a moto server: the bucket's S3 notifications land on SQS in S3's
message shape, the runtime's SQS trigger (the Amazon provider's, tuned by the ``[events]`` settings) fires
with them and deletes them, and the arrival run plans the photos they name in S3."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from include import runtime
from include.runtime.aws.store import S3ObjectStore
from include.settings import get_settings
from include.workflows.inference import plan_arrivals
from include.workflows.inference.arrivals import parse_messages
from tests.aws.moto_harness import FAKE_CREDENTIALS, REGION, MotoServer

pytestmark = pytest.mark.e2e
HOUR = "incoming/photos/2026/03/01/10"
QUEUE = "scones-photo-arrivals"
RUN_KEY = "events-20260301T101500"


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer.start(tmp_path_factory.mktemp("moto") / "moto_server.log")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def aws_settings(moto: MotoServer, scones_env, monkeypatch):
    moto.reset()
    queue_url = moto.client("sqs").create_queue(QueueName=QUEUE)["QueueUrl"]
    connection = {"conn_type": "aws", "extra": {"endpoint_url": moto.url, "region_name": REGION}}
    for name, value in {**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true",
                        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(connection), "SCONES_RUNTIME": "aws",
                        "SCONES_BUCKET": "scones-arrivals-123456789012", "SCONES_EVENTS__QUEUE_URL": queue_url,
                        "SCONES_EVENTS__WAIT_SECONDS": "1"}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    settings = get_settings()
    s3 = moto.client("s3")
    s3.create_bucket(Bucket=settings.bucket)
    queue_arn = moto.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(Bucket=settings.bucket, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"], "Filter": {
            "Key": {"FilterRules": [{"Name": "prefix", "Value": settings.prefixes.incoming_photos + "/"}]}}}]})
    return settings


def fire_once(trigger, timeout: float = 30) -> dict:
    async def take() -> dict:
        events = trigger.run()
        try:
            return (await asyncio.wait_for(anext(events), timeout)).payload
        finally:
            await events.aclose()

    return asyncio.run(take())


def test_s3_notifications_on_sqs_fire_the_trigger_and_the_run_plans_their_photos(aws_settings, moto):
    s3 = moto.client("s3")
    keys = [f"{HOUR}/courier 1.png", f"{HOUR}/courier-2.png", f"{HOUR}/courier-3.png"]
    for key in keys:
        s3.put_object(Bucket=aws_settings.bucket, Key=key, Body=b"\x89PNG")
    s3.put_object(Bucket=aws_settings.bucket, Key="models/not-a-photo.json", Body=b"{}")

    trigger = runtime.photo_arrival_trigger(aws_settings)
    assert type(trigger).__name__ == "SqsSensorTrigger"
    kwargs = trigger.serialize()[1]
    assert (kwargs["max_messages"], kwargs["num_batches"], kwargs["wait_time_seconds"], kwargs["waiter_delay"]) == (
        10, 5, 1, 1.0)
    payload = fire_once(trigger)
    assert payload["status"] == "success"
    arrivals = parse_messages(aws_settings, payload["message_batch"])
    assert sorted(arrivals.photos) == sorted(keys) and arrivals.dead_letters == [] and arrivals.ignored == []
    assert arrivals.test_events == 1  # S3 sends one when the notification is configured
    bodies = [json.loads(message["Body"]) for message in payload["message_batch"]]
    record = next(body for body in bodies if "Records" in body)["Records"][0]
    assert record["eventName"].startswith("ObjectCreated:") and record["s3"]["bucket"]["name"] == aws_settings.bucket
    remaining = moto.client("sqs").get_queue_attributes(QueueUrl=aws_settings.events.queue_url,
                                                        AttributeNames=["ApproximateNumberOfMessages"])
    assert remaining["Attributes"]["ApproximateNumberOfMessages"] == "0"

    store = S3ObjectStore(moto.client("s3"))
    (execution,) = plan_arrivals(aws_settings, store, run_key=RUN_KEY, messages=payload["message_batch"])
    manifest = json.loads(store.get_bytes(aws_settings.s3_uri(execution["input"]["photos"]["Key"])))
    assert sorted(item["s3_key"] for item in manifest) == sorted(keys)
    assert runtime.acknowledge_arrivals(payload["message_batch"], aws_settings) == 0
