"""What every Scones DAG shares: owner, retries and which failures deserve them, time limits, failure alerts.

Backstops set in one place (``[dags]`` settings): each task's ``execution_timeout`` (job tasks get their
job's own limit plus a margin, so a deferred SageMaker job is never cut short), each DAG's ``dagrun_timeout``,
and for the hourly DAGs ``max_consecutive_failed_dag_runs`` (``dags.max_consecutive_failed_runs``): they pause
after that many failed runs in a row; what is not a failure (no traffic, no model deployed yet) ends in
skipped tasks, never a failed run.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Param

from include import runtime
from include.retry_policy import RETRY_POLICY
from include.runtime.job_reuse import REBUILD_PARAM
from include.settings import Settings
from include.timeouts import task_timeout

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
        "retries": settings.dags.retries,
        "retry_delay": timedelta(seconds=max(settings.poll_interval_seconds, 1) * 2),
        "retry_exponential_backoff": True,
        "retry_policy": RETRY_POLICY,
        "execution_timeout": task_timeout(settings),
    }
    on_failure = runtime.alerts(settings).failure_callback()
    if on_failure is not None:
        args["on_failure_callback"] = on_failure
    return args


def run_timeout(settings: Settings, dag_id: str) -> timedelta:
    """The DAG's ``dagrun_timeout`` (``dags.run_timeout_minutes``)."""
    return settings.dags.run_timeout(dag_id)
