"""The review queue reviewers see: waiting photos only, oldest first or least certain first, paged, each with why
it was queued."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from include.review import label_photo
from include.review_queue import PhotoKeyRefusedError, queue_page, servable_photo_uri, waiting_photos
from include.runtime.local.store import LocalObjectStore
from include.settings import get_settings

NOTE = {"courier_photo": "s3://scones-mlops/incoming/photos/2026/03/01/10/a.png", "execution": "20260301T1000-a-1",
        "confidence": 0.61, "inferences": [0.61, 0.39],
        "reason": "LowConfidenceError: confidence 0.6100 for bicycle is below CONFIDENCE_THRESHOLD=0.93"}


def queue(settings, store, key: str, note: dict | None = None) -> str:
    store.put_bytes(settings.s3_uri(key), b"photo")
    if note is not None:
        store.put_bytes(settings.s3_uri(key) + ".json", json.dumps(note).encode())
    return key


@pytest.fixture
def store(settings) -> LocalObjectStore:
    return LocalObjectStore(settings.data_root)


def test_waiting_photos_are_listed_oldest_interval_first_without_labelled_ones(settings, store):
    late = queue(settings, store, "review/20260301T1100/2026/03/01/11/late.png", NOTE)
    early = queue(settings, store, "review/20260301T0900/2026/03/01/09/early.png", NOTE)
    done = queue(settings, store, "review/20260301T1000/2026/03/01/10/done.png", NOTE)
    label_photo(settings, store, done, "bicycle", reviewer="alice")
    assert [photo.key for photo in waiting_photos(settings, store)] == [early, late]


def test_a_photo_leaves_the_queue_when_the_review_window_closes(settings, store):
    old = queue(settings, store, "review/20260301T0900/2026/03/01/09/old.png", NOTE)
    fresh = queue(settings, store, "review/20260301T1000/2026/03/01/10/fresh.png", NOTE)
    queued_at = store.list(settings.s3_uri(old))[0].last_modified
    window = timedelta(days=settings.review.window_days)
    assert [photo.key for photo in waiting_photos(settings, store, now=queued_at + window)] == [old, fresh]
    after = queued_at + window + timedelta(seconds=1)
    assert [photo.key for photo in waiting_photos(settings, store, now=after)] == []
    assert settings.retention.review_days > settings.review.window_days, "the photos outlive the window"


def test_the_order_is_a_setting(settings, store, monkeypatch):
    late = queue(settings, store, "review/20260301T1100/2026/03/01/11/late.png")
    early = queue(settings, store, "review/20260301T0900/2026/03/01/09/early.png")
    monkeypatch.setenv("SCONES_REVIEW__QUEUE_ORDER", "newest_first")
    get_settings.cache_clear()
    assert [photo.key for photo in waiting_photos(get_settings(), store)] == [late, early]


def test_a_page_shows_the_interval_probabilities_and_why_the_photo_was_queued(settings, store):
    queue(settings, store, "review/20260301T1000/2026/03/01/10/a.png", NOTE)
    page = queue_page(settings, store).as_dict()
    assert (page["total"], page["pages"], page["order"]) == (1, 1, "oldest_first")
    photo = page["photos"][0]
    assert (photo["interval_start"], photo["interval_end"]) == ("2026-03-01T10:00:00+00:00",
                                                                "2026-03-01T11:00:00+00:00")
    assert photo["probabilities"] == {"bicycle": 0.61, "motorcycle": 0.39}
    assert photo["reason"].startswith("LowConfidenceError") and photo["run_key"] == "20260301T1000"


def test_pages_hold_the_configured_number_of_photos(settings, store, monkeypatch):
    for hour in range(5):
        queue(settings, store, f"review/20260301T{hour:02d}00/2026/03/01/{hour:02d}/p.png")
    monkeypatch.setenv("SCONES_REVIEW__PAGE_SIZE", "2")
    get_settings.cache_clear()
    pages = [queue_page(get_settings(), store, number) for number in (1, 2, 3)]
    assert [[p.path[:13] for p in page.photos] for page in pages] == [
        ["2026/03/01/00", "2026/03/01/01"], ["2026/03/01/02", "2026/03/01/03"], ["2026/03/01/04"]]
    assert pages[0].pages == 3


def test_a_photo_without_a_note_or_an_hour_folder_is_still_listed(settings, store):
    key = queue(settings, store, "review/manual-run-1/loose.png")
    (photo,) = queue_page(settings, store).photos
    assert (photo.key, photo.interval_start, photo.note, photo.probabilities) == (key, None, {}, {})
    assert photo.queued_at <= datetime.now(UTC)


@pytest.mark.parametrize("key", [
    "review/20260301T1000/2026/03/01/10/a.png",
    "datacapture/scones-vehicle-classifier/AllTraffic/2026/03/01/10/photo.jpg",
])
def test_photos_in_the_review_and_capture_prefixes_are_servable(settings, key):
    assert servable_photo_uri(settings, key) == settings.s3_uri(key)


@pytest.mark.parametrize("key", [
    "", "models/train-a/evaluation/evaluation.json", "/review/a.png", "review/../models/x.png",
    "review/./a.png", "review//a.png", "review/a/..", "reviewer/a.png", "review", "s3://other/review/a.png",
    "review\\..\\models\\x.png", "review/a.png\x00.png", "datacapture/../registry/x.png",
    "review/20260301T1000/a.png.json", "review/20260301T1000/a.png.label.json", "datacapture/x/y.jsonl",
])
def test_every_other_key_is_refused(settings, key):
    with pytest.raises(PhotoKeyRefusedError):
        servable_photo_uri(settings, key)


def uncertain_queue(settings, store, count: int) -> dict[str, float]:
    """``count`` photos over several hours, each noted with the serving model's probabilities; their margins."""
    margins = {}
    for index in range(count):
        p_bicycle = round(((index * 53) % 97) / 97, 4)
        key = f"review/20260301T{index % 5:02d}00/2026/03/01/{index % 5:02d}/p{index:02d}.png"
        queue(settings, store, key, {**NOTE, "confidence": max(p_bicycle, 1 - p_bicycle),
                                     "inferences": [p_bicycle, round(1 - p_bicycle, 4)]})
        margins[key] = abs(2 * p_bicycle - 1)
    return margins


