"""Local SageMaker endpoint: a real HTTP model server that speaks SageMaker's serving contracts.

It answers the container contract (``GET /ping``, ``POST /invocations``), the SageMaker Runtime
``InvokeEndpoint`` path (``POST /endpoints/{name}/invocations``, so an ordinary boto3
``sagemaker-runtime`` client pointed at this server works) and a local admin API that deploys
``model.tar.gz`` artifacts blue/green (``/admin/endpoints/{name}``). Invocations are written as
SageMaker Data Capture files when the endpoint's capture config asks for it.

Handler code is loaded as the SageMaker PyTorch inference toolkit does: the artifact is extracted
to a version folder, its ``code/`` folder goes first on ``sys.path`` and ``inference`` is
imported; ``model_fn``/``input_fn``/``predict_fn``/``output_fn`` (or ``transform_fn``) are used.

Isolation of models in one process: two artifacts ship modules with the same names
(``inference``, ``net``, ...). Each load runs under a global import lock, with the artifact's
top-level module names removed from ``sys.modules`` before the import and removed again (with
``code/`` taken off ``sys.path``) once ``model_fn`` and a smoke prediction have run. The loaded
handler keeps references to its own module objects, so its functions resolve their siblings through
their module globals, never through ``sys.modules``. This keeps one copy of torch in memory instead
of a worker process per model; the price is that handler code must import its sibling modules at
import time (the usual style), not lazily inside a request.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import importlib
import json
import logging
import os
import re
import shutil
import signal
import struct
import sys
import tarfile
import threading
import time
import traceback
import uuid
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote

from include.runtime.local.data_capture import CaptureConfig, CaptureConfigError, CaptureWriter

LOG = logging.getLogger("scones.model_server")

DEFAULT_PORT = 8765
DEFAULT_VARIANT = "AllTraffic"
DEFAULT_ACCEPT = "application/json"
DEFAULT_CONTENT_TYPE = "application/json"
DEFAULT_MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
HANDLER_MODULE = "inference"
STATE_FILE = "model_server.json"
PID_FILE = "model_server.pid"
LOG_FILE = "model_server.log"
ENDPOINT_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_CONTENT_TYPE_WORDS = ("content type", "content-type", "media type")


class ModelLoadError(RuntimeError):
    """A model artifact that could not be extracted, imported, loaded or smoke-tested."""


class DeploymentRequestError(ValueError):
    """An admin deploy request that is malformed."""


class EndpointNotFoundError(LookupError):
    """An endpoint name the server does not host."""


@dataclass(frozen=True)
class InvocationError(Exception):
    """A failed invocation with the HTTP status the container contract answers."""

    status: int
    error_type: str
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Inference:
    """A handler's response: body bytes and their content type."""

    body: bytes
    content_type: str


# --- handler loading --------------------------------------------------------------------------

_IMPORT_LOCK = threading.Lock()


def _code_module_names(code_dir: Path) -> set[str]:
    """Top-level module names the ``code/`` folder provides (``x.py`` files and packages)."""
    names = {path.stem for path in code_dir.glob("*.py")}
    names |= {path.parent.name for path in code_dir.glob("*/__init__.py")}
    return names


@contextlib.contextmanager
def isolated_code_imports(code_dir: Path) -> Iterator[None]:
    """Make ``code_dir``'s modules importable by their plain names, then forget them again."""
    names = _code_module_names(code_dir) - set(sys.stdlib_module_names)

    def owned(module_name: str) -> bool:
        return module_name.split(".", 1)[0] in names

    with _IMPORT_LOCK:
        shadowed = {name: module for name, module in sys.modules.items() if owned(name)}
        for name in shadowed:
            del sys.modules[name]
        sys.path.insert(0, str(code_dir))
        importlib.invalidate_caches()
        try:
            yield
        finally:
            sys.path.remove(str(code_dir))
            for name in [name for name in sys.modules if owned(name)]:
                del sys.modules[name]
            sys.modules.update(shadowed)


