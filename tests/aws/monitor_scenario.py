"""The drift analyzer's jobs and Model Monitor as moto cannot run them, for scones_monitor.

Analyzer job: when the job is created, the project's analyzer program runs here on the job's
own request — its inputs downloaded from the emulated bucket into a scratch copy of
``/opt/ml/processing``, its arguments and environment remapped there — and its result folder
is uploaded to the job's output, so the report files are the analyzer's real ones. The job is
still running at first look.

Model Monitor (moto has none): an hourly schedule that is missing until created, and whose
executions (each hour, ``CompletedWithViolations``) name a processing job whose output folder
is the schedule's output URI plus Model Monitor's ``<endpoint>/<schedule>/yyyy/mm/dd/hh``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from include.settings import PROJECT_ROOT
from include.storage import S3Uri
from programs.model.data_capture import capture_record
from tests.aws.ingest_scenario import png_bytes
from tests.aws.recorder import RequestRecorder
from tests.aws.simulations import processing_job_running_at_first_look

ANALYZER = PROJECT_ROOT / "programs" / "monitor" / "analyzer.py"
PROCESSING_ROOT = "/opt/ml/processing"
ACCOUNT_ARN = "arn:aws:sagemaker:us-east-1:123456789012"
BASELINE_SHADES = range(20, 80, 5)
DRIFTED_SHADES = range(170, 230, 5)
REPORT_FILES = ("statistics.json", "constraint_violations.json", "analysis_summary.json")
MODEL_MONITOR_HOURS = 4


# --- capture and reports, prepared before a run -------------------------------------------------------


def capture_jsonl(shades: Iterable[int], hour: datetime) -> bytes:
    """Data Capture JSONL: one confident bicycle prediction per grey image, a few minutes apart in ``hour``."""
    lines = []
    for index, shade in enumerate(shades):
        when = (hour + timedelta(minutes=2 * index + 1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        response = json.dumps({"label": "bicycle", "probabilities": [0.97, 0.03]})
        record = capture_record(png_bytes(shade), "image/png", response, "application/json", f"event-{index}", when)
        lines.append(json.dumps(record))
    return ("\n".join(lines) + "\n").encode()


def capture_key(endpoint: str, hour: datetime) -> str:
    return f"datacapture/{endpoint}/AllTraffic/{hour:%Y/%m/%d/%H}/capture-{hour:%M}.jsonl"


def run_analyzer(arguments: list[str], environ: dict[str, str] | None = None) -> None:
    result = subprocess.run([sys.executable, str(ANALYZER), *arguments], capture_output=True, text=True,
                            timeout=300, check=False, env=environ)
    if result.returncode != 0:
        raise RuntimeError(f"analyzer exited {result.returncode}: {result.stderr[-2000:]}")


def _write_capture(root: Path, shades: Iterable[int], hour: datetime) -> Path:
    path = root / "endpoint" / "AllTraffic" / f"{hour:%Y/%m/%d/%H}" / "capture.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(capture_jsonl(shades, hour))
    return root


def baseline_reports(work: Path) -> dict[str, bytes]:
    """statistics.json and constraints.json of dark validation images, as the baseline job writes them."""
    hour = datetime(2025, 12, 31, tzinfo=UTC)
    source = _write_capture(work / "baseline-capture", BASELINE_SHADES, hour)
    output = work / "baseline"
    run_analyzer(["--mode", "baseline", "--dataset-source", str(source), "--output-path", str(output)])
    return {name: (output / name).read_bytes() for name in ("statistics.json", "constraints.json")}


def drifted_reports(work: Path, baseline: dict[str, bytes], hour: datetime) -> dict[str, bytes]:
    """The analyzer's report files for an hour of bright photos against the dark baseline."""
    for name, data in baseline.items():
        (work / "baseline-files").mkdir(parents=True, exist_ok=True)
        (work / "baseline-files" / name).write_bytes(data)
    source = _write_capture(work / "drifted-capture", DRIFTED_SHADES, hour)
    output = work / "drifted"
    run_analyzer(["--mode", "analyze", "--dataset-source", str(source), "--output-path", str(output),
                  "--baseline-statistics", str(work / "baseline-files" / "statistics.json"),
                  "--baseline-constraints", str(work / "baseline-files" / "constraints.json")],
                 {**os.environ, "SCONES_MESSAGE_PATH": str(work / "message")})
    return {name: (output / name).read_bytes() for name in REPORT_FILES}


