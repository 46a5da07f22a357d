"""The inference workflow's steps: the interval's photos, execution names, routing rows, routing file, review queue."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from include.runtime.local.store import LocalObjectStore
from include.workflows.inference import (
    build_executions,
    build_routing,
    execution_name,
    list_interval_photos,
    publish_routing,
)

START = datetime(2026, 3, 1, 10, tzinfo=UTC)
END = datetime(2026, 3, 1, 11, tzinfo=UTC)
STEP_FUNCTIONS_NAME = re.compile(r"^[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/]{1,80}$")


@pytest.fixture
def store(settings) -> LocalObjectStore:
    return LocalObjectStore(settings.data_root)


def put_photo(settings, store, key: str, data: bytes = b"\x89PNG\r\n\x1a\n") -> None:
    store.put_bytes(settings.s3_uri(key), data)


def test_interval_takes_photos_by_hour_folder_not_by_file_time(settings, store):
    for hour in ("09", "10", "11"):
        put_photo(settings, store, f"incoming/photos/2026/03/01/{hour}/courier-{hour}.png")
    assert list_interval_photos(settings, store, START, END) == ["incoming/photos/2026/03/01/10/courier-10.png"]


def test_interval_is_capped_at_max_photos_per_interval(scones_env, monkeypatch):
    from include.settings import get_settings

    monkeypatch.setenv("SCONES_INFERENCE__MAX_PHOTOS_PER_INTERVAL", "2")
    get_settings.cache_clear()
    settings = get_settings()
    store = LocalObjectStore(settings.data_root)
    for index in range(3):
        put_photo(settings, store, f"incoming/photos/2026/03/01/10/courier-{index}.png")
    assert len(list_interval_photos(settings, store, START, END)) == 2


def test_interval_without_photos_is_empty(settings, store):
    assert list_interval_photos(settings, store, START, END) == []


def test_execution_name_is_deterministic_valid_and_distinct_per_photo():
    key = "manual__2026-03-01T10:00:00.123456+00:00-with-a-very-long-suffix"
    first = execution_name(key, "incoming/photos/2026/03/01/10/a courier's bike photo (1).png")
    again = execution_name(key, "incoming/photos/2026/03/01/10/a courier's bike photo (1).png")
    other = execution_name(key, "incoming/photos/2026/03/01/11/a courier's bike photo (1).png")
    assert first == again != other
    assert STEP_FUNCTIONS_NAME.match(first) and STEP_FUNCTIONS_NAME.match(other)


def routed(settings, outcomes_by_key: dict[str, dict]) -> tuple[list[dict], list[dict]]:
    executions = build_executions(settings, run_key="20260301T1000", photo_keys=list(outcomes_by_key))
    outcomes = [{"name": execution["name"], **outcome}
                for execution, outcome in zip(executions, outcomes_by_key.values(), strict=True)]
    return executions, outcomes


def sample_outcomes() -> dict[str, dict]:
    return {
        "incoming/photos/2026/03/01/10/bike.png": {"status": "SUCCEEDED", "output": {
            "vehicle": "bicycle", "assignment": "nearby", "confidence": 0.97, "inferences": [0.97, 0.03]}},
        "incoming/photos/2026/03/01/10/blurry.png": {"status": "SUCCEEDED", "output": {
            "vehicle": "review", "assignment": "human_review", "confidence": 0.55, "inferences": [0.55, 0.45],
            "review": {"Error": "LowConfidenceError",
                       "Cause": json.dumps({"errorMessage": "confidence 0.5500 is below 0.93"})}}},
        "incoming/photos/2026/03/01/10/notes.png": {"status": "FAILED", "output": None, "error": "NotAnImageError",
                                                    "cause": json.dumps({"errorMessage": "not a PNG or JPEG"})},
    }


def test_routing_rows_assign_nearby_review_and_failed_to_review(settings):
    rows = build_routing(*routed(settings, sample_outcomes()))
    assert [(row["courier_photo"].rsplit("/", 1)[-1], row["vehicle"], row["assignment"]) for row in rows] == [
        ("bike.png", "bicycle", "nearby"), ("blurry.png", "review", "human_review"),
        ("notes.png", "review", "human_review")]
    assert rows[2]["reason"] == "NotAnImageError: not a PNG or JPEG"


def test_routing_file_is_rewritten_identically_on_rerun(settings, store):
    executions, outcomes = routed(settings, sample_outcomes())
    first = publish_routing(settings, store, run_key="20260301T1000", executions=executions, outcomes=outcomes)
    content = store.get_bytes(first["routing_uri"]), store.get_bytes(first["csv_uri"])
    again = publish_routing(settings, store, run_key="20260301T1000", executions=executions,
                            outcomes=list(reversed(outcomes)))
    assert (store.get_bytes(again["routing_uri"]), store.get_bytes(again["csv_uri"])) == content
    assert [info.uri.rsplit("/", 1)[-1] for info in store.list(settings.s3_uri("routing/20260301T1000/"))] == [
        "routing.csv", "routing.json"]


def test_review_queue_holds_unsure_photos_with_a_note(settings, store):
    for key in sample_outcomes():
        put_photo(settings, store, key, b"photo " + key.encode())
    executions, outcomes = routed(settings, sample_outcomes())
    result = publish_routing(settings, store, run_key="20260301T1000", executions=executions, outcomes=outcomes)
    blurry = settings.s3_uri("review/20260301T1000/2026/03/01/10/blurry.png")
    assert result["review_queue"] == [blurry, settings.s3_uri("review/20260301T1000/2026/03/01/10/notes.png")]
    note = json.loads(store.get_bytes(f"{blurry}.json"))
    assert (note["confidence"], note["inferences"]) == (0.55, [0.55, 0.45])
    assert note["reason"].startswith("LowConfidenceError")


def test_empty_interval_writes_an_empty_routing_file(settings, store):
    result = publish_routing(settings, store, run_key="20260301T1000", executions=[], outcomes=[])
    assert json.loads(store.get_bytes(result["routing_uri"]))["routing"] == []


def test_interval_run_key_is_the_interval_start_whatever_the_run():
    from include.intervals import interval_run_key

    context = {"data_interval_start": START, "data_interval_end": END, "dag_run": SimpleNamespace(run_after=END)}
    assert interval_run_key(context) == "20260301T1000"


def test_run_without_data_interval_covers_the_hour_before_it_ran():
    from include.intervals import data_interval

    context = {"data_interval_start": None, "data_interval_end": None,
               "dag_run": SimpleNamespace(run_after=datetime(2026, 3, 1, 11, 20, tzinfo=UTC))}
    assert data_interval(context) == (START, END)
