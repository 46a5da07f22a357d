"""Human review closes the loop: a reviewed photo moves from the review queue into ``incoming/labelled/<class>/``.

The next ingest picks it up as a labelled courier photo, so training learns from the cases the
model was unsure about. Labelling is idempotent, and labelling again with the other class moves
the photo to that class.
"""

from __future__ import annotations

import argparse
import sys

from include.settings import Settings
from include.storage import ObjectStore, S3Uri

VEHICLE_CLASSES = ("bicycle", "motorcycle")


class UnknownVehicleClassError(ValueError):
    """The label is not one of the classifier's classes."""


class NotInReviewQueueError(ValueError):
    """The photo is not in the review queue."""


class ReviewPhotoNotFoundError(LookupError):
    """Neither the queued photo nor an already labelled copy exists."""


def review_photo_uri(settings: Settings, review_uri_or_key: str) -> str:
    """The queued photo's URI, from ``s3://bucket/review/...`` or ``review/...``."""
    uri = review_uri_or_key if review_uri_or_key.startswith("s3://") else settings.s3_uri(review_uri_or_key)
    parsed = S3Uri.parse(uri)
    review_prefix = settings.prefixes.review + "/"
    if parsed.bucket != settings.bucket or not parsed.key.startswith(review_prefix) or parsed.key.endswith(".json"):
        raise NotInReviewQueueError(
            f"{review_uri_or_key} is not a photo in the review queue: give s3://{settings.bucket}/{review_prefix}... "
            "or the key below the bucket, as the routing file's review rows list them"
        )
    return uri


def labelled_uri(settings: Settings, review_uri: str, vehicle: str) -> str:
    """``incoming/labelled/<class>/<run key>-<path>``: flat, as ingest expects, and unique per queued photo."""
    below = S3Uri.parse(review_uri).key.removeprefix(settings.prefixes.review + "/")
    return settings.s3_uri(settings.prefixes.incoming_labelled, vehicle, below.replace("/", "-"))


def _move(store: ObjectStore, source: str, target: str) -> None:
    store.put_bytes(target, store.get_bytes(source))
    store.delete(source)


def label_photo(settings: Settings, store: ObjectStore, review_uri_or_key: str, vehicle: str) -> str:
    """Move a reviewed photo into ``incoming/labelled/<vehicle>/``; returns where it now is."""
    if vehicle not in VEHICLE_CLASSES:
        raise UnknownVehicleClassError(f"unknown class {vehicle!r}: label the photo {' or '.join(VEHICLE_CLASSES)}")
    source = review_photo_uri(settings, review_uri_or_key)
    target = labelled_uri(settings, source, vehicle)
    others = [labelled_uri(settings, source, other) for other in VEHICLE_CLASSES if other != vehicle]
    if store.exists(source):
        _move(store, source, target)
        store.delete(f"{source}.json")
    elif not store.exists(target):
        relabel = next((other for other in others if store.exists(other)), None)
        if relabel is None:
            raise ReviewPhotoNotFoundError(
                f"no photo at {source} and none labelled from it: check the path in the routing file's review rows"
            )
        _move(store, relabel, target)
    for other in others:
        if store.exists(other):
            store.delete(other)
    return target


def main(argv: list[str] | None = None) -> int:
    """``label PHOTO bicycle|motorcycle``."""
    parser = argparse.ArgumentParser(prog="scones label", description="Label a photo from the human review queue.")
    parser.add_argument("photo", help="s3://BUCKET/review/<run key>/... or review/<run key>/...")
    parser.add_argument("vehicle", choices=VEHICLE_CLASSES)
    args = parser.parse_args(argv)
    from include.runtime import object_store
    from include.settings import get_settings

    settings = get_settings()
    try:
        target = label_photo(settings, object_store(settings), args.photo, args.vehicle)
    except (NotInReviewQueueError, ReviewPhotoNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
