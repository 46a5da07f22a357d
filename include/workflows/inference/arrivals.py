"""Photo arrivals: S3 event notifications read into the photos to classify now, and every other message named.

The arrival watcher (SQS on AWS, the local queue on this machine) hands each run a batch of queue messages
whose bodies are S3 event notifications (``{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket":
{"name"}, "object": {"key"}}}]}``, the key URL-encoded). Each message is read by name and nothing is lost:

- ``ObjectCreated:*`` under ``incoming/photos/`` of the bucket: a photo to classify (a key seen twice, in one
  message, in two, or delivered twice, is one photo; a photo routed before is not classified again);
- ``s3:TestEvent`` (S3 sends one when the notification is configured): counted, nothing to do;
- a key outside the prefix, another bucket, a folder marker, an event that is not a creation: ignored, each
  with its reason in the run's arrivals report;
- a photo deleted before the run reached it: listed as gone in the report;
- a body that is not JSON or not a notification: written to the dead-letter prefix with the reason.

The run's report is ``inference/<run key>/arrivals.json``; dead letters are
``events/dead-letter/<run key>/<message id>.json``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from include.run_keys import key_for_logical_date, run_key, sanitise
from include.settings import Settings
from include.storage import ObjectStore

LOG = logging.getLogger(__name__)
TEST_EVENT = "s3:TestEvent"
ARRIVALS_REPORT = "arrivals.json"


class MalformedMessageError(ValueError):
    """A queue message whose body is not an S3 event notification; it goes to the dead-letter prefix."""


@dataclass
class Arrivals:
    """What a batch of messages came to."""

    photos: list[str] = field(default_factory=list)
    """Bucket keys of the photos to classify, each once, in the order they were first seen."""
    duplicates: int = 0
    test_events: int = 0
    ignored: list[dict] = field(default_factory=list)
    """``{"key", "event", "reason"}`` for each record that names no photo to classify."""
    dead_letters: list[dict] = field(default_factory=list)
    """``{"message_id", "reason", "body"}`` for each message that could not be read."""
    gone: list[str] = field(default_factory=list)
    """Photos deleted before the run reached them."""
    messages: int = 0

    def report(self) -> dict:
        return asdict(self)


def arrival_run_key(context: Mapping[str, Any]) -> str:
    """``events-<run key>``: arrival runs keep their manifests apart from the hourly runs'."""
    return "events-" + run_key(context["dag_run"])


def message_batches(asset_events: Iterable[Any]) -> list[dict]:
    """The queue messages the triggering asset events carry (``extra["payload"]["message_batch"]``); an event
    with no batch (created by hand, say) carries no photo and adds nothing."""
    messages: list[dict] = []
    for event in asset_events:
        extra = (event.get("extra") if isinstance(event, Mapping) else getattr(event, "extra", None)) or {}
        payload = extra.get("payload") if isinstance(extra, Mapping) else None
        batch = payload.get("message_batch") if isinstance(payload, Mapping) else None
        if isinstance(batch, list):
            messages.extend(message for message in batch if isinstance(message, Mapping))
        else:
            LOG.info("Asset event without a message batch (extra %s): nothing to read", str(extra)[:200])
    return messages


def triggering_events(context: Mapping[str, Any]) -> list[Any]:
    """Every asset event that triggered this run, whatever the asset."""
    accessor = context.get("triggering_asset_events") or {}
    return [event for events in accessor.values() for event in events]


def notification_records(body: str) -> list[dict] | None:
    """The S3 event records a message body holds (unwrapping an SNS envelope); ``None`` for ``s3:TestEvent``.

    :raise MalformedMessageError: the body is not JSON, or not an S3 event notification.
    """
    try:
        document = json.loads(body)
    except (TypeError, ValueError) as exc:
        raise MalformedMessageError(f"the body is not JSON ({exc})") from exc
    if isinstance(document, dict) and document.get("Type") == "Notification" and "Message" in document:
        return notification_records(document["Message"])
    if isinstance(document, dict) and document.get("Event") == TEST_EVENT:
        return None
    if not isinstance(document, dict) or not isinstance(document.get("Records"), list):
        raise MalformedMessageError("the body is JSON but not an S3 event notification (no 'Records' list)")
    return document["Records"]


def record_key(record: Any) -> tuple[str, str, str]:
    """``(event name, bucket, decoded key)`` of one S3 event record.

    :raise MalformedMessageError: the record lacks its event name, bucket or key.
    """
    try:
        name, bucket = record["eventName"], record["s3"]["bucket"]["name"]
        key = unquote_plus(record["s3"]["object"]["key"])
    except (KeyError, TypeError) as exc:
        raise MalformedMessageError(f"an event record lacks {exc}: not an S3 event record") from exc
    return str(name), str(bucket), key


