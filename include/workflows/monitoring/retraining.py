"""The record of the last retrain the monitor triggered, which the cooldown reads."""

from __future__ import annotations

import json
from datetime import datetime

from include.intervals import as_utc
from include.settings import Settings
from include.storage import ObjectNotFoundError, ObjectStore
from include.workflows.monitoring.layout import retrain_record_uri


def last_retrain_at(settings: Settings, store: ObjectStore) -> datetime | None:
    try:
        return datetime.fromisoformat(json.loads(store.get_bytes(retrain_record_uri(settings)))["triggered_at"])
    except ObjectNotFoundError:
        return None


def record_retrain(settings: Settings, store: ObjectStore, *, when: datetime, run_key: str, reason: str) -> str:
    """Remember the retrain this run triggered, for the cooldown; returns the record's URI."""
    uri = retrain_record_uri(settings)
    record = {"triggered_at": as_utc(when).isoformat(), "run_key": run_key, "reason": reason}
    store.put_bytes(uri, json.dumps(record, indent=2).encode())
    return uri
