"""What every Scones DAG shares: owner, retries, start date, failure alerts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum

from include import runtime
from include.settings import Settings

START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")
TAGS = ["scones"]


def default_args(settings: Settings) -> dict[str, Any]:
    args: dict[str, Any] = {
        "owner": settings.owner,
        "retries": 2,
        "retry_delay": timedelta(seconds=max(settings.poll_interval_seconds, 1) * 2),
        "retry_exponential_backoff": True,
    }
    on_failure = runtime.alerts(settings).failure_callback()
    if on_failure is not None:
        args["on_failure_callback"] = on_failure
    return args
