"""The local model server's HTTP app (Starlette): SageMaker's serving contracts and the admin API.

- ``GET /ping``, ``POST /invocations``: the container contract (``/invocations`` serves the one hosted
  endpoint); handler refusals come back with their 4xx, in the container's JSON shape.
- ``POST /endpoints/{name}/invocations``: the SageMaker Runtime ``InvokeEndpoint`` path, so a boto3
  ``sagemaker-runtime`` client pointed here works; errors in its shape (``ValidationError``, and
  ``ModelError`` 424 carrying the container's ``OriginalStatusCode``).
- ``GET /admin/health``, ``GET /admin/endpoints``, ``GET|POST|DELETE /admin/endpoints/{name}``: describe,
  deploy blue/green, delete.
- Planned error answers for tests and the soak (:mod:`~include.runtime.local.model_server_faults`), only in a
  server started with ``SCONES_MODEL_SERVER_FAULTS`` set.

A request body is judged by its headers before it is read: no ``Content-Length`` (400) or a chunked body
(411, connection closed) are refused at once; more than the payload limit is a 413, once the body has been
read past (clients send all of it before they read); to a client waiting on ``Expect: 100-continue``, or
beyond 4x the limit, the 413 goes out at once and the connection closes. A negative or non-numeric
``Content-Length`` never reaches the app: uvicorn's parser answers 400 and closes the connection.

Inference runs on a pool of as many threads as the machine has cores, off the event loop; deployments
run on Starlette's thread pool, so traffic keeps flowing during a blue/green swap.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import queue
import threading
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from include.runtime.local.endpoint_registry import (
    DeploymentRequestError,
    Endpoint,
    EndpointNotFoundError,
    EndpointRegistry,
)
from include.runtime.local.model_handler import Inference, InvocationError, ModelLoadError
from include.runtime.local.model_server_faults import InjectedFaults

LOG = logging.getLogger("scones.model_server")
JSON = "application/json"
DISCARD_LIMIT_FACTOR = 4
"""Refused bodies up to this many times the payload limit are read and dropped before the 413 goes out
(clients send the whole body before reading, and would otherwise see a reset); larger ones are answered at
once and the connection closed."""


class BodyRefused(Exception):
    """A request body refused from its headers: the HTTP status, an error code and the fix."""

    def __init__(self, status: int, code: str, message: str, *, close: bool = False) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.close = status, code, message, close


def json_response(status: int, document: Any, headers: Mapping[str, str] | None = None) -> Response:
    body = json.dumps(document, separators=(",", ":")).encode()
    return Response(body, status, {"x-amzn-RequestId": str(uuid.uuid4()), **(headers or {})}, JSON)


def runtime_error(status: int, code: str, message: str, **extra: Any) -> Response:
    """An error in the SageMaker Runtime API's shape: ``__type`` in the body, ``x-amzn-ErrorType`` header."""
    return json_response(status, {"__type": code, "message": message, **extra}, {"x-amzn-ErrorType": code})


def declared_length(request: Request, max_payload_bytes: int) -> int:
    """The body's declared size, or :class:`BodyRefused` when it is missing, chunked or over the limit."""
    if "chunked" in request.headers.get("transfer-encoding", "").lower():
        raise BodyRefused(411, "LengthRequired", "send the body with a Content-Length, not chunked", close=True)
    header = request.headers.get("content-length")
    if header is None:
        raise BodyRefused(400, "MissingContentLength", "send the body with a Content-Length header")
    try:
        length = int(header)
    except ValueError:
        raise BodyRefused(400, "InvalidContentLength", f"Content-Length {header!r} is not a number") from None
    if length < 0:
        raise BodyRefused(400, "InvalidContentLength", f"Content-Length {header!r} is negative")
    if length > max_payload_bytes:
        waiting_to_send = request.headers.get("expect", "").lower() == "100-continue"
        raise BodyRefused(
            413, "PayloadTooLarge",
            f"Request payload of {length} bytes exceeds the {max_payload_bytes}-byte limit: send a smaller body",
            close=waiting_to_send or length > DISCARD_LIMIT_FACTOR * max_payload_bytes,
        )
    return length


