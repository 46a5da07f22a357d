"""Requests that analyse captured traffic for drift: one Processing job per window, or an hourly Model Monitor schedule.

Both run the project's own drift analyzer (``programs/monitor/analyzer.py``) and write Model
Monitor's report files. The Processing job gets the window's capture hour folders in SageMaker's
layout; the monitoring schedule runs the analyzer's image as a Model Monitor custom container.
With ``monitor.embedding_drift`` the analyzer also needs the serving model and the baseline's
embeddings: the Processing job gets them as two more inputs, the schedule (which takes no extra
inputs) by their S3 URIs in its environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from include.builders.common import (
    PROCESSING_ROOT,
    processing_image_uri,
    processing_request,
    processing_resources,
    s3_input,
    s3_output,
    stopping_condition,
    tags,
)
from include.code_bundle import code_version
from include.settings import Settings

CODE_DIR = f"{PROCESSING_ROOT}/code"
ENDPOINT_INPUT_DIR = f"{PROCESSING_ROOT}/input/endpoint"
BASELINE_STATISTICS_DIR = f"{PROCESSING_ROOT}/baseline/statistics"
BASELINE_CONSTRAINTS_DIR = f"{PROCESSING_ROOT}/baseline/constraints"
RESULT_DIR = f"{PROCESSING_ROOT}/resultdata"
MESSAGE_PATH = f"{PROCESSING_ROOT}/output/message"
MODEL_DIR = f"{PROCESSING_ROOT}/model"
BASELINE_EMBEDDINGS_DIR = f"{PROCESSING_ROOT}/baseline/embeddings"
STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"
EMBEDDINGS_FILE = "embeddings.npy"
ENVIRONMENT_VALUE_MAX = 256  # botocore: ProcessingEnvironmentValue max length
HOURLY_CRON = "cron(0 * ? * * *)"
HOURLY_MAX_RUNTIME_SECONDS = 3600
MAX_PROCESSING_INPUTS = 10
_FIXED_INPUTS = 3  # code, baseline statistics, baseline constraints


class MonitorImageError(ValueError):
    """Model Monitor needs the analyzer's own container image, and none is configured."""


class AnalyzerVersionError(ValueError):
    """The analyzer image's tag is not the code version of the analyzer the DAG ships."""


class WindowTooLargeError(ValueError):
    """The window spans more capture hour folders than one Processing job takes as inputs."""


class EnvironmentValueTooLongError(ValueError):
    """An S3 URI is longer than a Model Monitor environment value may be."""


@dataclass(frozen=True)
class EmbeddingInputs:
    """What the embedding drift check reads: the serving model's archive and the baseline's embeddings file."""

    model_data_url: str
    embeddings_uri: str


def mmd_arguments(settings: Settings) -> list[str]:
    """The embedding MMD test's settings as analyzer arguments."""
    monitor = settings.monitor
    return ["--mmd-alpha", str(monitor.mmd_alpha), "--mmd-permutations", str(monitor.mmd_permutations),
            "--mmd-min-records", str(monitor.mmd_min_records), "--mmd-window-records", str(monitor.mmd_window_records),
            "--mmd-seed", str(monitor.mmd_seed)]


def _iso(moment: datetime) -> str:
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def _hour_folder(capture_uri: str) -> str:
    """``.../<endpoint>/<variant>/yyyy/mm/dd/hh/`` -> ``<endpoint>/<variant>/yyyy/mm/dd/hh``."""
    parts = capture_uri.rstrip("/").split("/")
    if len(parts) < 6 or not all(p.isdigit() for p in parts[-4:]):
        raise ValueError(f"capture URI {capture_uri!r} is not an hour folder: expected "
                         ".../<endpoint>/<variant>/yyyy/mm/dd/hh/")
    return "/".join(parts[-6:])


