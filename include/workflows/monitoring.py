"""The monitoring workflow's steps: find the window's analysis, judge it, report it, and decide what to do.

An interval is analysed one of two ways. On AWS accounts with Model Monitor, a scheduled run
whose hour has just ended reads the hourly monitoring schedule's execution for that hour. Every
other run (the ``local`` runtime, accounts without Model Monitor, backfills, manual runs) runs the
analyzer over the window as a Processing job, because Model Monitor never analyses past hours.
Both write the same Model Monitor report files, read here the same way.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from include.builders.monitoring import (
    CONSTRAINTS_FILE,
    STATISTICS_FILE,
    analysis_request,
    monitoring_schedule_request,
    monitoring_schedule_update,
)
from include.code_bundle import PROGRAM_DIRS, upload_program
from include.registry import ModelRegistry
from include.run_keys import RUN_KEY_PROPERTY, SAGEMAKER_NAME_MAX, sanitise
from include.settings import Settings
from include.storage import ObjectNotFoundError, ObjectStore, upload_directory
from include.workflows.inference import as_utc, data_interval, interval_hours
from include.workflows.training import baseline_uri as model_baseline_uri

LOG = logging.getLogger(__name__)

MODEL_MONITOR = "model_monitor"
ANALYZER_JOB = "analyzer_job"
MODEL_MONITOR_RECENCY = timedelta(hours=2)
CAPTURE_MARGIN = timedelta(hours=1)
VIOLATIONS_FILE = "constraint_violations.json"
SUMMARY_FILE = "analysis_summary.json"
REPORT_SCRIPT = PROGRAM_DIRS["monitor"] / "report.py"
REPORT_HISTORY = 24
NO_EXECUTION_YET = "no execution yet"
NO_TRAFFIC = "no traffic"
ACTIONS = ("none", "no_traffic", "alert", "retrain")



class NoBaselineError(LookupError):
    """There is no approved model with a drift baseline to compare traffic against."""


class MonitoringScheduleError(RuntimeError):
    """The Model Monitor schedule cannot analyse this interval; the message names the fix."""


class MonitoringExecutionError(RuntimeError):
    """The interval's Model Monitor execution failed or was stopped."""


class ReportError(RuntimeError):
    """The report program failed."""


# --- where things live -----------------------------------------------------------------------------


def capture_prefix(settings: Settings) -> str:
    """``s3://bucket/<capture>/<endpoint>/<variant>/``: where Data Capture writes the endpoint's traffic."""
    return settings.s3_uri(settings.prefixes.capture, settings.deploy.endpoint_name, settings.deploy.variant_name) + "/"


def monitoring_prefix(settings: Settings, *parts: str) -> str:
    return settings.s3_uri(settings.prefixes.monitoring, settings.deploy.endpoint_name, *parts)


def analysis_output_uri(settings: Settings, run_key: str) -> str:
    return monitoring_prefix(settings, run_key, "result") + "/"


def report_prefix(settings: Settings, run_key: str) -> str:
    return monitoring_prefix(settings, run_key, "report") + "/"


def history_prefix(settings: Settings) -> str:
    """Every analysed interval's statistics, keyed by interval start: the report's "over time" plot."""
    return monitoring_prefix(settings, "history") + "/"


def retrain_record_uri(settings: Settings) -> str:
    return monitoring_prefix(settings, "last_retrain.json")


def schedule_name(settings: Settings) -> str:
    return sanitise(f"scones-monitor-{settings.deploy.endpoint_name}", SAGEMAKER_NAME_MAX)


def model_monitor_output_uri(settings: Settings) -> str:
    return monitoring_prefix(settings, "model-monitor") + "/"


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


# --- baseline and path ------------------------------------------------------------------------------


def baseline_for_current_model(settings: Settings, registry: ModelRegistry, store: ObjectStore) -> str:
    """The drift baseline folder of the newest approved model version."""
    record = registry.latest_approved()
    group = settings.registry.model_package_group
    if record is None:
        raise NoBaselineError(f"no approved model version in model package group {group!r}: run scones_train "
                              "(and approve its version) before monitoring")
    key = record.get("CustomerMetadataProperties", {}).get(RUN_KEY_PROPERTY)
    if not key:
        raise NoBaselineError(f"model version {record['ModelPackageArn']} has no {RUN_KEY_PROPERTY!r} metadata: "
                              "register models through scones_train so their baseline can be found")
    uri = model_baseline_uri(settings, key)
    missing = [name for name in (STATISTICS_FILE, CONSTRAINTS_FILE) if not store.exists(uri + name)]
    if missing:
        raise NoBaselineError(f"the baseline of model version {record['ModelPackageVersion']} at {uri} lacks "
                              f"{', '.join(missing)}: clear the promote.baseline task of the run that trained "
                              f"{key!r}")
    return uri


