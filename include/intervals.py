"""Data intervals, hours and windows: how the hourly workflows (inference, monitoring) see time.

Airflow hands out pendulum DateTimes; everything here answers with plain UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from include.run_keys import key_for_logical_date


def as_utc(moment: datetime) -> datetime:
    """A plain ``datetime`` in UTC (a naive one is taken as UTC).

    Airflow hands out pendulum DateTimes, whose arithmetic after ``astimezone`` loses the zone;
    converting through a timestamp gives a stdlib datetime that keeps it.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return datetime.fromtimestamp(moment.timestamp(), UTC)


def interval_hours(start: datetime, end: datetime) -> list[datetime]:
    """Every whole hour ``h`` with ``start <= h < end``."""
    start, end = as_utc(start), as_utc(end)
    hour = start.replace(minute=0, second=0, microsecond=0)
    if hour < start:
        hour += timedelta(hours=1)
    hours = []
    while hour < end:
        hours.append(hour)
        hour += timedelta(hours=1)
    return hours


def interval_schedule(schedule: str | None) -> Any:
    """The schedule as data intervals: each run covers ``[previous tick, this tick)`` and is keyed by its start.

    Airflow 3 runs a cron string as bare trigger times with an empty data interval; this workflow
    lists photos by interval, so it asks for the interval timetable explicitly.
    """
    if schedule is None or schedule in ("@once", "@continuous"):
        return schedule
    from airflow.sdk import CronDataIntervalTimetable

    return CronDataIntervalTimetable(schedule, timezone="UTC")


def data_interval(context: Mapping[str, Any]) -> tuple[datetime, datetime]:
    """The run's data interval; a run without one (manual, no logical date) covers the hour before it ran."""
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is not None and end is not None:
        return start, end
    ran = as_utc(context["dag_run"].run_after).replace(minute=0, second=0, microsecond=0)
    return ran - timedelta(hours=1), ran


def interval_run_key(context: Mapping[str, Any]) -> str:
    """The run key of the interval's first hour: scheduled, backfilled, manual and cleared runs of the same
    interval share it, so they reuse the same executions and rewrite the same routing file."""
    start, _ = data_interval(context)
    return key_for_logical_date(as_utc(start))


def window(context: Mapping[str, Any]) -> tuple[datetime, datetime]:
    """The run's window: ``window_start``/``window_end`` params of a manual run, else its data interval;
    the hour before it ran when it has none or an empty one."""
    params = context.get("params") or {}
    if params.get("window_start") and params.get("window_end"):
        start, end = (datetime.fromisoformat(params[name]) for name in ("window_start", "window_end"))
        if end <= start:
            raise ValueError(f"window_end {end} is not after window_start {start}: give a non-empty window")
        return start, end
    start, end = data_interval(context)
    if start == end:
        start = end - timedelta(hours=1)
    return start, end