def analysis_request(
    settings: Settings,
    *,
    run_key: str,
    job_name: str,
    code_uri: str,
    capture_uris: list[str],
    baseline_uri: str,
    start: datetime,
    end: datetime,
    output_uri: str,
    embedding: EmbeddingInputs | None = None,
) -> dict:
    """CreateProcessingJob: the analyzer in ``analyze`` mode over the window's capture hour folders.

    Each hour folder keeps its ``<endpoint>/<variant>/yyyy/mm/dd/hh`` layout below the dataset
    source, as Model Monitor presents Data Capture to a monitoring container. ``embedding`` adds the
    serving model and the baseline's embeddings for the embedding drift check.
    """
    fixed = _FIXED_INPUTS + (2 if embedding else 0)
    if len(capture_uris) > MAX_PROCESSING_INPUTS - fixed:
        raise WindowTooLargeError(
            f"the window {_iso(start)} to {_iso(end)} has {len(capture_uris)} capture hour folders, but a "
            f"Processing job takes at most {MAX_PROCESSING_INPUTS - fixed} besides code, model and baseline: "
            "keep monitor.schedule hourly"
        )
    baseline = baseline_uri.rstrip("/")
    inputs = [s3_input("code", code_uri, CODE_DIR)]
    for uri in capture_uris:
        folder = _hour_folder(uri)
        hour = "".join(folder.split("/")[-4:])
        inputs.append(s3_input(f"capture-{hour}", uri, f"{ENDPOINT_INPUT_DIR}/{folder}"))
    inputs += [
        s3_input("baseline-statistics", f"{baseline}/{STATISTICS_FILE}", BASELINE_STATISTICS_DIR),
        s3_input("baseline-constraints", f"{baseline}/{CONSTRAINTS_FILE}", BASELINE_CONSTRAINTS_DIR),
    ]
    embedding_arguments: list[str] = []
    if embedding:
        inputs += [s3_input("model", embedding.model_data_url, MODEL_DIR),
                   s3_input("baseline-embeddings", embedding.embeddings_uri, BASELINE_EMBEDDINGS_DIR)]
        embedding_arguments = ["--embedding-model", MODEL_DIR,
                               "--baseline-embeddings", f"{BASELINE_EMBEDDINGS_DIR}/{EMBEDDINGS_FILE}",
                               *mmd_arguments(settings)]
    return processing_request(
        settings, job_name=job_name, run_key=run_key, workflow="monitor",
        image_uri=settings.images.monitor_uri or processing_image_uri(settings),
        entrypoint=["python3", f"{CODE_DIR}/analyzer.py"],
        arguments=[
            "--mode", "analyze",
            "--dataset-source", ENDPOINT_INPUT_DIR,
            "--output-path", RESULT_DIR,
            "--baseline-statistics", f"{BASELINE_STATISTICS_DIR}/{STATISTICS_FILE}",
            "--baseline-constraints", f"{BASELINE_CONSTRAINTS_DIR}/{CONSTRAINTS_FILE}",
            "--start-time", _iso(start),
            "--end-time", _iso(end),
            "--confidence-threshold", str(settings.confidence_threshold),
            "--ks-alpha", str(settings.monitor.ks_alpha),
            "--min-estimated-accuracy", str(settings.monitor.min_estimated_accuracy),
            "--endpoint-name", settings.deploy.endpoint_name,
            *embedding_arguments,
        ],
        inputs=inputs,
        outputs=[s3_output("resultdata", output_uri, RESULT_DIR)],
        environment={"SCONES_MESSAGE_PATH": MESSAGE_PATH},
    )


def image_tag(image_uri: str) -> str | None:
    """``registry/repository:tag`` -> ``tag``; ``None`` for an image named by digest (``@sha256:...``) or untagged."""
    if "@" in image_uri:
        return None
    last = image_uri.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else None


def image_repository(image_uri: str) -> str:
    """``registry/repository`` of an image URI, without its tag or digest."""
    named = image_uri.split("@", 1)[0]
    return named[: -len(tag) - 1] if (tag := image_tag(named)) else named


def monitor_image_uri(settings: Settings) -> str:
    """The analyzer's container image, required by Model Monitor (it runs the image's own entrypoint).

    Model Monitor runs the analyzer baked into the image, the analyzer job the code uploaded today: the image
    must be tagged with that code's version, or the two paths would judge traffic with different analyzers.
    """
    uri = settings.images.monitor_uri
    if not uri:
        raise MonitorImageError(
            "monitor.use_model_monitor is on but images.monitor_uri is empty: build and push "
            "programs/monitor/Dockerfile to ECR and set SCONES_IMAGES__MONITOR_URI, or set "
            "SCONES_MONITOR__USE_MODEL_MONITOR=false to analyse with Processing jobs"
        )
    tag, version = image_tag(uri), code_version("monitor")
    if tag != version:
        wanted = f"{image_repository(uri)}:{version}"
        raise AnalyzerVersionError(
            f"images.monitor_uri (SCONES_IMAGES__MONITOR_URI) = {uri} is tagged {tag or '(no tag)'}, but the analyzer "
            f"code this DAG uploads is version {version}: refusing to create or update the monitoring schedule with "
            f"another analyzer. Build and push programs/monitor as {wanted} (make analyzer-image-tag prints the "
            "tag), then set SCONES_IMAGES__MONITOR_URI to it"
        )
    return uri


