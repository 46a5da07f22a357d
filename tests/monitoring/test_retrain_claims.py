"""Retrain once per episode: deciding and claiming are one conditional write, in data-interval time.

Two monitor runs over drifted windows that both read "no claim yet" before either writes are forced here
(each waits for the other after reading), against S3 on disk and S3 itself (moto): one retrains, the
other alerts. A backfill over a drifted day reports and retrains nothing unless the setting allows it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from include.runtime.aws.store import S3ObjectStore
from include.runtime.local.store import LocalObjectStore
from include.storage import ObjectStore
from include.workflows.monitoring import retraining

DRIFT = {"output_uri": "s3://b/r/", "no_traffic": False, "item_count": 300, "violations": [
    {"feature_name": "brightness", "constraint_check_type": "baseline_drift_check", "description": "0.41 > 0.1"}]}
DAY = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, settings, tmp_path: Path) -> Iterator[ObjectStore]:
    if request.param == "local":
        yield LocalObjectStore(settings.data_root)
        return
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=settings.bucket)
        yield S3ObjectStore(client)


class ReadThenWait:
    """A store whose first read in each thread waits until every racer has read: both see "no claim yet"."""

    def __init__(self, store: ObjectStore, racers: int) -> None:
        self.store, self.barrier, self.seen = store, threading.Barrier(racers), threading.local()

    def get_with_version(self, uri: str) -> tuple[bytes, str]:
        try:
            return self.store.get_with_version(uri)
        finally:
            if not getattr(self.seen, "read", False):
                self.seen.read = True
                self.barrier.wait(timeout=30)

    def __getattr__(self, name: str):
        return getattr(self.store, name)


def hour_run(settings, store, hour: datetime, *, backfill: bool = False) -> str:
    return retraining.decide_and_claim(settings, store, DRIFT, run_key=f"{hour:%Y%m%dT%H%M}",
                                       interval_end=hour + timedelta(hours=1), backfill=backfill).action


def test_two_concurrent_monitor_runs_over_drifted_windows_retrain_once(settings, store):
    racing = ReadThenWait(store, racers=2)
    actions: dict[str, str] = {}

    def monitor_run(hour: datetime) -> None:
        actions[f"{hour:%H}"] = hour_run(settings, racing, hour)

    runs = [threading.Thread(target=monitor_run, args=(DAY.replace(hour=h),)) for h in (10, 11)]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=60)
    assert sorted(actions.values()) == ["alert", "retrain"], actions
    claims, _ = retraining.read_claims(settings, store)
    assert len(claims) == 1


def test_a_retried_decision_keeps_its_own_claim(settings, store):
    hour = DAY.replace(hour=10)
    assert [hour_run(settings, store, hour), hour_run(settings, store, hour)] == ["retrain", "retrain"]
    assert len(retraining.read_claims(settings, store)[0]) == 1


def test_a_backfill_over_a_drifted_day_retrains_nothing_by_default(settings, store):
    actions = [hour_run(settings, store, DAY + timedelta(hours=h), backfill=True) for h in range(24)]
    assert actions == ["alert"] * 24
    assert retraining.read_claims(settings, store) == ([], None)


def test_a_backfill_allowed_to_retrain_retrains_once_over_a_drifted_day(settings, store):
    monitor = settings.monitor.model_copy(update={"retrain_on_backfill": True})
    allowing = settings.model_copy(update={"monitor": monitor})
    actions = [hour_run(allowing, store, DAY + timedelta(hours=h), backfill=True) for h in range(24)]
    assert actions == ["retrain"] + ["alert"] * 23
