"""What reviewers see: the queued photos still waiting for a label, in the configured order, a page at a time.

The inference workflow queues a photo at ``review/<run key>/<path below incoming/photos>`` with a
``<photo>.json`` note (``courier_photo``, ``execution``, ``confidence``, ``inferences``, ``reason``). A photo
leaves the queue once a reviewer's ``<photo>.label.json`` record exists (:mod:`include.review`), or once it has
waited ``review.window_days`` (it is kept ``retention.review_days``, longer, so no reviewer opens a photo that is
about to go). Photos are
only ever served from the review and capture prefixes of the project's bucket: :func:`servable_photo_uri`
refuses every key that could lead elsewhere.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from include.review import RECORD_SUFFIX, VEHICLE_CLASSES
from include.review_order import DESCRIPTIONS, INFORMATIVE_ORDERS, order_photos
from include.settings import Settings
from include.storage import ObjectInfo, ObjectNotFoundError, ObjectStore

NOTE_SUFFIX = ".json"
_HOUR_PATH = re.compile(r"^(\d{4})/(\d{2})/(\d{2})/(\d{2})/")
_UNSAFE_KEY = re.compile(r"[\x00-\x1f\x7f\\]")
_READERS = 16


class PhotoKeyRefusedError(ValueError):
    """The key does not name an object in the review or capture prefixes of the project's bucket."""


@dataclass(frozen=True)
class QueuedPhoto:
    key: str
    """The photo's key in the bucket: ``review/<run key>/<path>``."""
    run_key: str
    path: str
    """The photo's path below ``incoming/photos`` (and below the run key in the queue)."""
    queued_at: datetime
    interval_start: datetime | None
    """The hour the photo arrived in, from its ``YYYY/MM/DD/HH/`` folder (``None`` when it has none)."""
    note: dict[str, Any] = field(default_factory=dict)

    @property
    def interval_end(self) -> datetime | None:
        return None if self.interval_start is None else self.interval_start + timedelta(hours=1)

    @property
    def probabilities(self) -> dict[str, float]:
        """``{class: probability}`` from the note's ``inferences`` (empty when the model gave none)."""
        values = self.note.get("inferences") or []
        if len(values) != len(VEHICLE_CLASSES):
            return {}
        return {name: float(value) for name, value in zip(VEHICLE_CLASSES, values, strict=True)}

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "run_key": self.run_key, "path": self.path, "queued_at": self.queued_at.isoformat(),
            "interval_start": self.interval_start.isoformat() if self.interval_start else None,
            "interval_end": self.interval_end.isoformat() if self.interval_end else None,
            "confidence": self.note.get("confidence"), "probabilities": self.probabilities,
            "reason": self.note.get("reason") or "", "courier_photo": self.note.get("courier_photo"),
            "execution": self.note.get("execution"),
        }


@dataclass(frozen=True)
class QueuePage:
    photos: list[QueuedPhoto]
    number: int
    size: int
    total: int
    order: str

    @property
    def order_description(self) -> str:
        return DESCRIPTIONS.get(self.order, self.order)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))

    def as_dict(self) -> dict[str, Any]:
        return {"page": self.number, "pages": self.pages, "page_size": self.size, "total": self.total,
                "order": self.order, "photos": [photo.as_dict() for photo in self.photos]}


def _interval_start(path: str) -> datetime | None:
    match = _HOUR_PATH.match(path)
    if not match:
        return None
    try:
        return datetime(*(int(part) for part in match.groups()), tzinfo=UTC)
    except ValueError:
        return None


def queued_photos(settings: Settings, store: ObjectStore, now: datetime | None = None) -> list[QueuedPhoto]:
    """Every queued photo nobody has labelled yet and still within the review window, in no particular order
    (notes not read)."""
    review_root = settings.s3_uri(settings.prefixes.review) + "/"
    objects: dict[str, ObjectInfo] = {info.uri: info for info in store.list(review_root)}
    window_opened = (now or datetime.now(UTC)) - timedelta(days=settings.review.window_days)
    waiting = []
    for uri, info in objects.items():
        if uri.endswith(NOTE_SUFFIX) or uri + RECORD_SUFFIX in objects or info.last_modified < window_opened:
            continue
        run_key, _, path = uri.removeprefix(review_root).partition("/")
        if not path:
            continue
        waiting.append(QueuedPhoto(key=uri.removeprefix(f"s3://{settings.bucket}/"), run_key=run_key, path=path,
                                   queued_at=info.last_modified, interval_start=_interval_start(path)))
    return waiting


def waiting_photos(settings: Settings, store: ObjectStore, now: datetime | None = None) -> list[QueuedPhoto]:
    """The waiting photos in ``review.queue_order``; with an informative order each carries its note (read
    here, since the order needs its probabilities), with an arrival order the notes are not read yet."""
    waiting = queued_photos(settings, store, now)
    if settings.review.queue_order in INFORMATIVE_ORDERS:
        waiting = _parallel(lambda photo: read_note(settings, store, photo), waiting)
    return order_photos(waiting, settings.review.queue_order)


def read_note(settings: Settings, store: ObjectStore, photo: QueuedPhoto) -> QueuedPhoto:
    """The photo with its inference note (why it was queued, the probabilities); an unreadable note is empty."""
    if photo.note:
        return photo
    try:
        note = json.loads(store.get_bytes(settings.s3_uri(photo.key) + NOTE_SUFFIX))
    except (ObjectNotFoundError, ValueError):
        note = {}
    return QueuedPhoto(photo.key, photo.run_key, photo.path, photo.queued_at, photo.interval_start,
                       note if isinstance(note, dict) else {})


def queue_page(settings: Settings, store: ObjectStore, number: int = 1) -> QueuePage:
    """Page ``number`` (from 1) of the waiting photos, each with its note."""
    waiting = waiting_photos(settings, store)
    size = settings.review.page_size
    number = max(1, number)
    chosen = waiting[(number - 1) * size: number * size]
    return QueuePage(_parallel(lambda photo: read_note(settings, store, photo), chosen), number, size, len(waiting),
                     settings.review.queue_order)


def _parallel(read: Callable[[QueuedPhoto], QueuedPhoto], photos: list[QueuedPhoto]) -> list[QueuedPhoto]:
    if len(photos) < 2:
        return [read(photo) for photo in photos]
    with ThreadPoolExecutor(min(_READERS, len(photos))) as pool:
        return list(pool.map(read, photos))


def servable_photo_uri(settings: Settings, key: str) -> str:
    """``s3://<bucket>/<key>`` when ``key`` is a plain key inside the review or capture prefix; refused otherwise.

    No scheme, bucket, absolute path, backslash, control character, empty, ``.`` or ``..`` segment is
    accepted, so no value of the parameter can name an object anywhere else.
    """
    segments = key.split("/")
    plain = (bool(key) and not _UNSAFE_KEY.search(key) and "://" not in key
             and all(segment not in ("", ".", "..") for segment in segments))
    allowed = (settings.prefixes.review, settings.prefixes.capture)
    inside = any(key.startswith(prefix + "/") for prefix in allowed)
    if not (plain and inside) or key.endswith((NOTE_SUFFIX, ".jsonl")):
        raise PhotoKeyRefusedError(
            f"{key[:200]!r} is not a photo in {' or '.join(p + '/' for p in allowed)} of bucket {settings.bucket}")
    return settings.s3_uri(key)