def _run_type(dag_run: Any) -> str:
    return str(getattr(dag_run, "run_type", "")).lower().rsplit(".", 1)[-1]


def choose_path(settings: Settings, dag_run: Any, now: datetime) -> str:
    """``model_monitor`` for a scheduled AWS run whose interval just ended, when Model Monitor is on; else
    ``analyzer_job``. Model Monitor schedules never run for past hours, so backfills and manual runs
    always run the analyzer."""
    end = getattr(dag_run, "data_interval_end", None)
    recent = end is not None and timedelta(0) <= now - end <= MODEL_MONITOR_RECENCY
    if (settings.runtime == "aws" and settings.monitor.use_model_monitor
            and _run_type(dag_run) == "scheduled" and recent):
        return MODEL_MONITOR
    return ANALYZER_JOB


# --- analyzer job path ------------------------------------------------------------------------------


def capture_hour_prefixes(settings: Settings, store: ObjectStore, start: datetime, end: datetime) -> list[str]:
    """Capture hour folders that hold files, from the hour before the window to the hour after it.

    A record's hour folder can trail or lead its inference time at an hour boundary; the
    analyzer keeps only records inside the window, with the same one-hour margin.
    """
    base = capture_prefix(settings)
    prefixes = []
    for hour in interval_hours(start - CAPTURE_MARGIN, end + CAPTURE_MARGIN):
        prefix = f"{base}{hour:%Y/%m/%d/%H}/"
        if any(info.uri.endswith(".jsonl") for info in store.list(prefix)):
            prefixes.append(prefix)
    return prefixes


def build_analysis_request(settings: Settings, store: ObjectStore, *, run_key: str, job_name: str,
                           capture_uris: list[str], baseline_uri: str, start: datetime, end: datetime) -> dict:
    return analysis_request(
        settings, run_key=run_key, job_name=job_name, code_uri=upload_program(settings, store, "monitor"),
        capture_uris=capture_uris, baseline_uri=baseline_uri, start=start, end=end,
        output_uri=analysis_output_uri(settings, run_key),
    )


def job_output_uri(job_result: Mapping[str, Any]) -> str:
    """The result folder of a finished analyzer job (``{"Processing": <DescribeProcessingJob>}``)."""
    outputs = job_result["Processing"]["ProcessingOutputConfig"]["Outputs"]
    return outputs[0]["S3Output"]["S3Uri"].rstrip("/") + "/"


# --- Model Monitor path -----------------------------------------------------------------------------


def sagemaker_client(settings: Settings) -> Any:
    """The SageMaker client of the provider's hook (the provider has no Model Monitor operator)."""
    from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

    return SageMakerHook(aws_conn_id=settings.aws_conn_id, region_name=settings.region).conn


def build_schedule_request(settings: Settings, baseline_uri: str) -> dict:
    return monitoring_schedule_request(settings, schedule_name=schedule_name(settings), baseline_uri=baseline_uri,
                                       output_uri=model_monitor_output_uri(settings))


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


# --- results ----------------------------------------------------------------------------------------


def _json(store: ObjectStore, uri: str) -> dict:
    return json.loads(store.get_bytes(uri))


def no_traffic_result() -> dict:
    return {"output_uri": None, "violations": [], "no_traffic": True, "item_count": 0}


def read_interval_result(store: ObjectStore, output_uri: str) -> dict:
    """``{"output_uri", "violations", "no_traffic", "item_count"}`` from an analysis's result folder."""
    folder = output_uri.rstrip("/") + "/"
    try:
        violations = _json(store, folder + VIOLATIONS_FILE).get("violations", [])
    except ObjectNotFoundError as exc:
        raise ObjectNotFoundError(f"no {VIOLATIONS_FILE} in {folder}: the analysis did not finish; "
                                  "clear the run's analysis task to analyse the window again") from exc
    try:
        item_count = int(_json(store, folder + SUMMARY_FILE)["item_count"])
    except ObjectNotFoundError:
        item_count = int(_json(store, folder + STATISTICS_FILE)["dataset"]["item_count"])
    return {"output_uri": folder, "violations": violations, "no_traffic": item_count == 0, "item_count": item_count}