def test_the_lowest_margin_order_shows_the_photos_the_model_was_least_sure_about_first(store, monkeypatch):
    monkeypatch.setenv("SCONES_REVIEW__QUEUE_ORDER", "lowest_margin")
    monkeypatch.setenv("SCONES_REVIEW__PAGE_SIZE", "5")
    get_settings.cache_clear()
    settings = get_settings()
    margins = uncertain_queue(settings, store, 23)
    first = queue_page(settings, store, 1)
    assert {photo.key for photo in first.photos} == set(sorted(margins, key=margins.get)[:5])
    assert [photo.key for photo in first.photos] == [photo.key for photo in waiting_photos(settings, store)][:5]
    assert first.as_dict()["order"] == "lowest_margin" and first.order_description == "least certain first"


def test_pages_of_an_informative_order_cover_the_queue_once_in_order(store, monkeypatch):
    monkeypatch.setenv("SCONES_REVIEW__QUEUE_ORDER", "lowest_margin")
    monkeypatch.setenv("SCONES_REVIEW__PAGE_SIZE", "4")
    get_settings.cache_clear()
    settings = get_settings()
    margins = uncertain_queue(settings, store, 10)
    pages = [queue_page(settings, store, number) for number in (1, 2, 3, 4)]
    shown = [photo.key for page in pages for photo in page.photos]
    assert [len(page.photos) for page in pages] == [4, 4, 2, 0] and pages[0].pages == 3
    assert shown == sorted(margins, key=lambda key: (margins[key], key))  # no margin ties in this queue
    assert all(photo.probabilities for page in pages for photo in page.photos)


def test_a_labelled_photo_leaves_an_informative_queue_and_the_next_least_sure_moves_up(store, monkeypatch):
    monkeypatch.setenv("SCONES_REVIEW__QUEUE_ORDER", "lowest_margin")
    get_settings.cache_clear()
    settings = get_settings()
    margins = uncertain_queue(settings, store, 6)
    ranked = sorted(margins, key=margins.get)
    label_photo(settings, store, ranked[0], "bicycle", reviewer="alice")
    assert [photo.key for photo in waiting_photos(settings, store)] == ranked[1:]


def test_an_informative_order_lists_a_photo_without_a_note_last(store, monkeypatch):
    monkeypatch.setenv("SCONES_REVIEW__QUEUE_ORDER", "lowest_margin")
    get_settings.cache_clear()
    settings = get_settings()
    loose = queue(settings, store, "review/manual-run-1/loose.png")
    margins = uncertain_queue(settings, store, 3)
    assert [photo.key for photo in waiting_photos(settings, store)] == [*sorted(margins, key=margins.get), loose]


def test_the_review_page_names_its_order_and_shows_the_photos_in_it(store, monkeypatch):
    from include.web.pages import review_page

    monkeypatch.setenv("SCONES_REVIEW__QUEUE_ORDER", "lowest_margin")
    get_settings.cache_clear()
    settings = get_settings()
    margins = uncertain_queue(settings, store, 4)
    html = review_page(queue_page(settings, store), base="", reviewer="alice", can_label=True)
    assert "4 photos waiting,\n    least certain first · page 1 of 1" in html
    positions = [html.index(f'data-photo="{key}"') for key in sorted(margins, key=margins.get)]
    assert positions == sorted(positions)