async def drain(request: Request) -> None:
    """Read and drop a refused body, so a client that sends it all before reading gets the answer."""
    with contextlib.suppress(ClientDisconnect):
        async for _ in request.stream():
            pass


class InferencePool:
    """A few worker threads that run blocking calls for the event loop.

    Lighter than ``loop.run_in_executor``: a worker resolves an asyncio future directly with one
    ``call_soon_threadsafe``, without concurrent.futures' locks and callbacks in between, which saves a
    measurable part of a millisecond per request on a busy machine.
    """

    def __init__(self, workers: int) -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"inference-{index}", daemon=True)
                         for index in range(workers)]
        for thread in self._threads:
            thread.start()

    async def run(self, call: Callable[[], Any]) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._jobs.put((call, loop, future))
        return await future

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join(timeout=30)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            call, loop, future = job
            try:
                outcome: tuple[Any, BaseException | None] = (call(), None)
            except BaseException as error:  # handed to the awaiting request
                outcome = (None, error)
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody is waiting
                loop.call_soon_threadsafe(_resolve, future, *outcome)


def _resolve(future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if future.done():  # the request was cancelled (client gone)
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class ModelServerApp:
    """The routes of one server, bound to its endpoint registry."""

    def __init__(
        self,
        registry: EndpointRegistry,
        *,
        max_payload_bytes: int,
        inference_workers: int,
        log_path: Path | None = None,
        faults: InjectedFaults | None = None,
    ) -> None:
        self.registry = registry
        self.faults = faults  # planned error answers (tests and the soak only; None unless asked for)
        self.max_payload_bytes = max_payload_bytes
        self.log_path = log_path
        self.inference_pool = InferencePool(inference_workers)

    def starlette(self) -> Starlette:
        routes = [
            Route("/ping", self.ping, methods=["GET"]),
            Route("/invocations", self.container_invocation, methods=["POST"]),
            Route("/endpoints/{name}/invocations", self.runtime_invocation, methods=["POST"]),
            Route("/admin/health", self.health, methods=["GET"]),
            Route("/admin/endpoints", self.list_endpoints, methods=["GET"]),
            Route("/admin/endpoints/{name}", self.admin_endpoint, methods=["GET", "POST", "DELETE"]),
        ]
        handlers = {HTTPException: self.http_error, Exception: self.internal_error}
        return Starlette(routes=routes, exception_handlers=handlers)

    def close(self) -> None:
        self.inference_pool.close()

    # --- the container and runtime contracts ---------------------------------------------------

    async def ping(self, request: Request) -> Response:
        names = self.registry.names()
        return json_response(200 if names else 503, {"status": "Healthy" if names else "NoModel", "endpoints": names})

    async def container_invocation(self, request: Request) -> Response:
        try:
            body = await self.read_body(request)
        except BodyRefused as refused:
            return self.refusal(refused, json_response(refused.status, {"error": refused.code,
                                                                        "message": refused.message}))
        try:
            endpoint = self.registry.only_endpoint()
        except EndpointNotFoundError as error:
            return json_response(503 if not self.registry.names() else 400,
                                 {"error": "NoEndpoint", "message": str(error)})
        try:
            inference = await self.invoke(endpoint, body, request)
        except InvocationError as error:
            return json_response(error.status, {"code": error.status, "type": error.error_type,
                                                "message": error.message})
        return self.inference_response(endpoint, inference, {})

    async def runtime_invocation(self, request: Request) -> Response:
        name = request.path_params["name"]
        try:
            body = await self.read_body(request)
        except BodyRefused as refused:
            return self.refusal(refused, runtime_error(refused.status, "ValidationError", refused.message))
        try:
            endpoint = self.registry.get(name)
        except EndpointNotFoundError:
            return runtime_error(400, "ValidationError", f"Endpoint {name} of account local not found.")
        target_variant = request.headers.get("x-amzn-sagemaker-target-variant")
        if target_variant and target_variant != endpoint.request.variant:
            return runtime_error(400, "ValidationError", f"Variant {target_variant} not found on endpoint {name}.")
        planned = self.faults.next_answer() if self.faults is not None else None
        if planned is not None:
            return runtime_error(planned["status"], planned["code"],
                                 planned.get("message", f"injected {planned['code']} (planned by a test)"))
        try:
            inference = await self.invoke(endpoint, body, request)
        except InvocationError as error:
            kind = "client" if error.status < 500 else "server"
            log_hint = f" See {self.log_path} for more information." if self.log_path else ""
            return runtime_error(
                424, "ModelError",
                f'Received {kind} error ({error.status}) from primary with message "{error.message}".{log_hint}',
                OriginalStatusCode=error.status, OriginalMessage=error.message, LogStreamArn=str(self.log_path or ""),
            )
        custom_attributes = request.headers.get("x-amzn-sagemaker-custom-attributes")
        extra = {"X-Amzn-SageMaker-Custom-Attributes": custom_attributes} if custom_attributes else {}
        return self.inference_response(endpoint, inference, extra)

    async def read_body(self, request: Request) -> bytes:
        try:
            declared_length(request, self.max_payload_bytes)
            return await request.body()
        except BodyRefused as refused:
            if not refused.close:
                await drain(request)
            raise
        except ClientDisconnect:
            raise BodyRefused(400, "ClientDisconnected", "the client closed the connection mid-body") from None

    async def invoke(self, endpoint: Endpoint, body: bytes, request: Request) -> Inference:
        headers = request.headers
        call = functools.partial(self.registry.invoke, endpoint, body, headers.get("content-type"),
                                 headers.get("accept"), inference_id=headers.get("x-amzn-sagemaker-inference-id"))
        return await self.inference_pool.run(call)

    @staticmethod
    def inference_response(endpoint: Endpoint, inference: Inference, extra: Mapping[str, str]) -> Response:
        headers = {"x-amzn-RequestId": str(uuid.uuid4()),
                   "x-Amzn-Invoked-Production-Variant": endpoint.request.variant, **extra}
        return Response(inference.body, 200, headers, inference.content_type)

    @staticmethod
    def refusal(refused: BodyRefused, response: Response) -> Response:
        if refused.close:
            response.headers["connection"] = "close"
        return response

    # --- admin ---------------------------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        return json_response(200, {"status": "ok", "pid": os.getpid(), "endpoints": self.registry.names()})

    async def list_endpoints(self, request: Request) -> Response:
        return json_response(200, {"endpoints": [self.registry.describe(name) for name in self.registry.names()]})

    async def admin_endpoint(self, request: Request) -> Response:
        name = request.path_params["name"]
        if request.method == "POST":
            return await self.deploy(name, request)
        try:
            if request.method == "GET":
                return json_response(200, self.registry.describe(name))
            await run_in_threadpool(self.registry.delete, name)
            return json_response(200, {"endpoint_name": name, "status": "Deleted"})
        except EndpointNotFoundError as error:
            return json_response(404, {"error": "EndpointNotFound", "message": str(error)})

    async def deploy(self, name: str, request: Request) -> Response:
        try:
            payload = json.loads(await self.read_body(request) or b"null")
            return json_response(200, await run_in_threadpool(self.registry.deploy, name, payload))
        except BodyRefused as refused:
            return self.refusal(refused, json_response(refused.status, {"error": refused.code,
                                                                        "message": refused.message}))
        except (DeploymentRequestError, json.JSONDecodeError) as error:
            return json_response(400, {"error": "InvalidDeployment", "message": str(error)})
        except ModelLoadError as error:
            serving = "the previous model keeps serving" if name in self.registry.names() else "nothing deployed"
            return json_response(409, {"error": "ModelLoadFailed", "message": f"{error} ({serving})"})

    # --- errors --------------------------------------------------------------------------------

    async def http_error(self, request: Request, error: Exception) -> Response:
        status = error.status_code if isinstance(error, HTTPException) else 500
        code = {404: "NotFound", 405: "MethodNotAllowed"}.get(status, "HTTPError")
        message = f"no route for {request.method} {request.url.path}" if status in (404, 405) else str(error)
        return json_response(status, {"error": code, "message": message})

    async def internal_error(self, request: Request, error: Exception) -> Response:
        LOG.error("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
        return json_response(500, {"error": "InternalFailure", "message": repr(error)})