def interval_result(store: ObjectStore, *, execution: dict | None, analysis_job: dict | None,
                    capture_hours: list[str] | None) -> dict:
    """The interval's result from whichever path ran: Model Monitor, the analyzer job, or no capture at all."""
    if execution is not None:
        return no_traffic_result() if execution["no_traffic"] else read_interval_result(store, execution["output_uri"])
    if analysis_job is not None:
        return read_interval_result(store, job_output_uri(analysis_job))
    if capture_hours == []:
        return no_traffic_result()
    raise MonitoringExecutionError("no analysis result for this interval: clear the run to analyse it again")


# --- decision ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """What to do about an interval: ``none``, ``no_traffic``, ``alert`` or ``retrain``, and why."""

    action: str
    reasons: list[str] = field(default_factory=list)
    violations: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _describe(violation: Mapping[str, Any]) -> str:
    return f"{violation['constraint_check_type']} on {violation['feature_name']}"


def decide(result: Mapping[str, Any], settings: Settings, last_retrain_at: datetime | None,
           now: datetime) -> Decision:
    """Map each violation to its configured action; retrain wins, then alert; honour min count and cooldown."""
    if result["no_traffic"]:
        return Decision("no_traffic", ["no capture records in the window: nothing to compare with the baseline"])
    monitor = settings.monitor
    counted = []
    for violation in result["violations"]:
        action = monitor.action_for(violation["constraint_check_type"], violation["feature_name"])
        if action != "ignore":
            counted.append({**violation, "action": action})
    ignored = len(result["violations"]) - len(counted)
    if len(counted) < monitor.min_violations:
        reason = (f"{len(counted)} counted violation(s) ({ignored} ignored), below "
                  f"monitor.min_violations={monitor.min_violations}")
        return Decision("none", [reason], counted)
    reasons = [f"{_describe(v)} -> {v['action']}: {v.get('description', '')}" for v in counted]
    action = "retrain" if any(v["action"] == "retrain" for v in counted) else "alert"
    if action == "retrain" and last_retrain_at is not None:
        cooldown = timedelta(hours=monitor.retrain_cooldown_hours)
        if as_utc(now) - as_utc(last_retrain_at) < cooldown:
            action = "alert"
            reasons.append(f"retraining was last triggered at {as_utc(last_retrain_at).isoformat()}, within "
                           f"monitor.retrain_cooldown_hours={monitor.retrain_cooldown_hours}: alerting instead")
    return Decision(action, reasons, counted)


def retrain_conf(decision: Decision, run_key: str) -> dict:
    """``scones_train``'s conf: the reason (its ``reason`` param) and the violations behind it."""
    drifted = [_describe(v) for v in decision.violations if v["action"] == "retrain"]
    reason = f"drift detected by scones_monitor run {run_key}: " + "; ".join(drifted)
    return {"reason": reason, "violations": decision.violations}


def last_retrain_at(settings: Settings, store: ObjectStore) -> datetime | None:
    try:
        return datetime.fromisoformat(_json(store, retrain_record_uri(settings))["triggered_at"])
    except ObjectNotFoundError:
        return None


def record_retrain(settings: Settings, store: ObjectStore, *, when: datetime, run_key: str, reason: str) -> str:
    """Remember the retrain this run triggered, for the cooldown; returns the record's URI."""
    uri = retrain_record_uri(settings)
    record = {"triggered_at": as_utc(when).isoformat(), "run_key": run_key, "reason": reason}
    store.put_bytes(uri, json.dumps(record, indent=2).encode())
    return uri


def announcement(decision: Mapping[str, Any], *, run_key: str, report_uri: str) -> str:
    """One message an engineer reads: what the monitor decided for this run, why, and where the report is."""
    headline = {
        "none": "no drift",
        "no_traffic": "no traffic (not drift)",
        "alert": "DRIFT ALERT",
        "retrain": "DRIFT: retraining triggered",
    }[decision["action"]]
    lines = [f"scones_monitor {run_key}: {headline}", *(f"- {r}" for r in decision["reasons"]), f"report: {report_uri}"]
    return "\n".join(lines)


def publish_alert(settings: Settings, subject: str, message: str) -> None:
    """Publish to the alerts SNS topic, when one is configured."""
    if not settings.alerts_topic_arn:
        return
    from airflow.providers.amazon.aws.hooks.sns import SnsHook

    SnsHook(aws_conn_id=settings.aws_conn_id, region_name=settings.region).publish_to_target(
        target_arn=settings.alerts_topic_arn, message=message, subject=subject[:100])


