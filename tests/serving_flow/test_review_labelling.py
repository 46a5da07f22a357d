"""Human review: a labelled photo leaves the review queue for its label's prefix, and who labelled it is kept."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from include.review import (
    AlreadyLabelledError,
    NotInReviewQueueError,
    ReviewPhotoNotFoundError,
    UnknownVehicleClassError,
    label_photo,
    label_record,
    main,
)
from include.runtime.aws.store import S3ObjectStore
from include.runtime.local.store import LocalObjectStore
from include.storage import ObjectStore
from include.workflows.ingest import has_labelled_photos

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
    assert [info.uri for info in store.list(settings.s3_uri("review/"))] == [
        settings.s3_uri(QUEUED + ".json"), settings.s3_uri(QUEUED + ".label.json")], "only the note and record stay"


def test_labelling_twice_is_idempotent(settings, store):
    first = label_photo(settings, store, settings.s3_uri(QUEUED), "motorcycle")
    assert label_photo(settings, store, QUEUED, "motorcycle") == first
    assert [info.uri for info in store.list(settings.s3_uri("incoming/labelled/"))] == [first]


def test_labelling_again_with_the_other_class_moves_the_photo(settings, store):
    label_photo(settings, store, QUEUED, "bicycle")
    target = label_photo(settings, store, QUEUED, "motorcycle")
    assert [info.uri for info in store.list(settings.s3_uri("incoming/labelled/"))] == [target]


def test_unknown_class_is_refused(settings, store):
    with pytest.raises(UnknownVehicleClassError, match="bicycle, motorcycle or not-a-vehicle"):
        label_photo(settings, store, QUEUED, "scooter")


def test_photo_outside_the_review_queue_is_refused(settings, store):
    with pytest.raises(NotInReviewQueueError):
        label_photo(settings, store, "incoming/photos/2026/03/01/10/blurry.png", "bicycle")


def test_not_a_vehicle_goes_to_its_own_prefix_outside_what_ingest_reads(settings, store):
    target = label_photo(settings, store, QUEUED, "not-a-vehicle")
    assert target == settings.s3_uri("incoming/not-a-vehicle/20260301T1000-2026-03-01-10-blurry.png")
    assert store.get_bytes(target) == b"photo"
    assert store.list(settings.s3_uri("incoming/labelled/")) == []
    assert not has_labelled_photos(settings, store), "ingest sees no labelled photo"


def test_who_labelled_when_and_how_is_recorded_next_to_the_queued_photo(settings, store):
    label_photo(settings, store, QUEUED, "bicycle", reviewer="alice", via="review page")
    record = json.loads(store.get_bytes(settings.s3_uri(QUEUED + ".label.json")))
    assert (record["label"], record["reviewer"], record["via"]) == ("bicycle", "alice", "review page")
    assert record["labelled_at"].endswith("+00:00")
    assert store.exists(settings.s3_uri(QUEUED + ".json")), "the inference note stays beside the record"


def test_a_second_reviewer_cannot_overwrite_the_first(settings, store):
    first = label_photo(settings, store, QUEUED, "bicycle", reviewer="alice")
    with pytest.raises(AlreadyLabelledError, match="already labelled bicycle by alice"):
        label_photo(settings, store, QUEUED, "motorcycle", reviewer="bob")
    assert [info.uri for info in store.list(settings.s3_uri("incoming/"))] == [first]


def test_relabel_replaces_another_reviewers_label_and_keeps_its_history(settings, store):
    label_photo(settings, store, QUEUED, "bicycle", reviewer="alice")
    target = label_photo(settings, store, QUEUED, "motorcycle", reviewer="bob", relabel=True)
    record = label_record(store, settings.s3_uri(QUEUED))
    assert (record["label"], record["reviewer"]) == ("motorcycle", "bob")
    assert [(old["label"], old["reviewer"]) for old in record["history"]] == [("bicycle", "alice")]
    assert [info.uri for info in store.list(settings.s3_uri("incoming/"))] == [target]


def test_a_photo_that_was_never_queued_is_a_named_error(settings, store):
    with pytest.raises(ReviewPhotoNotFoundError, match="no photo at"):
        label_photo(settings, store, "review/20260301T1000/2026/03/01/10/missing.png", "bicycle")


def test_the_cli_labels_not_a_vehicle_and_names_the_reviewer(settings, store, capsys):
    assert main([QUEUED, "not-a-vehicle", "--reviewer", "carol"]) == 0
    assert capsys.readouterr().out.strip().endswith("incoming/not-a-vehicle/20260301T1000-2026-03-01-10-blurry.png")
    assert label_record(store, settings.s3_uri(QUEUED))["reviewer"] == "carol"
    assert main([QUEUED, "bicycle", "--reviewer", "dave"]) == 2, "someone else's label needs --relabel"


@pytest.fixture(params=["local", "s3"])
def any_store(request: pytest.FixtureRequest, settings) -> Iterator[ObjectStore]:
    if request.param == "local":
        yield LocalObjectStore(settings.data_root)
        return
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=settings.bucket)
        yield S3ObjectStore(client)


def test_concurrent_reviewers_have_exactly_one_winner(settings, any_store):
    any_store.put_bytes(settings.s3_uri(QUEUED), b"photo")
    reviewers = [("alice", "bicycle"), ("bob", "motorcycle"), ("carol", "not-a-vehicle"), ("dave", "bicycle")]
    barrier = threading.Barrier(len(reviewers))
    outcomes: dict[str, str] = {}

    def review(name: str, label: str) -> None:
        barrier.wait(timeout=10)
        try:
            outcomes[name] = label_photo(settings, any_store, QUEUED, label, reviewer=name)
        except AlreadyLabelledError as lost:
            outcomes[name] = f"lost to {lost.record['reviewer']}"

    threads = [threading.Thread(target=review, args=reviewer) for reviewer in reviewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    record = label_record(any_store, settings.s3_uri(QUEUED))
    winners = [name for name, outcome in outcomes.items() if not outcome.startswith("lost")]
    assert winners == [record["reviewer"]], outcomes
    assert sorted(o for o in outcomes.values() if o.startswith("lost")) == [f"lost to {winners[0]}"] * 3
    filed = [info.uri for info in any_store.list(settings.s3_uri("incoming/"))]
    assert filed == [record["labelled_uri"]] and any_store.get_bytes(filed[0]) == b"photo"
    assert not any_store.exists(settings.s3_uri(QUEUED))