def _default_input_fn(body: bytes, content_type: str) -> Any:
    if content_type.split(";", 1)[0].strip() == "application/json":
        return json.loads(body)
    raise InvocationError(415, "UnsupportedContentType", f"content type {content_type!r} is not supported")


def _default_output_fn(prediction: Any, accept: str) -> tuple[bytes, str]:
    if hasattr(prediction, "tolist"):
        prediction = prediction.tolist()
    return json.dumps(prediction).encode("utf-8"), "application/json"


def _client_error(error: BaseException, stage: str) -> InvocationError:
    """A handler's refusal as 4xx: its ``status_code`` if set, else 406 from output_fn (the Accept
    type), 415 when the message is about the content type, 400 otherwise."""
    status = getattr(error, "status_code", None)
    if not (isinstance(status, int) and 400 <= status < 500):
        message = str(error).lower()
        if stage == "output_fn":
            status = 406
        elif any(word in message for word in _CONTENT_TYPE_WORDS):
            status = 415
        else:
            status = 400
    return InvocationError(status, type(error).__name__, str(error))


def _server_error(error: BaseException, stage: str) -> InvocationError:
    LOG.error("%s failed:\n%s", stage, traceback.format_exc())
    return InvocationError(500, type(error).__name__, f"{stage} failed: {error!r}")


@dataclass
class ModelHandler:
    """A loaded model and the SageMaker handler functions that serve it."""

    module: ModuleType
    model: Any
    model_dir: Path

    @classmethod
    def load(cls, model_dir: Path) -> ModelHandler:
        """Import ``code/inference.py`` and call its ``model_fn`` (caller holds the import isolation)."""
        try:
            module = importlib.import_module(HANDLER_MODULE)
        except Exception as error:
            raise ModelLoadError(f"importing code/{HANDLER_MODULE}.py failed: {error!r}") from error
        model_fn = getattr(module, "model_fn", None)
        if not callable(model_fn):
            raise ModelLoadError(f"code/{HANDLER_MODULE}.py defines no model_fn(model_dir): add one")
        try:
            model = model_fn(str(model_dir))
        except Exception as error:
            raise ModelLoadError(f"model_fn({str(model_dir)!r}) raised {error!r}") from error
        return cls(module=module, model=model, model_dir=model_dir)

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> Inference:
        """Run one request through transform_fn, or input_fn → predict_fn → output_fn."""
        content_type = content_type or DEFAULT_CONTENT_TYPE
        accept = DEFAULT_ACCEPT if not accept or accept.strip() == "*/*" else accept
        transform_fn = getattr(self.module, "transform_fn", None)
        if callable(transform_fn):
            try:
                return _as_inference(transform_fn(self.model, body, content_type, accept), accept)
            except InvocationError:
                raise
            except ValueError as error:
                raise _client_error(error, "transform_fn") from error
            except Exception as error:
                raise _server_error(error, "transform_fn") from error
        input_fn = getattr(self.module, "input_fn", _default_input_fn)
        predict_fn = getattr(self.module, "predict_fn", lambda data, model: model(data))
        output_fn = getattr(self.module, "output_fn", _default_output_fn)
        try:
            data = input_fn(body, content_type)
        except InvocationError:
            raise
        except Exception as error:
            raise _client_error(error, "input_fn") from error
        try:
            prediction = predict_fn(data, self.model)
        except InvocationError:
            raise
        except Exception as error:
            raise _server_error(error, "predict_fn") from error
        try:
            return _as_inference(output_fn(prediction, accept), accept)
        except InvocationError:
            raise
        except ValueError as error:
            raise _client_error(error, "output_fn") from error
        except Exception as error:
            raise _server_error(error, "output_fn") from error


def _as_inference(result: Any, accept: str) -> Inference:
    """Accept both output_fn styles: ``(body, content_type)`` or just ``body``."""
    body, content_type = result if isinstance(result, tuple) and len(result) == 2 else (result, accept)
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not isinstance(body, bytes | bytearray | memoryview):
        raise InvocationError(
            500, "InvalidHandlerOutput", f"output_fn returned {type(body).__name__}: return bytes or str"
        )
    return Inference(body=bytes(body), content_type=str(content_type))


