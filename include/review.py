"""Human review closes the loop: a reviewed photo leaves the review queue for the place its label names.

``bicycle`` and ``motorcycle`` file it under ``incoming/labelled/<class>/``, where the next ingest picks it up
as a labelled courier photo, so training learns from the cases the model was unsure about;
``not-a-vehicle`` files it under ``prefixes.not_a_vehicle``, which ingest never reads.

Who labelled a photo, when, how and as what is recorded next to the queued photo, in
``<photo>.label.json``. That record is the claim: it is created with a conditional write, so of two
reviewers labelling one photo at once exactly one wins and the other is told who did. A reviewer may
correct their own label (the photo moves to the new class); changing someone else's needs ``relabel``,
and replaces their record only if it is still the one read (the earlier decisions are kept in its history).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import UTC, datetime
from typing import Any

from include.settings import Settings
from include.storage import ObjectNotFoundError, ObjectStore, S3Uri

VEHICLE_CLASSES = ("bicycle", "motorcycle")
NOT_A_VEHICLE = "not-a-vehicle"
LABELS = (*VEHICLE_CLASSES, NOT_A_VEHICLE)
RECORD_SUFFIX = ".label.json"
CLAIM_ATTEMPTS = 5


class UnknownVehicleClassError(ValueError):
    """The label is not one of the classifier's classes, nor "not a vehicle"."""


class NotInReviewQueueError(ValueError):
    """The photo is not in the review queue."""


class ReviewPhotoNotFoundError(LookupError):
    """Neither the queued photo nor an already labelled copy exists."""


class AlreadyLabelledError(RuntimeError):
    """Another reviewer labelled the photo first."""

    def __init__(self, record: dict[str, Any]) -> None:
        self.record = record
        super().__init__(f"{record['photo']} was already labelled {record['label']} by {record['reviewer']} at "
                         f"{record['labelled_at']}: nothing changed (relabel to override)")


def review_photo_uri(settings: Settings, review_uri_or_key: str) -> str:
    """The queued photo's URI, from ``s3://bucket/review/...`` or ``review/...``."""
    uri = review_uri_or_key if review_uri_or_key.startswith("s3://") else settings.s3_uri(review_uri_or_key)
    parsed = S3Uri.parse(uri)
    review_prefix = settings.prefixes.review + "/"
    if (parsed.bucket != settings.bucket or not parsed.key.startswith(review_prefix) or parsed.key.endswith(".json")
            or ".." in parsed.key.split("/")):
        raise NotInReviewQueueError(
            f"{review_uri_or_key} is not a photo in the review queue: give s3://{settings.bucket}/{review_prefix}... "
            "or the key below the bucket, as the routing file's review rows list them"
        )
    return uri


def label_record_uri(review_uri: str) -> str:
    """Where the decision about a queued photo is recorded: next to it."""
    return review_uri + RECORD_SUFFIX


def labelled_uri(settings: Settings, review_uri: str, label: str) -> str:
    """``incoming/labelled/<class>/<run key>-<path>`` (flat, as ingest expects), or the not-a-vehicle prefix."""
    below = S3Uri.parse(review_uri).key.removeprefix(settings.prefixes.review + "/").replace("/", "-")
    if label == NOT_A_VEHICLE:
        return settings.s3_uri(settings.prefixes.not_a_vehicle, below)
    return settings.s3_uri(settings.prefixes.incoming_labelled, label, below)


def default_reviewer() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _encode(record: dict[str, Any]) -> bytes:
    return (json.dumps(record, indent=2, sort_keys=True) + "\n").encode()


