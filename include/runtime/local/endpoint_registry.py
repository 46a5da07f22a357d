"""The endpoints one local model server hosts: deployed blue/green, captured, restored after a restart.

A deployment loads and smoke-tests the new model (:mod:`include.runtime.local.model_handler`) while the
current one keeps serving; traffic moves only when the new one answered, so a model that fails leaves the
old one in place (and its failure in the description). An update whose request carries a ``traffic_shifting``
plan then moves traffic the way SageMaker's deployment guardrails do (:mod:`include.runtime.local.traffic_shift`):
each step's share of invocations to the new model, a bake, and a rollback to the old model when the new one's
server errors or latency trip the alarm condition; a rolled-back update leaves the old config serving, with the
alarm's reason as the failure. Invocations are written as SageMaker Data Capture files when the serving model's
capture config asks for it. Each endpoint's deploy request is recorded under the
state folder, and :meth:`EndpointRegistry.restore` redeploys them when a server starts.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import shutil
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from include.runtime.local.data_capture import CaptureConfig, CaptureConfigError, CaptureWriter
from include.runtime.local.model_handler import (
    DEFAULT_CONTENT_TYPE,
    Inference,
    InvocationError,
    ModelHandler,
    ModelLoadError,
    load_model_version,
    smoke_png,
)
from include.runtime.local.model_server_faults import GREEN_TARGET, InjectedFaults
from include.runtime.local.model_server_files import write_json_atomically
from include.runtime.local.traffic_shift import GREEN, ShiftPlan, TrafficShiftingError, TrafficSplit, run_shift

LOG = logging.getLogger("scones.model_server")

DEFAULT_VARIANT = "AllTraffic"
ENDPOINT_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


class DeploymentRequestError(ValueError):
    """An admin deploy request that is malformed."""


class EndpointNotFoundError(LookupError):
    """An endpoint name the server does not host."""


@dataclass(frozen=True)
class DeploymentRequest:
    """A validated admin deploy request."""

    model_data: Path
    variant: str
    config_name: str
    capture: CaptureConfig | None
    smoke_body: bytes
    smoke_content_type: str
    raw: Mapping[str, Any]
    shift: ShiftPlan | None = None

    @classmethod
    def parse(cls, endpoint_name: str, payload: Any) -> DeploymentRequest:
        if not isinstance(payload, Mapping):
            raise DeploymentRequestError("deploy body must be a JSON object with at least 'model_data'")
        model_data = str(payload.get("model_data") or "")
        if not model_data:
            raise DeploymentRequestError("'model_data' is required: give the path of a model.tar.gz")
        if model_data.startswith("s3://"):
            raise DeploymentRequestError(
                f"model_data {model_data!r} is an S3 URI: pass the local file it maps to (DATA_ROOT/BUCKET/KEY)"
            )
        model_path = Path(model_data).expanduser().resolve()
        if not model_path.is_file():
            raise DeploymentRequestError(
                f"model_data {str(model_path)!r} is not a file: pass the path of a model.tar.gz"
            )
        capture = payload.get("capture")
        try:
            capture_config = CaptureConfig.from_request(capture) if capture else None
        except CaptureConfigError as error:
            raise DeploymentRequestError(str(error)) from error
        if capture_config is not None and capture_config.enabled:
            try:
                capture_config.destination.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise DeploymentRequestError(
                    f"capture.destination {str(capture_config.destination)!r} cannot be created ({error}): "
                    "give a writable directory"
                ) from error
        try:
            shift = ShiftPlan.from_request(payload["traffic_shifting"]) if payload.get("traffic_shifting") else None
        except TrafficShiftingError as error:
            raise DeploymentRequestError(str(error)) from error
        smoke = payload.get("smoke_test") or {}
        try:
            smoke_body = (
                base64.b64decode(smoke["body_base64"], validate=True) if "body_base64" in smoke else smoke_png()
            )
        except (TypeError, ValueError) as error:
            raise DeploymentRequestError(f"smoke_test.body_base64 is not base64: {error}") from error
        return cls(
            model_data=model_path,
            variant=str(payload.get("variant") or DEFAULT_VARIANT),
            config_name=str(payload.get("config_name") or endpoint_name),
            capture=capture_config,
            smoke_body=smoke_body,
            smoke_content_type=str(smoke.get("content_type", "image/png")),
            raw=dict(payload),
            shift=shift,
        )


@dataclass
class Shift:
    """An update shifting traffic: the new (green) model, and the split that says who serves each invocation."""

    green: Endpoint
    split: TrafficSplit


@dataclass
class Endpoint:
    """One endpoint's serving state: the deployment that currently takes traffic."""

    name: str
    request: DeploymentRequest
    handler: ModelHandler
    capture: CaptureWriter | None
    version_dir: Path
    deployed_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def describe(self, status: str = "InService", failure_reason: str | None = None) -> dict[str, Any]:
        description = {
            "endpoint_name": self.name,
            "config_name": self.request.config_name,
            "model_data": str(self.request.model_data),
            "status": status,
            "variant": self.request.variant,
            "capture": self.request.capture.as_dict() if self.request.capture else None,
            "deployed_at": self.deployed_at,
        }
        if failure_reason:
            description["failure_reason"] = failure_reason
        return description


