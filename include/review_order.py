"""The orders the review queue can be shown in: by arrival, or the photos that would teach the model most first.

``oldest_first`` / ``newest_first``: by the hour the photo arrived in (its ``YYYY/MM/DD/HH/`` folder, else when it
was queued). ``lowest_margin``: smallest ``|p_bicycle - p_motorcycle|`` first, from the probabilities the serving
model gave the photo (its review note's ``inferences``) — the photos it was least sure about, whose labels move
it most. ``lowest_margin_balanced``: the same, alternating between the two classes the model predicted, so one
predicted class cannot fill the reviewers' day. With an informative order, photos the model gave no
probabilities (failed or not classified) come after every scored one. Ties are always broken oldest first, then
by key, so the order is the same on every read and pages never overlap.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import chain, zip_longest
from typing import Protocol, TypeVar

ARRIVAL_ORDERS = ("oldest_first", "newest_first")
INFORMATIVE_ORDERS = ("lowest_margin", "lowest_margin_balanced")
DESCRIPTIONS = {"oldest_first": "oldest first", "newest_first": "newest first",
                "lowest_margin": "least certain first",
                "lowest_margin_balanced": "least certain first, predicted classes taking turns"}


class Orderable(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def queued_at(self) -> datetime: ...
    @property
    def interval_start(self) -> datetime | None: ...
    @property
    def probabilities(self) -> dict[str, float]: ...


Photo = TypeVar("Photo", bound=Orderable)


def arrival_key(photo: Orderable) -> tuple:
    """Oldest first: the arrival hour (or the queueing time), then the queueing time, then the key."""
    return (photo.interval_start or photo.queued_at, photo.queued_at, photo.key)


def margin(photo: Orderable) -> float | None:
    """``|p_bicycle - p_motorcycle|`` (0: a coin toss, 1: certain), ``None`` without probabilities."""
    probabilities = photo.probabilities
    if len(probabilities) != 2:
        return None
    first, second = probabilities.values()
    return abs(first - second)


def predicted_class(photo: Orderable) -> str | None:
    probabilities = photo.probabilities
    return max(probabilities, key=probabilities.__getitem__) if probabilities else None


def _lowest_margin(photos: Sequence[Photo]) -> list[Photo]:
    scored = [photo for photo in photos if margin(photo) is not None]
    unscored = [photo for photo in photos if margin(photo) is None]
    return (sorted(scored, key=lambda photo: (margin(photo), *arrival_key(photo)))
            + sorted(unscored, key=arrival_key))


def _balanced(photos: Sequence[Photo]) -> list[Photo]:
    ranked = _lowest_margin(photos)
    unscored = [photo for photo in ranked if margin(photo) is None]
    by_class: dict[str, list[Photo]] = {}
    for photo in ranked:
        if (predicted := predicted_class(photo)) is not None:
            by_class.setdefault(predicted, []).append(photo)
    # the class holding the most uncertain photo leads; classes in a fixed order after that
    queues = sorted(by_class.values(), key=lambda queue: (margin(queue[0]), *arrival_key(queue[0])))
    interleaved = [photo for photo in chain.from_iterable(zip_longest(*queues)) if photo is not None]
    return interleaved + unscored


def order_photos(photos: Sequence[Photo], order: str) -> list[Photo]:
    """``photos`` in ``order`` (one of :data:`ARRIVAL_ORDERS` or :data:`INFORMATIVE_ORDERS`)."""
    if order == "oldest_first":
        return sorted(photos, key=arrival_key)
    if order == "newest_first":
        return sorted(photos, key=arrival_key, reverse=True)
    if order == "lowest_margin":
        return _lowest_margin(photos)
    if order == "lowest_margin_balanced":
        return _balanced(photos)
    raise ValueError(f"unknown review queue order {order!r}: review.queue_order (SCONES_REVIEW__QUEUE_ORDER) is one "
                     f"of {', '.join(ARRIVAL_ORDERS + INFORMATIVE_ORDERS)}")