def parse_messages(settings: Settings, messages: Iterable[Mapping[str, Any]]) -> Arrivals:
    """Read every message into photos, test events, ignored records and dead letters."""
    arrivals = Arrivals()
    seen: set[str] = set()
    prefix = settings.prefixes.incoming_photos + "/"
    for message in messages:
        arrivals.messages += 1
        message_id = str(message.get("MessageId") or f"message-{arrivals.messages}")
        body = message.get("Body")
        try:
            records = notification_records(body)
            keys = [record_key(record) for record in records or ()]
        except MalformedMessageError as exc:
            arrivals.dead_letters.append({"message_id": message_id, "reason": str(exc), "body": body})
            continue
        if records is None:
            arrivals.test_events += 1
            continue
        for name, bucket, key in keys:
            reason = ignore_reason(settings, prefix, name, bucket, key)
            if reason:
                arrivals.ignored.append({"key": key, "event": name, "bucket": bucket, "reason": reason})
            elif key in seen:
                arrivals.duplicates += 1
            else:
                seen.add(key)
                arrivals.photos.append(key)
    return arrivals


def ignore_reason(settings: Settings, prefix: str, event_name: str, bucket: str, key: str) -> str | None:
    """Why a record names no photo to classify, or None when it does."""
    if not event_name.startswith("ObjectCreated:"):
        return f"{event_name} is not an object creation"
    if bucket != settings.bucket:
        return f"bucket {bucket} is not the pipeline's bucket {settings.bucket}"
    if not key.startswith(prefix):
        return f"outside {prefix}"
    if key.endswith("/"):
        return "a folder marker, not a photo"
    return None


def present_photos(settings: Settings, store: ObjectStore, arrivals: Arrivals) -> list[str]:
    """The arrivals' photos that still exist; the others are listed as gone."""
    present = []
    for key in arrivals.photos:
        (present if store.exists(settings.s3_uri(key)) else arrivals.gone).append(key)
    return present


def write_dead_letters(settings: Settings, store: ObjectStore, run_key_: str, arrivals: Arrivals) -> list[str]:
    """Each unreadable message, with its reason, under ``events/dead-letter/<run key>/``."""
    uris = []
    for index, letter in enumerate(arrivals.dead_letters):
        name = sanitise(letter["message_id"], 100) or f"message-{index}"
        uri = settings.s3_uri(settings.prefixes.dead_letter, run_key_, f"{name}.json")
        store.put_bytes(uri, (json.dumps({**letter, "run_key": run_key_}, indent=2) + "\n").encode())
        uris.append(uri)
    return uris


def write_report(settings: Settings, store: ObjectStore, run_key_: str, arrivals: Arrivals) -> str:
    uri = settings.s3_uri(settings.prefixes.inference, run_key_, ARRIVALS_REPORT)
    document = {"run_key": run_key_, "written_at": datetime.now(UTC).isoformat(), **arrivals.report()}
    store.put_bytes(uri, (json.dumps(document, indent=2) + "\n").encode())
    return uri


def read_arrivals(settings: Settings, store: ObjectStore, run_key_: str,
                  messages: Iterable[Mapping[str, Any]]) -> tuple[Arrivals, list[str]]:
    """Parse the messages, write the dead letters and the run's report; returns the arrivals and the photos
    that are there to classify."""
    arrivals = parse_messages(settings, messages)
    present = present_photos(settings, store, arrivals)
    letters = write_dead_letters(settings, store, run_key_, arrivals)
    report = write_report(settings, store, run_key_, arrivals)
    LOG.info("Arrivals %s: %d messages, %d photos (%d there, %d gone), %d duplicates, %d test events, %d ignored, "
             "%d dead letters %s -> %s", run_key_, arrivals.messages, len(arrivals.photos), len(present),
             len(arrivals.gone), arrivals.duplicates, arrivals.test_events, len(arrivals.ignored), len(letters),
             letters[:3], report)
    for item in arrivals.ignored[:20]:
        LOG.info("Ignored %s (%s): %s", item["key"], item["event"], item["reason"])
    return arrivals, present


def hour_run_key(settings: Settings, photo_key: str) -> str | None:
    """The hourly run key of the hour folder a photo is in (``.../2026/03/01/10/x.png`` -> ``20260301T1000``)."""
    parts = photo_key.removeprefix(settings.prefixes.incoming_photos + "/").split("/")
    try:
        hour = datetime(*(int(part) for part in parts[:4]), tzinfo=UTC)  # type: ignore[misc]
    except (TypeError, ValueError):
        return None
    return key_for_logical_date(hour) if len(parts) > 4 else None