class EndpointRegistry:
    """The endpoints one server hosts, deployed blue/green and restored after a restart."""

    def __init__(self, state_dir: Path, faults: InjectedFaults | None = None) -> None:
        self.faults = faults  # planned error answers for the new model of an update (tests and the soak only)
        self.models_root = state_dir / "models"
        self.records_root = state_dir / "endpoints"
        self._endpoints: dict[str, Endpoint] = {}
        self._pending: dict[str, str] = {}
        self._failures: dict[str, str] = {}
        self._shifts: dict[str, Shift] = {}
        self._lock = threading.Lock()
        self._deploy_lock = threading.Lock()

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._endpoints)

    def get(self, name: str) -> Endpoint:
        with self._lock:
            endpoint = self._endpoints.get(name)
        if endpoint is None:
            raise EndpointNotFoundError(f"endpoint {name!r} not found: deploy it with POST /admin/endpoints/{name}")
        return endpoint

    def only_endpoint(self) -> Endpoint:
        """The endpoint ``/invocations`` serves: the single one hosted."""
        with self._lock:
            endpoints = list(self._endpoints.values())
        if len(endpoints) != 1:
            hosted = ", ".join(sorted(endpoint.name for endpoint in endpoints)) or "none"
            raise EndpointNotFoundError(
                f"/invocations needs exactly one endpoint, hosted: {hosted}; use POST /endpoints/{{name}}/invocations"
            )
        return endpoints[0]

    def describe(self, name: str) -> dict[str, Any]:
        with self._lock:
            endpoint = self._endpoints.get(name)
            pending = self._pending.get(name)
            failure = self._failures.get(name)
            shift = self._shifts.get(name)
        if endpoint is None:
            if pending:
                return {"endpoint_name": name, "status": pending}
            raise EndpointNotFoundError(f"endpoint {name!r} not found")
        description = endpoint.describe(status=pending or "InService", failure_reason=failure)
        if shift is not None:
            description["traffic_shifting"] = {"config_name": shift.green.request.config_name,
                                               **shift.split.describe()}
        return description

    def deploy(self, name: str, payload: Any) -> dict[str, Any]:
        """Load, smoke-test and only then switch traffic to a new model; the old one serves on failure.

        An update with a ``traffic_shifting`` plan shifts traffic step by step and may roll back: the answer is
        then the endpoint still on the old config, the alarm's reason as its ``failure_reason``.
        """
        if not ENDPOINT_NAME_PATTERN.match(name):
            raise DeploymentRequestError(f"endpoint name {name!r} is invalid: use 1-63 letters, digits and hyphens")
        request = DeploymentRequest.parse(name, payload)
        with self._deploy_lock:
            with self._lock:
                self._pending[name] = "Updating" if name in self._endpoints else "Creating"
            try:
                endpoint = self._load_endpoint(name, request)
                with self._lock:
                    previous = self._endpoints.get(name)
                rolled_back = self._shift_traffic(previous, endpoint) if previous and request.shift else None
            except ModelLoadError as error:
                with self._lock:
                    self._failures[name] = str(error)
                LOG.error("deploy of %s from %s failed: %s", name, request.model_data, error)
                raise
            finally:
                with self._lock:
                    self._pending.pop(name, None)
            if rolled_back:
                with self._lock:
                    self._failures[name] = rolled_back
                self._retire(endpoint, keep=previous.version_dir)
                LOG.error("update of %s to config %s rolled back: %s", name, request.config_name, rolled_back)
                return self.describe(name)
            with self._lock:
                self._endpoints[name] = endpoint
                self._failures.pop(name, None)
            self._retire(previous, keep=endpoint.version_dir)
            self._save_record(name, request)
        LOG.info("endpoint %s serves %s (config %s)", name, request.model_data, request.config_name)
        return endpoint.describe()

    def _shift_traffic(self, blue: Endpoint, green: Endpoint) -> str | None:
        """Shift ``blue``'s traffic to ``green`` by the plan; the rollback's reason, or None once green serves all."""
        plan = green.request.shift
        if plan is None:
            raise DeploymentRequestError(f"config {green.request.config_name} has no traffic_shifting plan")
        split = TrafficSplit(plan)
        with self._lock:
            self._shifts[blue.name] = Shift(green, split)
        LOG.info("endpoint %s: shifting traffic to config %s in steps %s, baking %g s each", blue.name,
                 green.request.config_name, list(split.plan.green_shares), split.plan.bake_seconds)
        try:
            reason = run_shift(split)
        finally:
            with self._lock:
                self._shifts.pop(blue.name, None)
        return f"rolled back to config {blue.request.config_name}: {reason}" if reason else None

    def _planned_green_error(self) -> None:
        """Raise the next planned answer for the new model of an update, if a test or the soak queued one."""
        planned = self.faults.next_answer(GREEN_TARGET) if self.faults is not None else None
        if planned is not None:
            raise InvocationError(planned["status"], planned["code"],
                                  planned.get("message", f"injected {planned['code']} from the new model (planned)"))

    def delete(self, name: str) -> None:
        with self._deploy_lock, self._lock:
            endpoint = self._endpoints.pop(name, None)
            self._failures.pop(name, None)
        if endpoint is None:
            raise EndpointNotFoundError(f"endpoint {name!r} not found")
        self._retire(endpoint, keep=None)
        shutil.rmtree(self.models_root / name, ignore_errors=True)
        (self.records_root / f"{name}.json").unlink(missing_ok=True)
        LOG.info("endpoint %s deleted", name)

    def invoke(
        self,
        endpoint: Endpoint,
        body: bytes,
        content_type: str | None,
        accept: str | None,
        inference_id: str | None = None,
    ) -> Inference:
        """Serve one request and capture it if sampled (thread-safe; the caller bounds concurrency).

        While an update shifts traffic, the split decides which model answers; the new one's answers are timed
        and its server errors counted against the alarm conditions.
        """
        with self._lock:
            shift = self._shifts.get(endpoint.name)
        if shift is not None and shift.split.route() == GREEN:
            endpoint = shift.green
            started = time.perf_counter()
            try:
                self._planned_green_error()
                inference = endpoint.handler.invoke(body, content_type, accept)
            except InvocationError as error:
                shift.split.record_green((time.perf_counter() - started) * 1000, server_error=error.status >= 500)
                raise
            shift.split.record_green((time.perf_counter() - started) * 1000, server_error=False)
        else:
            inference = endpoint.handler.invoke(body, content_type, accept)
        capture = endpoint.capture
        if capture is not None and capture.should_capture():
            try:
                capture.write(
                    input_body=body,
                    input_content_type=content_type or DEFAULT_CONTENT_TYPE,
                    output_body=inference.body,
                    output_content_type=inference.content_type,
                    inference_id=inference_id,
                )
            except OSError:
                LOG.exception("data capture for endpoint %s failed", endpoint.name)
        return inference

    def restore(self) -> None:
        """Redeploy the endpoints recorded before the last stop."""
        shutil.rmtree(self.models_root, ignore_errors=True)
        for record in sorted(self.records_root.glob("*.json")):
            try:
                self.deploy(record.stem, json.loads(record.read_text()))
            except (ModelLoadError, DeploymentRequestError, json.JSONDecodeError) as error:
                LOG.error("could not restore endpoint %s from %s: %s", record.stem, record, error)

    def close(self) -> None:
        with self._lock:
            shifts = list(self._shifts.values())
            endpoints = list(self._endpoints.values())
        for shift in shifts:
            shift.split.cancel("the model server stopped during the bake")
        for endpoint in endpoints:
            if endpoint.capture is not None:
                endpoint.capture.close()

    def _load_endpoint(self, name: str, request: DeploymentRequest) -> Endpoint:
        version_dir = self.models_root / name / f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        handler = load_model_version(request.model_data, version_dir, request.smoke_body, request.smoke_content_type)
        capture = None
        if request.capture is not None:
            capture = CaptureWriter(request.capture, endpoint_name=name, variant_name=request.variant)
        return Endpoint(name=name, request=request, handler=handler, capture=capture, version_dir=version_dir)

    def _retire(self, endpoint: Endpoint | None, keep: Path | None) -> None:
        if endpoint is None:
            return
        if endpoint.capture is not None:
            endpoint.capture.close()
        if endpoint.version_dir != keep:
            shutil.rmtree(endpoint.version_dir, ignore_errors=True)

    def _save_record(self, name: str, request: DeploymentRequest) -> None:
        self.records_root.mkdir(parents=True, exist_ok=True)
        write_json_atomically(self.records_root / f"{name}.json", request.raw)