def _environment_uri(name: str, uri: str) -> str:
    if len(uri) > ENVIRONMENT_VALUE_MAX:
        raise EnvironmentValueTooLongError(
            f"{name} {uri} is {len(uri)} characters, but a Model Monitor environment value takes at most "
            f"{ENVIRONMENT_VALUE_MAX}: shorten the bucket or prefixes, or set SCONES_MONITOR__EMBEDDING_DRIFT=false")
    return uri


def embedding_environment(settings: Settings, embedding: EmbeddingInputs) -> dict[str, str]:
    """The embedding drift check's inputs and settings as the analyzer container's environment."""
    monitor = settings.monitor
    return {
        "embedding_model_uri": _environment_uri("the serving model", embedding.model_data_url),
        "baseline_embeddings_uri": _environment_uri("the baseline embeddings", embedding.embeddings_uri),
        "mmd_alpha": str(monitor.mmd_alpha),
        "mmd_permutations": str(monitor.mmd_permutations),
        "mmd_min_records": str(monitor.mmd_min_records),
        "mmd_window_records": str(monitor.mmd_window_records),
        "mmd_seed": str(monitor.mmd_seed),
    }


def monitoring_schedule_config(settings: Settings, *, baseline_uri: str, output_uri: str,
                               embedding: EmbeddingInputs | None = None) -> dict:
    """The MonitoringScheduleConfig shared by CreateMonitoringSchedule and UpdateMonitoringSchedule."""
    baseline = baseline_uri.rstrip("/")
    max_runtime = min(stopping_condition(settings)["MaxRuntimeInSeconds"], HOURLY_MAX_RUNTIME_SECONDS)
    return {
        "ScheduleConfig": {"ScheduleExpression": HOURLY_CRON},
        "MonitoringJobDefinition": {
            "BaselineConfig": {
                "ConstraintsResource": {"S3Uri": f"{baseline}/{CONSTRAINTS_FILE}"},
                "StatisticsResource": {"S3Uri": f"{baseline}/{STATISTICS_FILE}"},
            },
            "MonitoringInputs": [{
                "EndpointInput": {
                    "EndpointName": settings.deploy.endpoint_name,
                    "LocalPath": ENDPOINT_INPUT_DIR,
                    "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated",
                }
            }],
            "MonitoringOutputConfig": {
                "MonitoringOutputs": [{
                    "S3Output": {"S3Uri": output_uri, "LocalPath": RESULT_DIR, "S3UploadMode": "EndOfJob"}
                }]
            },
            "MonitoringResources": processing_resources(settings),
            "MonitoringAppSpecification": {"ImageUri": monitor_image_uri(settings)},
            "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
            "Environment": {
                "analyzer_mode": "analyze",
                "confidence_threshold": str(settings.confidence_threshold),
                "comparison_threshold": str(settings.monitor.comparison_threshold),
                "categorical_comparison_threshold": str(settings.monitor.categorical_comparison_threshold),
                "ks_alpha": str(settings.monitor.ks_alpha),
                "min_estimated_accuracy": str(settings.monitor.min_estimated_accuracy),
                **(embedding_environment(settings, embedding) if embedding else {}),
            },
            "RoleArn": settings.sagemaker_role_arn,
        },
    }


def monitoring_schedule_request(settings: Settings, *, schedule_name: str, baseline_uri: str,
                                output_uri: str, embedding: EmbeddingInputs | None = None) -> dict:
    """CreateMonitoringSchedule: the analyzer's container every hour on the endpoint's captured traffic."""
    return {
        "MonitoringScheduleName": schedule_name,
        "MonitoringScheduleConfig": monitoring_schedule_config(settings, baseline_uri=baseline_uri,
                                                               output_uri=output_uri, embedding=embedding),
        "Tags": tags(settings, "monitor", schedule_name),
    }


def monitoring_schedule_update(request: dict) -> dict:
    """The UpdateMonitoringSchedule request for a CreateMonitoringSchedule request (tags are not updatable)."""
    return {"MonitoringScheduleName": request["MonitoringScheduleName"],
            "MonitoringScheduleConfig": request["MonitoringScheduleConfig"]}