def announce(settings: Settings, decision: Mapping[str, Any], *, run_key: str, report_uri: str) -> str:
    """Log the decision (a WARNING for drift) and publish drift to the alerts topic; returns the message."""
    message = announcement(decision, run_key=run_key, report_uri=report_uri)
    if decision["action"] in ("alert", "retrain"):
        LOG.warning(message)
        publish_alert(settings, f"Scones drift: {decision['action']}", message)
    else:
        LOG.info(message)
    return message


# --- report -----------------------------------------------------------------------------------------


def _interval_key(start: datetime) -> str:
    return f"{as_utc(start):%Y%m%dT%H%M}"


def _download_if_present(store: ObjectStore, uri: str, path: Path) -> Path | None:
    try:
        store.download_file(uri, path)
    except ObjectNotFoundError:
        return None
    return path if path.is_file() else None


def _previous_statistics(settings: Settings, store: ObjectStore, interval_start: datetime,
                         directory: Path) -> list[Path]:
    """Up to ``REPORT_HISTORY`` earlier intervals' statistics, oldest first, downloaded under ``directory``."""
    prefix = history_prefix(settings)
    current = _interval_key(interval_start)
    keys = sorted({info.uri[len(prefix):].split("/", 1)[0] for info in store.list(prefix)
                   if info.uri.endswith("/" + STATISTICS_FILE)})
    paths = []
    for key in [k for k in keys if k < current][-REPORT_HISTORY:]:
        path = directory / key / STATISTICS_FILE
        store.download_file(f"{prefix}{key}/{STATISTICS_FILE}", path)
        _download_if_present(store, f"{prefix}{key}/{SUMMARY_FILE}", path.with_name(SUMMARY_FILE))
        paths.append(path)
    return paths


def _no_traffic_page(interval_start: datetime) -> str:
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>Scones drift report</title></head><body>"
            f"<h1>Drift report</h1><p>No traffic: the endpoint captured no records in the hour from "
            f"{as_utc(interval_start).isoformat()}. Nothing was compared with the baseline.</p></body></html>")


def _run_report_program(arguments: list[str]) -> None:
    result = subprocess.run([sys.executable, str(REPORT_SCRIPT), *arguments], capture_output=True, text=True,
                            timeout=600, check=False)
    if result.returncode != 0:
        raise ReportError(f"{REPORT_SCRIPT.name} exited {result.returncode}: {result.stderr.strip()[-1500:]}")


def write_report(settings: Settings, store: ObjectStore, *, run_key: str, result_uri: str | None,
                 baseline_uri: str, interval_start: datetime) -> str:
    """Plot the interval against the baseline and its predecessors; publish to ``.../<run key>/report/``.

    Returns the URI of the report's ``index.html``. A result-less (no traffic) interval gets a page
    that says so. The interval's statistics join the history the next reports plot.
    """
    prefix = report_prefix(settings, run_key)
    with tempfile.TemporaryDirectory(prefix="scones-report-") as scratch:
        work = Path(scratch)
        output = work / "report"
        if result_uri is None:
            output.mkdir()
            (output / "index.html").write_text(_no_traffic_page(interval_start))
        else:
            result = result_uri.rstrip("/") + "/"
            statistics = work / "current" / STATISTICS_FILE
            store.download_file(result + STATISTICS_FILE, statistics)
            summary = _download_if_present(store, result + SUMMARY_FILE, statistics.with_name(SUMMARY_FILE))
            arguments = ["--statistics", str(statistics), "--output-dir", str(output)]
            violations = _download_if_present(store, result + VIOLATIONS_FILE, work / "current" / VIOLATIONS_FILE)
            if violations:
                arguments += ["--violations", str(violations)]
            baseline = _download_if_present(store, baseline_uri.rstrip("/") + "/" + STATISTICS_FILE,
                                            work / "baseline" / STATISTICS_FILE)
            if baseline:
                arguments += ["--baseline-statistics", str(baseline)]
            history = _previous_statistics(settings, store, interval_start, work / "history")
            if history:
                arguments += ["--history", *map(str, history)]
            _run_report_program(arguments)
            archive = f"{history_prefix(settings)}{_interval_key(interval_start)}/"
            store.upload_file(statistics, archive + STATISTICS_FILE)
            if summary:
                store.upload_file(summary, archive + SUMMARY_FILE)
        published = set(upload_directory(store, output, prefix))
    for info in store.list(prefix):
        if info.uri not in published:
            store.delete(info.uri)
    return prefix + "index.html"