def put_files(s3: Any, prefix_uri: str, files: dict[str, bytes]) -> None:
    target = S3Uri.parse(prefix_uri.rstrip("/") + "/")
    for name, data in files.items():
        s3.put_object(Bucket=target.bucket, Key=target.join(name).key, Body=data)


# --- the analyzer job, run from its request -----------------------------------------------------------


def _download_input(s3: Any, uri: str, directory: Path) -> None:
    """S3Prefix semantics: every object under the prefix, by its path below it (an object by its name)."""
    source = S3Uri.parse(uri)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=source.bucket, Prefix=source.key)
    for item in (o for page in pages for o in page.get("Contents", [])):
        relative = item["Key"][len(source.key):].lstrip("/") or item["Key"].rsplit("/", 1)[-1]
        target = directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(source.bucket, item["Key"], str(target))


def run_processing_request(s3: Any, request: dict[str, Any], scratch: Path) -> None:
    """Run the analyzer as the job's container would, then upload its outputs to the job's S3 outputs."""
    root = scratch / request["ProcessingJobName"]

    def local(value: str) -> str:
        return str(root) + value.removeprefix(PROCESSING_ROOT) if value.startswith(PROCESSING_ROOT) else value

    for item in request["ProcessingInputs"]:
        _download_input(s3, item["S3Input"]["S3Uri"], Path(local(item["S3Input"]["LocalPath"])))
    app = request["AppSpecification"]
    program = Path(local(app["ContainerEntrypoint"][-1]))
    environ = {**os.environ, **{k: local(v) for k, v in request.get("Environment", {}).items()}}
    result = subprocess.run([sys.executable, str(program), *map(local, app["ContainerArguments"])],
                            capture_output=True, text=True, timeout=300, check=False, env=environ)
    if result.returncode != 0:
        raise RuntimeError(f"analyzer job {request['ProcessingJobName']} failed: {result.stderr[-2000:]}")
    for output in request["ProcessingOutputConfig"]["Outputs"]:
        folder = Path(local(output["S3Output"]["LocalPath"]))
        files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
        put_files(s3, output["S3Output"]["S3Uri"], files)


def install(recorder: RequestRecorder) -> None:
    """Analyzer jobs run the real analyzer on their request's inputs when created."""
    s3 = recorder.client("s3")
    scratch = Path(tempfile.mkdtemp(prefix="scones-analyzer-job-"))

    def run_job(params: dict[str, Any], transport: str) -> None:
        run_processing_request(s3, params, scratch)

    recorder.observe("sagemaker", "CreateProcessingJob", run_job)
    processing_job_running_at_first_look(recorder)


# --- Model Monitor ------------------------------------------------------------------------------------


def model_monitor_result_uri(output_uri: str, endpoint: str, schedule: str, scheduled: datetime) -> str:
    """Where Model Monitor writes an execution's reports below the schedule's output URI."""
    return f"{output_uri.rstrip('/')}/{endpoint}/{schedule}/{scheduled:%Y/%m/%d/%H}/"


def monitoring_job_name(schedule: str, scheduled: datetime) -> str:
    return f"model-monitoring-{scheduled:%Y%m%d%H}00-{schedule[:20]}"


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _missing_schedule(name: str) -> ClientError:
    return ClientError({"Error": {"Code": "ResourceNotFound", "Message": f"Could not find schedule '{name}'."},
                        "ResponseMetadata": {"HTTPStatusCode": 400}}, "DescribeMonitoringSchedule")


