"""Human review: a labelled photo leaves the review queue for incoming/labelled/<class>/."""

from __future__ import annotations

import pytest

from include.review import NotInReviewQueueError, UnknownVehicleClassError, label_photo
from include.runtime.local.store import LocalObjectStore

QUEUED = "review/20260301T1000/2026/03/01/10/blurry.png"


@pytest.fixture
def store(settings) -> LocalObjectStore:
    store = LocalObjectStore(settings.data_root)
    store.put_bytes(settings.s3_uri(QUEUED), b"photo")
    store.put_bytes(settings.s3_uri(QUEUED + ".json"), b"{}")
    return store


def test_labelling_moves_the_photo_into_its_class_folder(settings, store):
    target = label_photo(settings, store, QUEUED, "bicycle")
    assert target == settings.s3_uri("incoming/labelled/bicycle/20260301T1000-2026-03-01-10-blurry.png")
    assert store.get_bytes(target) == b"photo"
    assert store.list(settings.s3_uri("review/")) == []


def test_labelling_twice_is_idempotent(settings, store):
    first = label_photo(settings, store, settings.s3_uri(QUEUED), "motorcycle")
    assert label_photo(settings, store, QUEUED, "motorcycle") == first
    assert [info.uri for info in store.list(settings.s3_uri("incoming/labelled/"))] == [first]


def test_labelling_again_with_the_other_class_moves_the_photo(settings, store):
    label_photo(settings, store, QUEUED, "bicycle")
    target = label_photo(settings, store, QUEUED, "motorcycle")
    assert [info.uri for info in store.list(settings.s3_uri("incoming/labelled/"))] == [target]


def test_unknown_class_is_refused(settings, store):
    with pytest.raises(UnknownVehicleClassError, match="bicycle or motorcycle"):
        label_photo(settings, store, QUEUED, "scooter")


def test_photo_outside_the_review_queue_is_refused(settings, store):
    with pytest.raises(NotInReviewQueueError):
        label_photo(settings, store, "incoming/photos/2026/03/01/10/blurry.png", "bicycle")
