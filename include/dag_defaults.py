"""What every Scones DAG shares: owner, retries, start date, failure alerts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Param

from include import runtime
from include.runtime.job_reuse import REBUILD_PARAM
from include.settings import Settings

START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")
TAGS = ["scones"]


def rebuild_param() -> dict[str, Param]:
    """The ``rebuild`` param of every DAG that runs jobs: new jobs instead of the run's finished ones."""
    return {REBUILD_PARAM: Param(
        False, type="boolean",
        description="Start new jobs even where this run already finished them (e.g. after adding labels). "
                    "A retry or a cleared run otherwise reuses its finished jobs.",
    )}


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