def hourly_executions(schedule: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """The schedule's executions at each of the last hours, all completed with violations."""
    newest = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    name = schedule["MonitoringScheduleName"]
    endpoint = schedule["MonitoringScheduleConfig"]["MonitoringJobDefinition"]["MonitoringInputs"][0][
        "EndpointInput"]["EndpointName"]
    executions = []
    for hours_ago in range(MODEL_MONITOR_HOURS):
        scheduled = newest - timedelta(hours=hours_ago)
        executions.append({
            "MonitoringScheduleName": name,
            "ScheduledTime": scheduled,
            "CreationTime": scheduled + timedelta(minutes=2),
            "LastModifiedTime": scheduled + timedelta(minutes=20),
            "MonitoringExecutionStatus": "CompletedWithViolations",
            "ProcessingJobArn": f"{ACCOUNT_ARN}:processing-job/{monitoring_job_name(name, scheduled)}",
            "EndpointName": endpoint,
        })
    return executions


def install_model_monitor(recorder: RequestRecorder) -> None:
    """SageMaker Model Monitor for scones_monitor: schedules, hourly executions and their processing jobs."""
    schedules: dict[str, dict[str, Any]] = {}
    jobs: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()

    def describe_schedule(params: dict[str, Any]) -> dict[str, Any]:
        with lock:
            schedule = schedules.get(params["MonitoringScheduleName"])
        if schedule is None:
            raise _missing_schedule(params["MonitoringScheduleName"])
        return schedule

    def create_schedule(params: dict[str, Any]) -> dict[str, Any]:
        name = params["MonitoringScheduleName"]
        now = datetime.now(UTC)
        with lock:
            schedules[name] = {
                "MonitoringScheduleArn": f"{ACCOUNT_ARN}:monitoring-schedule/{name}",
                "MonitoringScheduleName": name, "MonitoringScheduleStatus": "Scheduled",
                "CreationTime": now, "LastModifiedTime": now,
                "MonitoringScheduleConfig": params["MonitoringScheduleConfig"],
            }
        return {"MonitoringScheduleArn": f"{ACCOUNT_ARN}:monitoring-schedule/{name}"}

    def list_executions(params: dict[str, Any]) -> dict[str, Any]:
        with lock:
            schedule = schedules.get(params["MonitoringScheduleName"])
        if schedule is None:
            return {"MonitoringExecutionSummaries": []}
        after, before = (_utc(params.get(name)) for name in ("ScheduledTimeAfter", "ScheduledTimeBefore"))
        found = [e for e in hourly_executions(schedule, datetime.now(UTC))
                 if (after is None or e["ScheduledTime"] >= after) and (before is None or e["ScheduledTime"] <= before)]
        found.sort(key=lambda e: e["ScheduledTime"], reverse=params.get("SortOrder") == "Descending")
        config = schedule["MonitoringScheduleConfig"]["MonitoringJobDefinition"]
        output_uri = config["MonitoringOutputConfig"]["MonitoringOutputs"][0]["S3Output"]["S3Uri"]
        with lock:
            for execution in found:
                job = execution["ProcessingJobArn"].rsplit("/", 1)[-1]
                result = model_monitor_result_uri(output_uri, execution["EndpointName"],
                                                  execution["MonitoringScheduleName"], execution["ScheduledTime"])
                jobs[job] = {"ProcessingJobName": job, "ProcessingJobArn": execution["ProcessingJobArn"],
                             "ProcessingJobStatus": "Completed",
                             "ExitMessage": "CompletedWithViolations: Job completed successfully with violations.",
                             "ProcessingOutputConfig": {"Outputs": [{"OutputName": "monitoring_output", "S3Output": {
                                 "S3Uri": result, "LocalPath": "/opt/ml/processing/resultdata",
                                 "S3UploadMode": "EndOfJob"}}]}}
        return {"MonitoringExecutionSummaries": found}

    def describe_job(params: dict[str, Any]) -> dict[str, Any] | None:
        with lock:
            return jobs.get(params["ProcessingJobName"])

    recorder.respond("sagemaker", "DescribeMonitoringSchedule", describe_schedule)
    recorder.respond("sagemaker", "CreateMonitoringSchedule", create_schedule)
    recorder.respond("sagemaker", "ListMonitoringExecutions", list_executions)
    recorder.respond("sagemaker", "DescribeProcessingJob", describe_job)

