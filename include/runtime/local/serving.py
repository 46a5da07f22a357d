"""The ``local`` runtime's serving: the same endpoint config and executions, served on this machine.

``LocalEndpointOperator`` deploys the ``{"Model", "EndpointConfig", "Endpoint"}`` config to the
detached local model server (started if it is not running; it outlives the task and serves
between DAG runs). The server loads and pings the new model before moving traffic, so a model
that fails leaves the old one serving; either way the task then checks, like the ``aws``
operator, that the endpoint serves the new endpoint config. A verified deployment is recorded the way
SageMaker keeps it — the model and endpoint config as created (with their tags) and the endpoint's
description — so ``LocalServedModels`` answers "which version serves" from the endpoint, as on AWS.

``LocalStateMachineExecutionsOperator`` runs an interval's inference executions in turn, in the task's
own process: each one's Distributed Map runs its photos as child executions on a pool of
``max_concurrency`` threads. The task starts its own S3 endpoint over the data root on a free
127.0.0.1 port and stops it when done, so no server has to outlive a task or be found again.
Finished executions are recorded by name and reused, as Step Functions refuses to run a name twice.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator

from include.registry import MODEL_PACKAGE_TAG
from include.runtime.capabilities import ServedModel
from include.runtime.endpoint_checks import EndpointRollbackError, verify_endpoint_serves
from include.runtime.local import model_server_control
from include.runtime.local.inference_flow import ExecutionRecords, run_inference_execution
from include.runtime.local.s3_server import start_s3_server, stop_s3_server
from include.runtime.local.store import LocalObjectStore, local_work_root
from include.runtime.local.traffic_shift import shift_plan
from include.settings import Settings, get_settings

MODEL_SERVER_FOLDER = "model-server"
ENDPOINT_RECORDS_FOLDER = "endpoint-records"


def model_server_url(settings: Settings) -> str:
    """The running local model server's URL, starting the server if needed."""
    return model_server_control.ensure_server(local_work_root(settings) / MODEL_SERVER_FOLDER,
                                              settings.deploy.local_server_port)


def capture_request(settings: Settings, endpoint_config: dict) -> dict | None:
    """The admin API's ``capture`` object for the config's ``DataCaptureConfig`` (None when absent)."""
    capture = endpoint_config.get("DataCaptureConfig")
    if not capture:
        return None
    header = capture.get("CaptureContentTypeHeader", {})
    return {
        "enabled": capture.get("EnableCapture", True),
        "sampling_percentage": capture["InitialSamplingPercentage"],
        "destination": str(LocalObjectStore(settings.data_root).path_for(capture["DestinationS3Uri"])),
        "capture_options": [option["CaptureMode"] for option in capture["CaptureOptions"]],
        "json_content_types": header.get("JsonContentTypes", ["application/json"]),
        "csv_content_types": header.get("CsvContentTypes", []),
    }


def endpoint_description(local: dict, url: str) -> dict:
    """The server's description in DescribeEndpoint's terms, plus the URL boto3 clients use."""
    description = {
        "EndpointName": local["endpoint_name"],
        "EndpointConfigName": local.get("config_name"),
        "EndpointStatus": local.get("status"),
        "EndpointUrl": url,
    }
    if local.get("failure_reason"):
        description["FailureReason"] = local["failure_reason"]
    return description


class LocalEndpointRecords:
    """The local endpoints' SageMaker-side records: ``models/``, ``endpoint-configs/`` and ``endpoints/`` JSON files.

    Models and endpoint configs are kept as created (CreateModel / CreateEndpointConfig requests, tags included);
    an endpoint's record is its description after a verified deployment, so a rolled-back deployment leaves
    the endpoint's record on the config that still serves.
    """

    def __init__(self, settings: Settings) -> None:
        self.root = local_work_root(settings) / ENDPOINT_RECORDS_FOLDER

    def _path(self, kind: str, name: str) -> Path:
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"{kind} name {name!r} is not a SageMaker resource name")
        return self.root / kind / f"{name}.json"

    def _write(self, kind: str, name: str, record: dict) -> None:
        path = self._path(kind, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "w") as handle:
            json.dump(record, handle, indent=2, default=str)
        os.replace(tmp, path)

    def read(self, kind: str, name: str) -> dict | None:
        path = self._path(kind, name)
        return json.loads(path.read_text()) if path.is_file() else None

    def record_deployment(self, model: dict, endpoint_config: dict, endpoint: dict) -> None:
        """Remember what a verified deployment created and what the endpoint now serves (endpoint written last),
        with the time it settled on it, as DescribeEndpoint's ``LastModifiedTime``."""
        self._write("models", model["ModelName"], model)
        self._write("endpoint-configs", endpoint_config["EndpointConfigName"], endpoint_config)
        settled = {k: v for k, v in endpoint.items() if k != "EndpointUrl"}
        previous = self.read("endpoints", endpoint["EndpointName"]) or {}
        if previous.get("EndpointConfigName") == settled.get("EndpointConfigName") and previous.get("LastModifiedTime"):
            settled["LastModifiedTime"] = previous["LastModifiedTime"]  # a retried deployment changed nothing
        else:
            settled["LastModifiedTime"] = datetime.now(UTC).isoformat()
        self._write("endpoints", endpoint["EndpointName"], settled)


