"""The review queue's orders: by arrival, or least certain first (alone or with the predicted classes taking turns)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from include.review_order import ARRIVAL_ORDERS, INFORMATIVE_ORDERS, margin, order_photos
from include.review_queue import QueuedPhoto

START = datetime(2026, 3, 1, 9, tzinfo=UTC)


def photo(name: str, p_bicycle: float | None, minutes: int = 0) -> QueuedPhoto:
    queued_at = START + timedelta(minutes=minutes)
    note = {} if p_bicycle is None else {"inferences": [p_bicycle, 1 - p_bicycle]}
    path = f"{queued_at:%Y/%m/%d/%H}/{name}"
    return QueuedPhoto(key=f"review/run/{path}", run_key="run", path=path, queued_at=queued_at,
                       interval_start=queued_at.replace(minute=0), note=note)


def names(photos: list[QueuedPhoto]) -> list[str]:
    return [p.path.rsplit("/", 1)[-1] for p in photos]


def test_the_margin_is_the_distance_between_the_two_probabilities():
    assert margin(photo("a", 0.7)) == pytest.approx(0.4)
    assert margin(photo("a", 0.2)) == pytest.approx(0.6)
    assert margin(photo("a", None)) is None


def test_lowest_margin_puts_the_least_certain_photo_first():
    queue = [photo("sure", 0.9, 0), photo("coin", 0.52, 1), photo("unsure", 0.3, 2), photo("fair", 0.75, 3)]
    assert names(order_photos(queue, "lowest_margin")) == ["coin", "unsure", "fair", "sure"]


def test_equal_margins_are_taken_oldest_first_whichever_class_they_lean_to():
    queue = [photo("late", 0.6, 120), photo("early-other-class", 0.4, 0), photo("middle", 0.6, 60)]
    assert names(order_photos(queue, "lowest_margin")) == ["early-other-class", "middle", "late"]
    assert names(order_photos(list(reversed(queue)), "lowest_margin")) == ["early-other-class", "middle", "late"]


def test_photos_without_probabilities_come_after_every_scored_photo_oldest_first():
    queue = [photo("failed-late", None, 90), photo("sure", 0.99, 30), photo("failed-early", None, 0)]
    for order in INFORMATIVE_ORDERS:
        assert names(order_photos(queue, order)) == ["sure", "failed-early", "failed-late"]


def test_the_balanced_order_lets_the_predicted_classes_take_turns():
    queue = [photo("bike-1", 0.51, 0), photo("bike-2", 0.55, 1), photo("bike-3", 0.6, 2),
             photo("moto-1", 0.3, 3), photo("moto-2", 0.1, 4)]
    assert names(order_photos(queue, "lowest_margin_balanced")) == ["bike-1", "moto-1", "bike-2", "moto-2", "bike-3"]


def test_arrival_orders_ignore_the_probabilities():
    queue = [photo("b", 0.5, 60), photo("a", 0.99, 0), photo("c", None, 120)]
    assert names(order_photos(queue, "oldest_first")) == ["a", "b", "c"]
    assert names(order_photos(queue, "newest_first")) == ["c", "b", "a"]


@pytest.mark.parametrize("order", ARRIVAL_ORDERS + INFORMATIVE_ORDERS)
def test_every_order_keeps_every_photo_once(order):
    queue = [photo(f"p{index}", None if index % 7 == 0 else (index * 37 % 100) / 100, index) for index in range(40)]
    ordered = order_photos(queue, order)
    assert sorted(names(ordered)) == sorted(names(queue)) and len(ordered) == len(queue)


def test_an_unknown_order_names_its_setting():
    with pytest.raises(ValueError, match="SCONES_REVIEW__QUEUE_ORDER"):
        order_photos([photo("a", 0.5)], "random")