# --- artifacts ---------------------------------------------------------------------------------


def extract_model_artifact(model_data: Path, model_dir: Path) -> None:
    """Extract a SageMaker ``model.tar.gz`` safely (no paths outside ``model_dir``)."""
    if not model_data.is_file():
        raise ModelLoadError(f"model_data {str(model_data)!r} is not a file: pass the path of a model.tar.gz")
    model_dir.mkdir(parents=True)
    try:
        with tarfile.open(model_data, "r:*") as archive:
            archive.extractall(model_dir, filter="data")
    except (tarfile.TarError, OSError, EOFError, zlib.error) as error:
        raise ModelLoadError(
            f"model_data {str(model_data)!r} is not a readable tar.gz ({error}): re-create it with "
            "'tar -czf model.tar.gz -C MODEL_DIR .'"
        ) from error
    if not (model_dir / "code" / f"{HANDLER_MODULE}.py").is_file():
        raise ModelLoadError(
            f"model_data {str(model_data)!r} has no code/{HANDLER_MODULE}.py: package the serving "
            "handler under code/ in the archive"
        )


def smoke_png() -> bytes:
    """A 32x32 grey PNG, the default smoke-test input for an image classifier."""
    width = height = 32
    raw = b"".join(b"\x00" + b"\x80" * (width * 3) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


# --- endpoints ---------------------------------------------------------------------------------


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
        )


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

    def __init__(self, state_dir: Path, max_concurrent_inferences: int) -> None:
        self.models_root = state_dir / "models"
        self.records_root = state_dir / "endpoints"
        self._endpoints: dict[str, Endpoint] = {}
        self._pending: dict[str, str] = {}
        self._failures: dict[str, str] = {}
        self._lock = threading.Lock()
        self._deploy_lock = threading.Lock()
        self._inference_slots = threading.BoundedSemaphore(max_concurrent_inferences)

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
        if endpoint is None:
            if pending:
                return {"endpoint_name": name, "status": pending}
            raise EndpointNotFoundError(f"endpoint {name!r} not found")
        return endpoint.describe(status=pending or "InService", failure_reason=failure)

    def deploy(self, name: str, payload: Any) -> dict[str, Any]:
        """Load, smoke-test and only then switch traffic to a new model; the old one serves on failure."""
        if not ENDPOINT_NAME_PATTERN.match(name):
            raise DeploymentRequestError(f"endpoint name {name!r} is invalid: use 1-63 letters, digits and hyphens")
        request = DeploymentRequest.parse(name, payload)
        with self._deploy_lock:
            with self._lock:
                self._pending[name] = "Updating" if name in self._endpoints else "Creating"
            try:
                endpoint = self._load_endpoint(name, request)
            except ModelLoadError as error:
                with self._lock:
                    self._failures[name] = str(error)
                LOG.error("deploy of %s from %s failed: %s", name, request.model_data, error)
                raise
            finally:
                with self._lock:
                    self._pending.pop(name, None)
            with self._lock:
                previous = self._endpoints.get(name)
                self._endpoints[name] = endpoint
                self._failures.pop(name, None)
            self._retire(previous, keep=endpoint.version_dir)
            self._save_record(name, request)
        LOG.info("endpoint %s serves %s (config %s)", name, request.model_data, request.config_name)
        return endpoint.describe()

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
        """Serve one request (bounded by the inference slots) and capture it if sampled."""
        with self._inference_slots:
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
            endpoints = list(self._endpoints.values())
        for endpoint in endpoints:
            if endpoint.capture is not None:
                endpoint.capture.close()

    def _load_endpoint(self, name: str, request: DeploymentRequest) -> Endpoint:
        version_dir = self.models_root / name / f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
        try:
            extract_model_artifact(request.model_data, version_dir)
            with isolated_code_imports(version_dir / "code"):
                handler = ModelHandler.load(version_dir)
                try:
                    handler.invoke(request.smoke_body, request.smoke_content_type, DEFAULT_ACCEPT)
                except InvocationError as error:
                    raise ModelLoadError(f"smoke prediction failed ({error.status}): {error.message}") from error
        except BaseException:
            shutil.rmtree(version_dir, ignore_errors=True)
            raise
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
        _write_json_atomically(self.records_root / f"{name}.json", request.raw)


