"""The report's intervals on a time axis: one slot per interval length, empty where nothing was captured.

An hour without traffic has no statistics (or statistics of zero records); it is a gap in the
"over time" plots, never a 0% class share or a zero accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

MAX_SLOTS = 72
DEFAULT_STEP = timedelta(hours=1)


@dataclass(frozen=True)
class Interval:
    """One analysed interval: its statistics and the analyzer's summary (which holds its bounds)."""

    label: str
    statistics: dict[str, Any]
    summary: dict[str, Any]

    @property
    def start(self) -> datetime | None:
        return _moment(self.summary.get("start_time"))

    @property
    def end(self) -> datetime | None:
        return _moment(self.summary.get("end_time"))

    @property
    def has_traffic(self) -> bool:
        return int(self.statistics.get("dataset", {}).get("item_count", 0)) > 0


@dataclass(frozen=True)
class Slot:
    """A span of the time axis: an analysed interval, or (``interval`` None) a span nothing was analysed in."""

    start: datetime | None
    end: datetime | None
    label: str
    interval: Interval | None

    @property
    def has_traffic(self) -> bool:
        return self.interval is not None and self.interval.has_traffic


def _moment(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _step(interval: Interval) -> timedelta:
    if interval.start is not None and interval.end is not None and interval.end > interval.start:
        return interval.end - interval.start
    return DEFAULT_STEP


def timeline(intervals: Sequence[Interval]) -> list[Slot]:
    """The intervals in time order, with a gap slot wherever the time between two is not covered.

    Without bounds (summaries missing) the intervals are simply listed in order.
    """
    if any(interval.start is None for interval in intervals):
        return [Slot(None, None, interval.label, interval) for interval in intervals]
    ordered = sorted(intervals, key=lambda interval: interval.start)  # type: ignore[arg-type, return-value]
    slots: list[Slot] = []
    for interval in ordered[-MAX_SLOTS:]:
        start = interval.start
        assert start is not None
        end = interval.end or start + _step(interval)
        if slots and slots[-1].end is not None and start > slots[-1].end:
            gap_start = slots[-1].end
            slots.append(Slot(gap_start, start, f"{gap_start:%Y-%m-%d %H:%M}", None))
        slots.append(Slot(start, end, f"{start:%Y-%m-%d %H:%M}", interval))
    return slots
