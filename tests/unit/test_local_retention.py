"""The retention rules on the local data root: a dry run that lists what has expired, then exactly that deleted.

Objects are aged by setting their modification time, the way S3 dates an object by when it was written.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import pytest

from include.retention import expires_at, retention_rules
from include.runtime.capabilities import StalePlanError
from include.runtime.local.retention import LocalRetention
from include.runtime.local.store import LocalObjectStore
from include.workflows.inference import list_interval_photos, plan_executions, publish_routing
from include.workflows.retention import expire_objects, plan_expiry
from tests.serving_flow.test_inference_workflow import StandInHandlers, classify

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
INTERVAL = (datetime(2026, 3, 1, 10, tzinfo=UTC), datetime(2026, 3, 1, 11, tzinfo=UTC))
RUN_KEY = "20260301T1000"


@pytest.fixture
def store(settings) -> LocalObjectStore:
    return LocalObjectStore(settings.data_root)


def written(settings, store, key: str, age: timedelta, data: bytes = b"photo") -> str:
    """An object at ``key`` last written ``age`` before :data:`NOW`."""
    uri = settings.s3_uri(key)
    store.put_bytes(uri, data)
    moment = (NOW - age).timestamp()
    os.utime(store.path_for(uri), (moment, moment))
    return uri


def expired_uris(plan: dict) -> set[str]:
    return {item["uri"] for rule in plan["rules"] for item in rule["expired"]}


def test_every_photo_prefix_has_a_rule_from_the_settings(settings):
    rules = {rule.prefix: (rule.days, rule.setting) for rule in retention_rules(settings)}
    retention, prefixes = settings.retention, settings.prefixes
    assert rules == {
        f"{prefixes.incoming_photos}/": (retention.incoming_photos_days, "retention.incoming_photos_days"),
        f"{prefixes.review}/": (retention.review_days, "retention.review_days"),
        f"{prefixes.incoming_labelled}/": (retention.labelled_days, "retention.labelled_days"),
        f"{prefixes.not_a_vehicle}/": (retention.not_a_vehicle_days, "retention.not_a_vehicle_days"),
        f"{prefixes.capture}/": (retention.capture_days, "retention.capture_days"),
        f"{prefixes.datasets}/": (retention.dataset_days, "retention.dataset_days"),
        f"{prefixes.staging}/": (retention.dataset_days, "retention.dataset_days"),
        f"{prefixes.monitoring}/": (retention.monitoring_days, "retention.monitoring_days"),
    }


def test_an_object_expires_at_the_first_midnight_after_its_days_as_on_s3():
    assert expires_at(datetime(2026, 3, 1, 10, 30, tzinfo=UTC), 30) == datetime(2026, 4, 1, tzinfo=UTC)
    assert expires_at(datetime(2026, 3, 1, tzinfo=UTC), 1) == datetime(2026, 3, 2, tzinfo=UTC)


def test_the_plan_lists_expired_objects_under_each_rule_and_deletes_nothing(settings, store):
    days = settings.retention
    old_photo = written(settings, store, "incoming/photos/2026/03/01/10/a.png",
                        timedelta(days=days.incoming_photos_days + 1))
    new_photo = written(settings, store, "incoming/photos/2026/05/31/10/b.png", timedelta(days=1))
    old_capture = written(settings, store, "datacapture/ep/AllTraffic/2026/03/01/10/c.jsonl",
                          timedelta(days=days.capture_days + 1))
    strip = written(settings, store, "monitoring/ep/20260101T1000/report/shifted_photos.png",
                    timedelta(days=days.monitoring_days + 1))
    labelled = written(settings, store, "incoming/labelled/bicycle/d.png",
                       timedelta(days=days.incoming_photos_days + 1))
    model = written(settings, store, "models/20260101T0000/model.tar.gz", timedelta(days=400))
    routing = written(settings, store, "routing/20260301T1000/routing.json", timedelta(days=400), b"{}")

    plan = plan_expiry(settings, LocalRetention(settings), NOW)

    assert expired_uris(plan) == {old_photo, old_capture, strip}
    assert all(store.exists(uri) for uri in (old_photo, new_photo, old_capture, strip, labelled, model, routing))


def test_applying_the_plan_deletes_exactly_what_it_lists(settings, store):
    expired = written(settings, store, "review/20260101T1000/2026/01/01/10/a.png", timedelta(days=400))
    note = written(settings, store, "review/20260101T1000/2026/01/01/10/a.png.json", timedelta(days=400), b"{}")
    kept = written(settings, store, "review/20260531T1000/2026/05/31/10/b.png", timedelta(days=1))
    retention = LocalRetention(settings)

    result = expire_objects(retention, plan_expiry(settings, retention, NOW), dry_run=False)

    assert result == {"deleted": 2, "planned": 2, "dry_run": False}
    assert not store.exists(expired) and not store.exists(note) and store.exists(kept)
    assert not store.path_for(settings.s3_uri("review/20260101T1000/")).exists(), "empty folders go too"


def test_a_dry_run_deletes_nothing(settings, store):
    expired = written(settings, store, "datasets/20250101T0000/train/bicycle/a.png", timedelta(days=400))
    retention = LocalRetention(settings)
    result = expire_objects(retention, plan_expiry(settings, retention, NOW), dry_run=True)
    assert result == {"deleted": 0, "planned": 1, "dry_run": True}
    assert store.exists(expired)


def test_an_object_written_again_after_the_plan_is_kept(settings, store):
    uri = written(settings, store, "incoming/not-a-vehicle/a.png", timedelta(days=400))
    retention = LocalRetention(settings)
    plan = retention.plan(retention_rules(settings), NOW)
    store.put_bytes(uri, b"labelled again today")
    assert retention.apply(plan) == []
    assert store.get_bytes(uri) == b"labelled again today"


def test_leftovers_of_unfinished_writes_expire_too(settings, store):
    folder = store.path_for(settings.s3_uri("staging/datasets/job/train/"))
    folder.mkdir(parents=True)
    leftover = folder / ".tmp-abc123"
    leftover.write_bytes(b"half a photo")
    moment = (NOW - timedelta(days=400)).timestamp()
    os.utime(leftover, (moment, moment))
    retention = LocalRetention(settings)
    deleted = retention.apply(retention.plan(retention_rules(settings), NOW))
    assert deleted == [settings.s3_uri("staging/datasets/job/train/.tmp-abc123")]
    assert not leftover.exists()


def test_a_plan_made_by_another_runtime_is_refused(settings):
    with pytest.raises(StalePlanError):
        LocalRetention(settings).apply({"runtime": "aws", "rules": []})


def run_hour(settings, store, run_key: str = RUN_KEY) -> dict:
    """Plan, classify (the local interpreter, stand-in handlers) and route the interval's photos once."""
    photos = list_interval_photos(settings, store, *INTERVAL)
    executions = plan_executions(settings, store, run_key=run_key, photo_keys=photos)
    outcomes = classify(settings, store, executions, StandInHandlers())
    return publish_routing(settings, store, run_key=run_key, executions=executions, outcomes=outcomes)