class LocalServedModels:
    """:class:`~include.runtime.capabilities.ServedModels` from the local endpoints' records."""

    def __init__(self, settings: Settings) -> None:
        self.records = LocalEndpointRecords(settings)

    def served_model(self, endpoint_name: str) -> ServedModel | None:
        endpoint = self.records.read("endpoints", endpoint_name)
        if endpoint is None or endpoint.get("EndpointStatus") != "InService":
            return None
        config_name = endpoint["EndpointConfigName"]
        config = self.records.read("endpoint-configs", config_name)
        if config is None:
            raise LookupError(f"endpoint {endpoint_name} serves endpoint config {config_name}, which has no record "
                              f"under {self.records.root}: deploy the model again with scones_deploy")
        model_name = config["ProductionVariants"][0]["ModelName"]
        model = self.records.read("models", model_name) or {}
        package_arn = next((tag["Value"] for tag in model.get("Tags", []) if tag["Key"] == MODEL_PACKAGE_TAG), None)
        since = endpoint.get("LastModifiedTime")
        return ServedModel(endpoint_name, config_name, model_name, package_arn,
                           serving_since=datetime.fromisoformat(since) if since else None)


class LocalEndpointOperator(BaseOperator):
    """Deploys an endpoint config to the local model server, blue/green, and verifies it serves it."""

    template_fields = ("config",)
    template_fields_renderers = {"config": "json"}
    ui_color = "#e3f0d8"

    def __init__(self, *, config: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config

    def execute(self, context: Any) -> dict:
        settings = get_settings()
        model, endpoint_config, endpoint = self.config["Model"], self.config["EndpointConfig"], self.config["Endpoint"]
        name, config_name = endpoint["EndpointName"], endpoint["EndpointConfigName"]
        variant = endpoint_config["ProductionVariants"][0]["VariantName"]
        model_data = LocalObjectStore(settings.data_root).path_for(model["PrimaryContainer"]["ModelDataUrl"])
        url = model_server_url(settings)
        shifting = shift_plan(endpoint, max_errors=settings.deploy.error_alarm_threshold,
                              max_latency_ms=settings.deploy.latency_alarm_milliseconds)
        self.log.info("Deploying %s to endpoint %s as %s on %s", model_data, name, config_name, url)
        if shifting:
            self.log.info("An update shifts traffic in steps %s, each baked %g s with the alarm conditions "
                          "(server errors %s, mean latency above %s ms)", shifting["green_shares"],
                          shifting["bake_seconds"], shifting["max_errors"], shifting["max_latency_ms"])
        try:
            model_server_control.deploy_model(url, name, model_data, variant=variant, config_name=config_name,
                                              capture=capture_request(settings, endpoint_config),
                                              traffic_shifting=shifting)
        except model_server_control.ModelServerError as error:
            raise EndpointRollbackError(
                f"endpoint {name} kept its previous model: deploying {model_data} as {config_name} failed "
                f"({error}); fix the model artifact and run the deployment again"
            ) from error
        description = endpoint_description(model_server_control.describe_endpoint(url, name), url)
        verify_endpoint_serves(description, config_name)
        LocalEndpointRecords(settings).record_deployment(model, endpoint_config, description)
        self.log.info("Endpoint %s serves %s at %s", name, config_name, url)
        return {"Model": model, "EndpointConfig": endpoint_config, "Endpoint": description}


class ProgressLog:
    """Logs a running execution's photo counts at most every ``every`` seconds, and the final ones."""

    def __init__(self, log: Any, name: str, every: float = 10.0) -> None:
        self.log, self.name, self.every = log, name, every
        self.last = time.monotonic()

    def __call__(self, finished: int, failed: int, total: int) -> None:
        now = time.monotonic()
        if finished == total or now - self.last >= self.every:
            self.last = now
            self.log.info("%s: classified %s/%s photos, %s failed", self.name, f"{finished:,}", f"{total:,}",
                          f"{failed:,}")


class LocalStateMachineExecutionsOperator(BaseOperator):
    """Runs named executions of the inference state machine locally, one after another; reuses finished ones."""

    template_fields = ("executions",)
    template_fields_renderers = {"executions": "json"}
    ui_color = "#f9e7a8"

    def __init__(self, *, executions: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.executions = executions

    def execute(self, context: Any) -> list[dict]:
        settings = get_settings()
        records = ExecutionRecords(local_work_root(settings) / "executions")
        outcomes: list[dict] = []
        server = None
        try:
            for position, execution in enumerate(self.executions, start=1):
                name = execution["name"]
                finished = records.get(name)
                if finished is not None:
                    self.log.info("Reusing finished execution %s (%s).", name, finished["status"])
                    outcomes.append(finished)
                    continue
                if server is None:
                    runtime_url = model_server_url(settings)
                    server, thread, s3_url = start_s3_server(settings.data_root)
                self.log.info("Starting execution %s (%d of %d)", name, position, len(self.executions))
                outcome = run_inference_execution(settings, name, execution["input"], s3_url=s3_url,
                                                  runtime_url=runtime_url, progress=ProgressLog(self.log, name))
                records.put(outcome)
                self.log.info("Execution %s ended %s %s", name, outcome["status"], outcome["error"] or "")
                outcomes.append(outcome)
        finally:
            if server is not None:
                stop_s3_server(server, thread)
        return outcomes


class LocalEndpoints:
    """:class:`~include.runtime.capabilities.EndpointDeployment` on the local model server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def endpoint_deployment(self, *, task_id: str, config: Any, **kwargs: Any) -> LocalEndpointOperator:
        return LocalEndpointOperator(task_id=task_id, config=config, **kwargs)


class LocalExecutions:
    """:class:`~include.runtime.capabilities.StateMachineExecutions` through the local interpreter."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def state_machine_executions(self, *, task_id: str, executions: Any,
                                 **kwargs: Any) -> LocalStateMachineExecutionsOperator:
        """One task running every ``{"name", "input"}`` of ``executions`` in turn."""
        return LocalStateMachineExecutionsOperator(task_id=task_id, executions=executions, **kwargs)
