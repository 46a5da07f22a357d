"""Queue messages in the shapes S3 sends them (AWS docs: "Event message structure"), for the tests."""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote_plus


def s3_record(bucket: str, key: str, event_name: str = "ObjectCreated:Put", size: int = 1024) -> dict:
    """One S3 event record; S3 URL-encodes the key (spaces as ``+``)."""
    return {
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-03-01T10:15:00.000Z", "eventName": event_name,
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"}, "requestParameters": {"sourceIPAddress": "192.0.2.1"},
        "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "scones-photo-arrivals",
               "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                          "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": quote_plus(key, safe="/"), "size": size,
                          "eTag": "d41d8cd98f00b204e9800998ecf8427e", "sequencer": "0055AED6DCD90281E5"}},
    }


def sqs_message(body: str | dict, message_id: str | None = None) -> dict:
    """A message as ReceiveMessage returns it (what the SQS trigger puts in its event's ``message_batch``)."""
    text = body if isinstance(body, str) else json.dumps(body)
    return {"MessageId": message_id or str(uuid.uuid4()), "ReceiptHandle": "AQEB" + uuid.uuid4().hex,
            "MD5OfBody": "0" * 32, "Body": text}


def created(bucket: str, *keys: str, message_id: str | None = None) -> dict:
    return sqs_message({"Records": [s3_record(bucket, key) for key in keys]}, message_id)


def s3_test_event(bucket: str) -> dict:
    return sqs_message({"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-03-01T10:00:00.000Z",
                        "Bucket": bucket, "RequestId": "5582815E1AEA5ADF", "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3"})


def asset_event(*messages: dict) -> dict:
    """A triggering asset event as the triggerer records it: the trigger's payload under ``extra``."""
    return {"extra": {"from_trigger": True, "payload": {"status": "success", "message_batch": list(messages)}}}