def expire_photos_of_the_hour(settings, store) -> None:
    for uri in [info.uri for info in store.list(settings.s3_uri("incoming/photos/2026/03/01/10") + "/")]:
        moment = (NOW - timedelta(days=settings.retention.incoming_photos_days + 1)).timestamp()
        os.utime(store.path_for(uri), (moment, moment))
    retention = LocalRetention(settings)
    retention.apply(retention.plan(retention_rules(settings), NOW))
    assert not list_interval_photos(settings, store, *INTERVAL)


def test_a_backfill_over_expired_photos_rewrites_the_same_routing_and_keeps_the_review_queue(settings, store):
    for name in ("bike-1.png", "blurry-2.png"):
        written(settings, store, f"incoming/photos/2026/03/01/10/{name}", timedelta(days=1))
    first = run_hour(settings, store)
    routing = store.get_bytes(first["routing_uri"]), store.get_bytes(first["csv_uri"])
    queued = sorted(info.uri for info in store.list(first["review_prefix"]))
    expire_photos_of_the_hour(settings, store)

    again = run_hour(settings, store)

    assert again["executions"] == 0 and again["photos"] == 2
    assert (store.get_bytes(first["routing_uri"]), store.get_bytes(first["csv_uri"])) == routing
    assert sorted(info.uri for info in store.list(first["review_prefix"])) == queued and queued


def test_a_rerun_that_finds_neither_photos_nor_their_results_keeps_the_routing_file_and_queue(settings, store):
    for name in ("bike-1.png", "blurry-2.png"):
        written(settings, store, f"incoming/photos/2026/03/01/10/{name}", timedelta(days=1))
    first = run_hour(settings, store)
    routing = store.get_bytes(first["routing_uri"])
    queued = sorted(info.uri for info in store.list(first["review_prefix"]))
    expire_photos_of_the_hour(settings, store)
    for info in store.list(settings.s3_uri(settings.prefixes.inference, RUN_KEY) + "/"):
        store.delete(info.uri)

    again = run_hour(settings, store)

    assert again["kept"] is True and again["photos"] == 2
    assert store.get_bytes(first["routing_uri"]) == routing
    assert sorted(info.uri for info in store.list(first["review_prefix"])) == queued and queued
    assert json.loads(routing)["counts"]["nearby"] == 1


def test_an_interval_that_never_had_photos_still_gets_its_empty_routing_file(settings, store):
    result = publish_routing(settings, store, run_key=RUN_KEY, executions=[], outcomes=[])
    assert "kept" not in result
    assert json.loads(store.get_bytes(result["routing_uri"]))["photos"] == 0