def _write_json_atomically(path: Path, document: Any) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(document, indent=2))
    os.replace(temporary, path)


# --- HTTP --------------------------------------------------------------------------------------


class ModelServer(ThreadingHTTPServer):
    """A threading HTTP server with a bounded number of connections and graceful shutdown."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        registry: EndpointRegistry,
        *,
        max_connections: int,
        max_payload_bytes: int,
        log_path: Path | None = None,
    ) -> None:
        super().__init__(address, ModelRequestHandler)
        self.registry = registry
        self.max_payload_bytes = max_payload_bytes
        self.log_path = log_path
        self._connection_slots = threading.BoundedSemaphore(max_connections)
        self._in_flight = 0
        self._in_flight_changed = threading.Condition()
        self._stopping = threading.Event()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def process_request(self, request: Any, client_address: Any) -> None:
        while not self._connection_slots.acquire(timeout=0.2):
            if self._stopping.is_set():
                self.shutdown_request(request)
                return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._connection_slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._connection_slots.release()

    @contextlib.contextmanager
    def request_in_flight(self) -> Iterator[None]:
        with self._in_flight_changed:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._in_flight_changed:
                self._in_flight -= 1
                self._in_flight_changed.notify_all()

    def begin_shutdown(self) -> None:
        """Stop accepting connections; safe to call from a signal handler while serve_forever runs."""
        self._stopping.set()
        threading.Thread(target=self.shutdown, name="shutdown", daemon=True).start()

    def close_gracefully(self, drain_seconds: float = 10.0) -> None:
        """After serve_forever returns: let in-flight requests finish, then release resources."""
        self._stopping.set()
        with self._in_flight_changed:
            self._in_flight_changed.wait_for(lambda: self._in_flight == 0, timeout=drain_seconds)
        self.registry.close()
        self.server_close()


class ModelRequestHandler(BaseHTTPRequestHandler):
    """Routes the serving, runtime and admin APIs."""

    server: ModelServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the body waits for the client's delayed ACK (~40 ms).
    disable_nagle_algorithm = True
    server_version = "SconesModelServer/1.0"
    timeout = 30

    def do_GET(self) -> None:
        with self.server.request_in_flight():
            self._route("GET")

    def do_POST(self) -> None:
        with self.server.request_in_flight():
            self._route("POST")

    def do_DELETE(self) -> None:
        with self.server.request_in_flight():
            self._route("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        LOG.debug("%s %s", self.address_string(), format % args)

    def _route(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        parts = [unquote(part) for part in path.strip("/").split("/")]
        try:
            if method == "GET" and path == "/ping":
                self._ping()
            elif method == "GET" and path == "/admin/health":
                self._send_json(200, {"status": "ok", "pid": os.getpid(), "endpoints": self.server.registry.names()})
            elif method == "POST" and path == "/invocations":
                self._container_invocation()
            elif method == "POST" and len(parts) == 3 and parts[0] == "endpoints" and parts[2] == "invocations":
                self._runtime_invocation(parts[1])
            elif parts[:2] == ["admin", "endpoints"] and len(parts) <= 3:
                self._admin(method, parts[2] if len(parts) == 3 else None)
            else:
                self._discard_body()
                self._send_json(404, {"error": "NotFound", "message": f"no route for {method} {path}"})
        except Exception as error:
            LOG.error("unhandled error on %s %s:\n%s", method, path, traceback.format_exc())
            self._send_json(500, {"error": "InternalFailure", "message": repr(error)})

    def _ping(self) -> None:
        names = self.server.registry.names()
        status = 200 if names else 503
        self._send_json(status, {"status": "Healthy" if names else "NoModel", "endpoints": names})

    def _container_invocation(self) -> None:
        body = self._read_body()
        if body is None:
            return
        try:
            endpoint = self.server.registry.only_endpoint()
        except EndpointNotFoundError as error:
            self._send_json(
                503 if not self.server.registry.names() else 400,
                {"error": "NoEndpoint", "message": str(error)},
            )
            return
        try:
            inference = self._invoke(endpoint, body)
        except InvocationError as error:
            self._send_json(error.status, {"code": error.status, "type": error.error_type, "message": error.message})
            return
        self._send(
            200,
            inference.body,
            inference.content_type,
            {"x-Amzn-Invoked-Production-Variant": endpoint.request.variant},
        )

    def _runtime_invocation(self, endpoint_name: str) -> None:
        body = self._read_body(runtime_api=True)
        if body is None:
            return
        try:
            endpoint = self.server.registry.get(endpoint_name)
        except EndpointNotFoundError:
            self._send_runtime_error(400, "ValidationError", f"Endpoint {endpoint_name} of account local not found.")
            return
        target_variant = self.headers.get("X-Amzn-SageMaker-Target-Variant")
        if target_variant and target_variant != endpoint.request.variant:
            self._send_runtime_error(
                400, "ValidationError", f"Variant {target_variant} not found on endpoint {endpoint_name}."
            )
            return
        try:
            inference = self._invoke(endpoint, body)
        except InvocationError as error:
            kind = "client" if error.status < 500 else "server"
            log_hint = f" See {self.server.log_path} for more information." if self.server.log_path else ""
            self._send_runtime_error(
                424,
                "ModelError",
                f'Received {kind} error ({error.status}) from primary with message "{error.message}".{log_hint}',
                {
                    "OriginalStatusCode": error.status,
                    "OriginalMessage": error.message,
                    "LogStreamArn": str(self.server.log_path or ""),
                },
            )
            return
        headers = {"x-Amzn-Invoked-Production-Variant": endpoint.request.variant}
        custom_attributes = self.headers.get("X-Amzn-SageMaker-Custom-Attributes")
        if custom_attributes:
            headers["X-Amzn-SageMaker-Custom-Attributes"] = custom_attributes
        self._send(200, inference.body, inference.content_type, headers)

    def _invoke(self, endpoint: Endpoint, body: bytes) -> Inference:
        return self.server.registry.invoke(
            endpoint,
            body,
            self.headers.get("Content-Type"),
            self.headers.get("Accept"),
            inference_id=self.headers.get("X-Amzn-SageMaker-Inference-Id"),
        )

    def _admin(self, method: str, name: str | None) -> None:
        registry = self.server.registry
        if name is None:
            self._discard_body()
            if method != "GET":
                self._send_json(405, {"error": "MethodNotAllowed", "message": "use GET /admin/endpoints"})
                return
            self._send_json(200, {"endpoints": [registry.describe(each) for each in registry.names()]})
            return
        if method == "POST":
            body = self._read_body()
            if body is None:
                return
            try:
                self._send_json(200, registry.deploy(name, json.loads(body or b"null")))
            except (DeploymentRequestError, json.JSONDecodeError) as error:
                self._send_json(400, {"error": "InvalidDeployment", "message": str(error)})
            except ModelLoadError as error:
                serving = "the previous model keeps serving" if name in registry.names() else "nothing deployed"
                self._send_json(409, {"error": "ModelLoadFailed", "message": f"{error} ({serving})"})
            return
        self._discard_body()
        try:
            if method == "GET":
                self._send_json(200, registry.describe(name))
            elif method == "DELETE":
                registry.delete(name)
                self._send_json(200, {"endpoint_name": name, "status": "Deleted"})
            else:
                self._send_json(405, {"error": "MethodNotAllowed", "message": f"{method} is not supported"})
        except EndpointNotFoundError as error:
            self._send_json(404, {"error": "EndpointNotFound", "message": str(error)})

    def _read_body(self, runtime_api: bool = False) -> bytes | None:
        """The request body, or None after answering 411/413."""
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                self.close_connection = True
                self._send_json(411, {"error": "LengthRequired", "message": "send Content-Length, not chunked"})
                return None
            return b""
        length = int(length_header)
        limit = self.server.max_payload_bytes
        if length > limit:
            self._discard_body(length)
            message = f"Request payload of {length} bytes exceeds the {limit}-byte limit: send a smaller body"
            if runtime_api:
                self._send_runtime_error(413, "ValidationError", message)
            else:
                self._send_json(413, {"error": "PayloadTooLarge", "message": message})
            return None
        return self.rfile.read(length)

    def _discard_body(self, length: int | None = None) -> None:
        remaining = length if length is not None else int(self.headers.get("Content-Length") or 0)
        if remaining > 4 * self.server.max_payload_bytes:
            self.close_connection = True
            return
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1 << 16))
            if not chunk:
                break
            remaining -= len(chunk)

    def _send_runtime_error(self, status: int, code: str, message: str, extra: Mapping[str, Any] | None = None) -> None:
        document = {"__type": code, "message": message, **(extra or {})}
        self._send(status, json.dumps(document).encode(), "application/json", {"x-amzn-ErrorType": code})

    def _send_json(self, status: int, document: Any) -> None:
        self._send(status, json.dumps(document).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str, headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


# --- process entry -----------------------------------------------------------------------------


def build_server(
    state_dir: Path,
    port: int,
    *,
    host: str = "127.0.0.1",
    max_connections: int = 64,
    max_concurrent_inferences: int | None = None,
    max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES,
) -> ModelServer:
    """Bind a server and restore the endpoints recorded under ``state_dir``."""
    state_dir.mkdir(parents=True, exist_ok=True)
    registry = EndpointRegistry(state_dir, max_concurrent_inferences or os.cpu_count() or 2)
    server = ModelServer(
        (host, port),
        registry,
        max_connections=max_connections,
        max_payload_bytes=max_payload_bytes,
        log_path=state_dir / LOG_FILE,
    )
    registry.restore()
    return server


def _record_process(state_dir: Path, server: ModelServer) -> None:
    (state_dir / PID_FILE).write_text(f"{os.getpid()}\n")
    host, port = server.server_address[:2]
    _write_json_atomically(
        state_dir / STATE_FILE,
        {
            "pid": os.getpid(),
            "host": host,
            "port": port,
            "url": server.url,
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    )


def _forget_process(state_dir: Path) -> None:
    for name in (STATE_FILE, PID_FILE):
        path = state_dir / name
        with contextlib.suppress(OSError, ValueError):
            text = path.read_text()
            pid = json.loads(text)["pid"] if name == STATE_FILE else int(text)
            if pid == os.getpid():
                path.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Local SageMaker-compatible model server.")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to bind on 127.0.0.1 (0: any free)")
    parser.add_argument("--state-dir", type=Path, required=True, help="folder for models, log, PID and state")
    parser.add_argument("--max-connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=None, help="concurrent inferences (default: CPU count)")
    parser.add_argument("--max-payload-bytes", type=int, default=DEFAULT_MAX_PAYLOAD_BYTES)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    state_dir = args.state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=state_dir / LOG_FILE,
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s",
    )
    server = build_server(
        state_dir,
        args.port,
        max_connections=args.max_connections,
        max_concurrent_inferences=args.workers,
        max_payload_bytes=args.max_payload_bytes,
    )

    def request_stop(signum: int, _frame: Any) -> None:
        LOG.info("signal %s received: stopping", signum)
        server.begin_shutdown()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    _record_process(state_dir, server)
    LOG.info("serving on %s (pid %s, state %s)", server.url, os.getpid(), state_dir)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.close_gracefully()
        _forget_process(state_dir)
        LOG.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
