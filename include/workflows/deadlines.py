"""Deadline alerts: a run still unfinished when its deadline passes tells the runtime's alerts.

Airflow 3.3's Deadline Alerts (``airflow.sdk.DeadlineAlert``) run an ``AsyncCallback`` in the triggerer
when a DAG run misses its deadline; the scheduler hands it the run's description as ``context``.

Airflow 3.3.1's ``dag.test()`` (``airflow dags test``) cannot finish a run of a DAG with a deadline: it keeps
the serialized alert where the scheduler keeps its database id, and ``DagRun.update_state`` looks the alert
up by it. So a deadline of 0 minutes means none, for running such a DAG with ``dags test``.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference

from include import runtime


def missed_deadline_message(context: dict[str, Any], limit_minutes: int) -> tuple[str, str]:
    """The alert's subject and message for a run that missed its deadline."""
    dag_run = context.get("dag_run") or {}
    deadline = context.get("deadline") or {}
    dag_id, run_id = dag_run.get("dag_id", "?"), dag_run.get("dag_run_id") or dag_run.get("run_id", "?")
    subject = f"Scones deadline missed: {dag_id}"
    message = (f"{dag_id} run {run_id} has not finished {limit_minutes} minutes after it was queued "
               f"(deadline {deadline.get('deadline_time', '?')}; state {dag_run.get('state', '?')}, data interval "
               f"{dag_run.get('data_interval_start', '?')} to {dag_run.get('data_interval_end', '?')}). "
               "Look at its running tasks: a stuck execution or job, or a full sagemaker_jobs pool.")
    return subject, message


async def alert_missed_deadline(context: dict[str, Any] | None = None, limit_minutes: int = 0) -> str:
    """The Deadline Alert's callback: publish the alert through the runtime's alerts (off the event loop)."""
    subject, message = missed_deadline_message(context or {}, limit_minutes)
    await asyncio.to_thread(runtime.alerts().publish, subject, message)
    return message


def unfinished_run_alert(limit_minutes: int) -> DeadlineAlert | None:
    """Alert when a run is not done ``limit_minutes`` after it was queued (``None`` for 0: no deadline)."""
    if limit_minutes <= 0:
        return None
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=timedelta(minutes=limit_minutes),
        callback=AsyncCallback(alert_missed_deadline, kwargs={"limit_minutes": limit_minutes}),
    )