def _claim(store: ObjectStore, record_uri: str, record: dict[str, Any], relabel: bool) -> dict[str, Any]:
    """Create the record, or replace one this reviewer (or ``relabel``) may change; the record that stands."""
    for _ in range(CLAIM_ATTEMPTS):
        if store.put_if_absent(record_uri, _encode(record)):
            return record
        try:
            data, version = store.get_with_version(record_uri)
        except ObjectNotFoundError:
            continue
        existing = json.loads(data)
        same_reviewer = existing.get("reviewer") == record["reviewer"]
        if same_reviewer and existing.get("label") == record["label"]:
            return existing
        if not (same_reviewer or relabel):
            raise AlreadyLabelledError(existing)
        earlier = {key: value for key, value in existing.items() if key != "history"}
        replacement = {**record, "history": [*existing.get("history", []), earlier]}
        if store.put_if_version(record_uri, _encode(replacement), version):
            return replacement
    raise AlreadyLabelledError(json.loads(store.get_bytes(record_uri)))


def _file(settings: Settings, store: ObjectStore, source: str, record: dict[str, Any]) -> None:
    """Put the photo where the standing record says, and nowhere else; idempotent."""
    target = record["labelled_uri"]
    others = [labelled_uri(settings, source, label) for label in LABELS if label != record["label"]]
    if store.exists(source):
        store.put_bytes(target, store.get_bytes(source))
        store.delete(source)
    elif not store.exists(target):
        moved = next((other for other in others if store.exists(other)), None)
        if moved is None:
            raise ReviewPhotoNotFoundError(
                f"no photo at {source} and none labelled from it: check the path in the routing file's review rows"
            )
        store.put_bytes(target, store.get_bytes(moved))
    for other in others:
        if store.exists(other):
            store.delete(other)


def label_photo(settings: Settings, store: ObjectStore, review_uri_or_key: str, label: str, *,
                reviewer: str | None = None, via: str = "cli", relabel: bool = False) -> str:
    """File a queued photo under its label, recording who decided; returns where the photo now is."""
    if label not in LABELS:
        raise UnknownVehicleClassError(f"unknown label {label!r}: label the photo {', '.join(LABELS[:-1])} or "
                                       f"{LABELS[-1]}")
    source = review_photo_uri(settings, review_uri_or_key)
    record_uri = label_record_uri(source)
    if not any(store.exists(uri) for uri in (source, record_uri, *(labelled_uri(settings, source, other)
                                                                      for other in LABELS))):
        raise ReviewPhotoNotFoundError(
            f"no photo at {source} and none labelled from it: check the path in the routing file's review rows")
    record = {"photo": source, "label": label, "labelled_uri": labelled_uri(settings, source, label),
              "reviewer": reviewer or default_reviewer(), "labelled_at": datetime.now(UTC).isoformat(), "via": via}
    standing = _claim(store, record_uri, record, relabel)
    _file(settings, store, source, standing)
    return standing["labelled_uri"]


def label_record(store: ObjectStore, review_uri: str) -> dict[str, Any] | None:
    """Who labelled a queued photo, when and as what (``None`` while nobody has)."""
    try:
        return json.loads(store.get_bytes(label_record_uri(review_uri)))
    except ObjectNotFoundError:
        return None


def main(argv: list[str] | None = None) -> int:
    """``label PHOTO bicycle|motorcycle|not-a-vehicle [--reviewer NAME] [--relabel]``."""
    parser = argparse.ArgumentParser(prog="scones label", description="Label a photo from the human review queue.")
    parser.add_argument("photo", help="s3://BUCKET/review/<run key>/... or review/<run key>/...")
    parser.add_argument("label", choices=LABELS)
    parser.add_argument("--reviewer", default=None, help="who is labelling (default: the login name)")
    parser.add_argument("--relabel", action="store_true", help="replace another reviewer's label")
    args = parser.parse_args(argv)
    from include.runtime import object_store
    from include.settings import get_settings

    settings = get_settings()
    try:
        target = label_photo(settings, object_store(settings), args.photo, args.label, reviewer=args.reviewer,
                             relabel=args.relabel)
    except (NotInReviewQueueError, ReviewPhotoNotFoundError, AlreadyLabelledError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
