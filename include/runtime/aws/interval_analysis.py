"""The ``aws`` runtime's interval analysis: Model Monitor's hourly schedule, through the provider's SageMaker hook.

The provider has no Model Monitor operator, so the schedule is created or updated with the hook's client, and
the execution that analysed an interval is found with ``ListMonitoringExecutions``. Runs that Model Monitor can't
serve (backfills, manual runs, accounts without it) take the analyzer-job path.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from include.builders.monitoring import monitoring_schedule_update
from include.intervals import as_utc
from include.run_keys import run_type_of
from include.runtime.aws.clients import LazyClient, sagemaker_client
from include.runtime.capabilities import (
    ANALYZER_JOB,
    MODEL_MONITOR,
    AnalysisPath,
    MonitoringExecutionError,
    MonitoringScheduleError,
)
from include.settings import Settings

LOG = logging.getLogger(__name__)
MODEL_MONITOR_RECENCY = timedelta(hours=2)
NO_EXECUTION_YET = "no execution yet"
NO_TRAFFIC = "no traffic"


def choose_path(settings: Settings, dag_run: Any, now: datetime) -> AnalysisPath:
    """``model_monitor`` for a scheduled run whose interval just ended, when Model Monitor is on; else
    ``analyzer_job``. Model Monitor schedules never run for past hours, so backfills and manual runs
    always run the analyzer."""
    end = getattr(dag_run, "data_interval_end", None)
    recent = end is not None and timedelta(0) <= as_utc(now) - as_utc(end) <= MODEL_MONITOR_RECENCY
    if settings.monitor.use_model_monitor and run_type_of(dag_run) == "scheduled" and recent:
        return MODEL_MONITOR
    return ANALYZER_JOB


def _covers(actual: Any, wanted: Any) -> bool:
    """Whether ``actual`` holds every value of ``wanted`` (AWS adds defaults to what it describes)."""
    if isinstance(wanted, dict):
        return isinstance(actual, dict) and all(k in actual and _covers(actual[k], v) for k, v in wanted.items())
    if isinstance(wanted, list):
        return (isinstance(actual, list) and len(actual) == len(wanted)
                and all(_covers(a, w) for a, w in zip(actual, wanted, strict=True)))
    return actual == wanted


def ensure_monitoring_schedule(client: Any, request: dict, now: datetime | None = None) -> dict:
    """Create the schedule, or update it when its config differs from ``request``; idempotent.

    Returns ``{"name", "action": created|updated|unchanged|pending, "created_at"}`` (ISO time).
    """
    name = request["MonitoringScheduleName"]
    try:
        described = client.describe_monitoring_schedule(MonitoringScheduleName=name)
    except client.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFound":
            raise
        client.create_monitoring_schedule(**request)
        return {"name": name, "action": "created", "created_at": as_utc(now or datetime.now(UTC)).isoformat()}
    created_at = as_utc(described["CreationTime"]).isoformat()
    status = described["MonitoringScheduleStatus"]
    if status == "Stopped":
        raise MonitoringScheduleError(
            f"monitoring schedule {name} is Stopped: start it (aws sagemaker start-monitoring-schedule "
            f"--monitoring-schedule-name {name}) or set SCONES_MONITOR__USE_MODEL_MONITOR=false")
    if status == "Pending":
        return {"name": name, "action": "pending", "created_at": created_at}
    if _covers(described.get("MonitoringScheduleConfig"), request["MonitoringScheduleConfig"]):
        return {"name": name, "action": "unchanged", "created_at": created_at}
    client.update_monitoring_schedule(**monitoring_schedule_update(request))
    return {"name": name, "action": "updated", "created_at": created_at}


@dataclass(frozen=True)
class IntervalExecution:
    """The state of the execution that analyses one interval (``summary`` is its ListMonitoringExecutions entry)."""

    status: str
    summary: dict | None = None


def find_interval_execution(client: Any, schedule: str, start: datetime, end: datetime) -> IntervalExecution:
    """The hourly execution scheduled at the interval's end analyses the hour before it.

    Status: Completed, CompletedWithViolations, Failed, Stopped, Pending, InProgress, Stopping,
    ``no execution yet``, or ``no traffic`` (a Failed execution whose reason says the hour had no data).
    """
    end = as_utc(end)
    response = client.list_monitoring_executions(
        MonitoringScheduleName=schedule, ScheduledTimeAfter=end - timedelta(minutes=1),
        ScheduledTimeBefore=end + timedelta(hours=1), SortBy="ScheduledTime", SortOrder="Ascending",
    )
    summaries = [s for s in response["MonitoringExecutionSummaries"]
                 if end <= as_utc(s["ScheduledTime"]) < end + timedelta(hours=1)]
    if not summaries:
        return IntervalExecution(NO_EXECUTION_YET)
    summary = summaries[0]
    status = summary["MonitoringExecutionStatus"]
    if status == "Failed" and "no data" in summary.get("FailureReason", "").lower():
        return IntervalExecution(NO_TRAFFIC, summary)
    return IntervalExecution(status, summary)


def execution_output_uri(client: Any, summary: Mapping[str, Any]) -> str:
    """The result folder of an execution: its processing job's output (the violations file is inside)."""
    job_name = summary["ProcessingJobArn"].rsplit("/", 1)[-1]
    job = client.describe_processing_job(ProcessingJobName=job_name)
    return job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"].rstrip("/") + "/"


def poll_interval_execution(client: Any, schedule: Mapping[str, str], start: datetime,
                            end: datetime) -> dict | None:
    """``None`` while the interval's execution is pending; then ``{"status", "output_uri", "no_traffic"}``.

    A failed or stopped execution, or a schedule created after the interval ended (it will never
    analyse that hour), is an error naming the fix.
    """
    execution = find_interval_execution(client, schedule["name"], start, end)
    if execution.status in ("Completed", "CompletedWithViolations"):
        return {"status": execution.status, "output_uri": execution_output_uri(client, execution.summary),
                "no_traffic": False}
    if execution.status == NO_TRAFFIC:
        return {"status": execution.status, "output_uri": None, "no_traffic": True}
    if execution.status in ("Failed", "Stopped"):
        raise MonitoringExecutionError(
            f"the {schedule['name']} execution for {start.isoformat()} to {end.isoformat()} ended "
            f"{execution.status}: {execution.summary.get('FailureReason', 'no reason given')}; fix the cause, "
            "then analyse the hour again as a backfill (it runs the analyzer as a Processing job)")
    if execution.status == NO_EXECUTION_YET and datetime.fromisoformat(schedule["created_at"]) > as_utc(end):
        raise MonitoringScheduleError(
            f"monitoring schedule {schedule['name']} was created at {schedule['created_at']}, after the interval "
            f"ended at {end.isoformat()}, so Model Monitor will never analyse it: backfill this hour "
            "(airflow backfill create --dag-id scones_monitor ...) to analyse it with the analyzer job")
    LOG.info("interval execution of %s: %s", schedule["name"], execution.status)
    return None


class ModelMonitorAnalysis:
    """:class:`~include.runtime.capabilities.IntervalAnalysis` with Model Monitor when the settings turn it on."""

    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self.settings = settings
        self._client = client

    client = LazyClient(sagemaker_client)

    def choose_path(self, dag_run: Any, now: datetime) -> AnalysisPath:
        return choose_path(self.settings, dag_run, now)

    def ensure_schedule(self, request: dict) -> dict:
        return ensure_monitoring_schedule(self.client, request)

    def poll_interval_execution(self, schedule: dict, start: datetime, end: datetime) -> dict | None:
        return poll_interval_execution(self.client, schedule, start, end)
