"""Record every AWS request a process sends, and let a scenario answer or amend chosen ones.

:func:`install` patches ``botocore.session.Session.__init__`` so that every session created
afterwards (boto3's, the Airflow hooks', and aiobotocore's ``AioSession``, which subclasses
it) registers the recorder's handlers on its own event system:

- ``before-parameter-build``: records ``(service, operation, params, transport)`` with the
  API parameters exactly as the caller passed them;
- ``before-call``: a registered responder may return a canned response, which botocore and
  aiobotocore both use instead of sending the HTTP request;
- ``after-call``: a registered amender may change the parsed response in place.
"""

from __future__ import annotations

import base64
import datetime
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import botocore.session
from botocore.awsrequest import AWSResponse

Responder = Callable[[dict[str, Any]], dict[str, Any] | None]
Amender = Callable[[dict[str, Any], dict[str, Any], str], None]
Observer = Callable[[dict[str, Any], str], None]

_API_PARAMS = "scones_recorded_api_params"
_TRANSPORT = "scones_recorded_transport"


def json_safe(value: Any) -> Any:
    """A JSON-serialisable copy of request parameters: bytes and streams become short descriptions."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return {"bytes": len(value), "head_b64": base64.b64encode(bytes(value[:32])).decode()}
    return {"object": type(value).__name__}


@dataclass
class RequestRecorder:
    """The requests this process sent, in order, plus the scenario's responders and amenders."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    _responders: dict[tuple[str, str], list[Responder]] = field(default_factory=dict)
    _amenders: dict[tuple[str, str], list[Amender]] = field(default_factory=dict)
    _observers: dict[tuple[str, str], list[Observer]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _local: threading.local = field(default_factory=threading.local)

    def respond(self, service: str, operation: str, responder: Responder) -> None:
        """``responder(params)`` returning a dict answers the call instead of the server."""
        self._responders.setdefault((service, operation), []).append(responder)

    def amend(self, service: str, operation: str, amender: Amender) -> None:
        """``amender(params, parsed_response, transport)`` may change the server's answer in place."""
        self._amenders.setdefault((service, operation), []).append(amender)

    def observe(self, service: str, operation: str, observer: Observer) -> None:
        """``observer(params, transport)`` runs before the request is sent (for side effects)."""
        self._observers.setdefault((service, operation), []).append(observer)

    @contextmanager
    def unrecorded(self) -> Iterator[None]:
        """Sessions created inside this block are not recorded (the scenario's own clients)."""
        self._local.off = True
        try:
            yield
        finally:
            self._local.off = False

    def client(self, service: str) -> Any:
        """An unrecorded boto3 client for the scenario's own reads and writes."""
        import boto3

        with self.unrecorded():
            return boto3.session.Session().client(service)

    def attach(self, session: botocore.session.Session) -> None:
        if getattr(self._local, "off", False):
            return
        transport = "aiobotocore" if type(session).__module__.startswith("aiobotocore") else "botocore"
        session.register("before-parameter-build", self._make_recording_handler(transport))
        session.register("before-call", self._before_call)
        session.register("after-call", self._after_call)

    def _make_recording_handler(self, transport: str) -> Callable[..., None]:
        def record(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
            key = (model.service_model.service_name, model.name)
            context[_API_PARAMS] = params
            context[_TRANSPORT] = transport
            with self._lock:
                self.requests.append({"service": key[0], "operation": key[1], "transport": transport,
                                      "params": json_safe(params)})
            for observer in self._observers.get(key, []):
                observer(params, transport)

        return record

    def _before_call(self, model: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict] | None:
        key = (model.service_model.service_name, model.name)
        for responder in self._responders.get(key, []):
            parsed = responder(context.get(_API_PARAMS, {}))
            if parsed is not None:
                parsed.setdefault("ResponseMetadata", {"HTTPStatusCode": 200, "HTTPHeaders": {}, "RetryAttempts": 0})
                return AWSResponse("http://canned.invalid/", 200, {}, None), parsed
        return None

    def _after_call(self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        key = (model.service_model.service_name, model.name)
        for amender in self._amenders.get(key, []):
            amender(context.get(_API_PARAMS, {}), parsed, context.get(_TRANSPORT, "botocore"))


def install(recorder: RequestRecorder) -> None:
    """Attach ``recorder`` to every botocore (and aiobotocore) session created from now on."""
    original_init = botocore.session.Session.__init__

    def init_and_attach(self: botocore.session.Session, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        recorder.attach(self)

    botocore.session.Session.__init__ = init_and_attach  # type: ignore[method-assign]
