"""Per-photo routing records: a photo is routed once, by whichever run decides it first.

``routed/<photo path below incoming/photos>.json`` holds one photo's routing row plus who routed it
(``routed_by``: the run key) and when. It is created with a conditional write (S3 ``If-None-Match: *``, an
atomic link on disk), so when the arrival run and the hourly run classify the same photo, exactly one record
stands and both runs route the photo as that record says. A record is written only for a decision that
stands — the photo was classified (nearby, distant, or unsure and so human review), or refused for what it
is (not an image, gone) — never for a photo whose attempt failed for a passing reason (an endpoint
outage): that photo is tried again by the next run.

Records live under the hour folder of their photo, so an interval's records are one listing per hour.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from include.settings import Settings
from include.storage import ObjectNotFoundError, ObjectStore, relative_key
from include.workflows.inference.results import PhotoAttempt
from include.workflows.inference.routing import routing_row

_READERS = 16


def photos_root(settings: Settings) -> str:
    return settings.s3_uri(settings.prefixes.incoming_photos)


def record_uri(settings: Settings, photo_key: str) -> str:
    """``s3://bucket/routed/<path below incoming/photos>.json`` for a photo's bucket key."""
    below = relative_key(photos_root(settings), settings.s3_uri(photo_key))
    return settings.s3_uri(settings.prefixes.routed, f"{below}.json")


def photo_key_of(settings: Settings, record: str) -> str:
    """The photo's bucket key for a record's URI."""
    below = relative_key(settings.s3_uri(settings.prefixes.routed), record).removesuffix(".json")
    return f"{settings.prefixes.incoming_photos}/{below}"


def decision_stands(attempt: PhotoAttempt) -> bool:
    """Classified, or refused for what the photo is: no later run would decide otherwise."""
    return attempt.finished and not attempt.needs_another_attempt


def new_record(settings: Settings, attempt: PhotoAttempt, routed_by: str, now: datetime | None = None) -> dict:
    row = routing_row(settings, attempt)
    return {**row, "routed_by": routed_by, "routed_at": (now or datetime.now(UTC)).isoformat()}


def claim(settings: Settings, store: ObjectStore, record: Mapping[str, Any]) -> tuple[bool, dict]:
    """Create the photo's record unless one exists: ``(True, record)`` when this one was written, else
    ``(False, the record that stands)``."""
    photo_key = relative_key(f"s3://{settings.bucket}", record["courier_photo"])
    uri = record_uri(settings, photo_key)
    body = (json.dumps(record, indent=2, sort_keys=True) + "\n").encode()
    if store.put_if_absent(uri, body):
        return True, dict(record)
    return False, json.loads(store.get_bytes(uri))


def claim_all(settings: Settings, store: ObjectStore, attempts: Iterable[PhotoAttempt],
              routed_by: str) -> tuple[dict[str, dict], dict[str, dict]]:
    """Claim a record for every attempt whose decision stands: ``(won, lost)``, both by photo key — the
    records this run created, and the records another run had created first."""
    standing = [attempt for attempt in attempts if decision_stands(attempt)]
    with ThreadPoolExecutor(_READERS) as pool:
        claimed = list(pool.map(lambda attempt: claim(settings, store, new_record(settings, attempt, routed_by)),
                                standing))
    won: dict[str, dict] = {}
    lost: dict[str, dict] = {}
    for attempt, (created, record) in zip(standing, claimed, strict=True):
        (won if created else lost)[attempt.photo_key] = record
    return won, lost


def record_folders(settings: Settings, photo_keys: Iterable[str]) -> list[str]:
    """The record folders (one per photo folder) that ``photo_keys`` have their records in."""
    folders = {record_uri(settings, key).rsplit("/", 1)[0] + "/" for key in photo_keys}
    return sorted(folders)


def read_records(settings: Settings, store: ObjectStore, photo_keys: Iterable[str]) -> dict[str, dict]:
    """The records that exist for ``photo_keys``, by photo key: one listing per folder, then the reads."""
    wanted = set(photo_keys)
    uris = [info.uri for folder in record_folders(settings, wanted) for info in store.list(folder)
            if info.uri.endswith(".json") and photo_key_of(settings, info.uri) in wanted]

    def read(uri: str) -> tuple[str, dict | None]:
        try:
            return photo_key_of(settings, uri), json.loads(store.get_bytes(uri))
        except ObjectNotFoundError:
            return photo_key_of(settings, uri), None

    with ThreadPoolExecutor(_READERS) as pool:
        found = list(pool.map(read, uris))
    return {key: record for key, record in found if record is not None}


def routed_photos(settings: Settings, store: ObjectStore, photo_keys: Iterable[str]) -> set[str]:
    """Which of ``photo_keys`` already have a record (a listing per folder; no reads)."""
    wanted = set(photo_keys)
    return {photo_key_of(settings, info.uri) for folder in record_folders(settings, wanted)
            for info in store.list(folder) if info.uri.endswith(".json")} & wanted
