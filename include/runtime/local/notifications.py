"""S3 event notifications on disk: a bucket's notification configuration, and the queues its events go to.

``DATA_ROOT/.work/notifications/<bucket>.json`` is the bucket's configuration in S3's
``PutBucketNotificationConfiguration`` shape (``QueueConfigurations`` with ``QueueArn``, ``Events`` and a
``prefix`` filter). The object store and the local S3 endpoint call :func:`notify` after every write and
delete; each matching configuration sends an S3 event notification, byte for byte the message body S3 sends
to SQS (the key URL-encoded), to the queue ``DATA_ROOT/.work/queues/<name>/``.

A queue is a folder of message files, oldest first. :meth:`LocalQueue.receive` moves a message into
``inflight/`` (an atomic rename: two consumers never get the same one) and :meth:`LocalQueue.delete` removes
it; :meth:`LocalQueue.redeliver` returns the in-flight messages nobody deleted in time, as SQS does when a
message's visibility timeout ends — so a message can be delivered twice, never lost.

Standard library only: the triggerer imports this.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote_plus

ACCOUNT = "000000000000"
REGION = "local"
_CONFIG_CACHE: dict[Path, tuple[int, list[dict]]] = {}


def notifications_dir(data_root: Path) -> Path:
    return Path(data_root) / ".work" / "notifications"


def queue_arn(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def queue_name_of(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


def photo_queue_configuration(queue: str, prefix: str) -> dict:
    """The bucket notification the pipeline needs: every object created under ``prefix`` to ``queue``."""
    return {"QueueConfigurations": [{
        "Id": "scones-photo-arrivals", "QueueArn": queue_arn(queue), "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}},
    }]}


def put_bucket_notification(data_root: Path, bucket: str, configuration: dict) -> bool:
    """Set the bucket's notification configuration; like S3, send ``s3:TestEvent`` to each queue it names.
    Returns False (and sends nothing) when the bucket already has exactly this configuration."""
    path = notifications_dir(data_root) / f"{bucket}.json"
    text = json.dumps(configuration, indent=2, sort_keys=True) + "\n"
    if path.is_file() and path.read_text() == text:
        return False
    _write_atomically(path, text.encode())
    for queue in configuration.get("QueueConfigurations", []):
        LocalQueue(data_root, queue_name_of(queue["QueueArn"])).send(json.dumps({
            "Service": "Amazon S3", "Event": "s3:TestEvent", "Time": _now(), "Bucket": bucket,
            "RequestId": uuid.uuid4().hex[:16].upper(), "HostId": "local"}))
    return True


def queue_configurations(data_root: Path, bucket: str) -> list[dict]:
    """The bucket's queue configurations (none when it has no notification configuration); one stat per call."""
    path = notifications_dir(data_root) / f"{bucket}.json"
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        return []
    cached = _CONFIG_CACHE.get(path)
    if cached is None or cached[0] != mtime:
        try:
            configurations = json.loads(path.read_text()).get("QueueConfigurations", [])
        except (OSError, ValueError):
            configurations = []
        cached = _CONFIG_CACHE[path] = (mtime, configurations)
    return cached[1]


def _matches(configuration: dict, event_name: str, key: str) -> bool:
    if not any(fnmatch.fnmatchcase(f"s3:{event_name}", pattern) for pattern in configuration.get("Events", [])):
        return False
    rules = {rule["Name"].lower(): rule["Value"]
             for rule in configuration.get("Filter", {}).get("Key", {}).get("FilterRules", [])}
    return key.startswith(rules.get("prefix", "")) and key.endswith(rules.get("suffix", ""))


def notify(data_root: Path, bucket: str, key: str, *, event_name: str = "ObjectCreated:Put", size: int = 0,
           etag: str = "") -> int:
    """Send the event to every queue whose configuration matches it; returns how many were sent."""
    sent = 0
    for configuration in queue_configurations(data_root, bucket):
        if _matches(configuration, event_name, key):
            body = event_notification(bucket, key, event_name, size, etag, configuration.get("Id", ""))
            LocalQueue(data_root, queue_name_of(configuration["QueueArn"])).send(json.dumps(body))
            sent += 1
    return sent


def event_notification(bucket: str, key: str, event_name: str, size: int, etag: str, configuration_id: str) -> dict:
    """S3's event message structure (version 2.1) for one object."""
    obj: dict = {"key": quote_plus(key, safe="/"), "sequencer": f"{time.time_ns():016X}"}
    if event_name.startswith("ObjectCreated:"):
        obj.update(size=size, eTag=etag)
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION, "eventTime": _now(),
        "eventName": event_name, "userIdentity": {"principalId": "local"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper(), "x-amz-id-2": "local"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": configuration_id,
               "bucket": {"name": bucket, "ownerIdentity": {"principalId": "local"}, "arn": f"arn:aws:s3:::{bucket}"},
               "object": obj},
    }]}


class LocalQueue:
    """A queue on disk: one JSON file per message, oldest first; received messages wait in ``inflight/``."""

    def __init__(self, data_root: Path, name: str) -> None:
        self.name = name
        self.ready = Path(data_root) / ".work" / "queues" / name
        self.inflight = self.ready / "inflight"

    def send(self, body: str) -> str:
        message_id = str(uuid.uuid4())
        document = {"MessageId": message_id, "Body": body, "SentTimestamp": str(time.time_ns() // 1_000_000),
                    "MD5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()}
        _write_atomically(self.ready / f"{time.time_ns():020d}-{message_id}.json", json.dumps(document).encode())
        return message_id

    def receive(self, max_messages: int = 10) -> list[dict]:
        """Up to ``max_messages`` of the oldest messages, each with a ``ReceiptHandle`` for :meth:`delete`."""
        try:
            names = sorted(name for name in os.listdir(self.ready) if name.endswith(".json"))
        except FileNotFoundError:
            return []
        self.inflight.mkdir(parents=True, exist_ok=True)
        received = []
        for name in names:
            if len(received) >= max_messages:
                break
            try:
                os.rename(self.ready / name, self.inflight / name)
                os.utime(self.inflight / name)  # when it was received: redeliver() counts its visibility from here
            except FileNotFoundError:
                continue  # another consumer took it
            try:
                message = json.loads((self.inflight / name).read_bytes())
            except ValueError:
                message = {"MessageId": name.removesuffix(".json"), "Body": (self.inflight / name).read_text("replace")}
            received.append({**message, "ReceiptHandle": name})
        return received

    def delete(self, receipt_handle: str) -> None:
        (self.inflight / Path(receipt_handle).name).unlink(missing_ok=True)

    def redeliver(self, older_than: float = 0.0) -> int:
        """Make the in-flight messages received more than ``older_than`` seconds ago visible again (their
        consumer never deleted them), as SQS does when a message's visibility timeout ends."""
        try:
            names = [name for name in os.listdir(self.inflight) if name.endswith(".json")]
        except FileNotFoundError:
            return 0
        cutoff = time.time() - older_than
        moved = 0
        for name in names:
            try:
                if older_than and (self.inflight / name).stat().st_mtime > cutoff:
                    continue
                os.replace(self.inflight / name, self.ready / name)
                moved += 1
            except FileNotFoundError:
                continue  # deleted meanwhile
        return moved

    def in_flight(self) -> int:
        try:
            return sum(1 for name in os.listdir(self.inflight) if name.endswith(".json"))
        except FileNotFoundError:
            return 0

    def depth(self) -> int:
        try:
            return sum(1 for name in os.listdir(self.ready) if name.endswith(".json"))
        except FileNotFoundError:
            return 0


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
