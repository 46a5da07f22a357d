"""Local SageMaker endpoint: a real HTTP model server, run as its own process.

``python -m include.runtime.local.model_server --state-dir DIR [--port N] [--host H]`` binds
``127.0.0.1`` (``--port 0`` picks a free port), redeploys the endpoints recorded in ``DIR``, writes its
PID and URL there and serves the app of :mod:`include.runtime.local.model_server_app` with uvicorn: a
real HTTP/1.1 parser (httptools when installed), ``TCP_NODELAY`` on every connection (the response head
and body are separate writes; with Nagle on, the body would wait for the client's delayed ACK), at most
``--limit-concurrency`` connections and requests at once (503 beyond), and a graceful stop on SIGTERM or
SIGINT: the listener closes, in-flight requests finish (up to ``--graceful-seconds``), capture files are
closed and the PID and state files removed.

The pieces: :mod:`~include.runtime.local.model_handler` loads a model the SageMaker toolkit's way,
:mod:`~include.runtime.local.endpoint_registry` holds the endpoints (blue/green, Data Capture), and
:mod:`~include.runtime.local.model_server_control` starts, finds and stops this process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn

from include.runtime.local.endpoint_registry import EndpointRegistry
from include.runtime.local.model_server_app import ModelServerApp
from include.runtime.local.model_server_faults import InjectedFaults
from include.runtime.local.model_server_files import (
    DEFAULT_HOST,
    DEFAULT_MAX_PAYLOAD_BYTES,
    DEFAULT_PORT,
    LOG_FILE,
    PID_FILE,
    STATE_FILE,
    forget_process,
    record_process,
)

__all__ = ["DEFAULT_PORT", "LOG_FILE", "PID_FILE", "STATE_FILE", "QuietServer", "bind_socket", "main",
           "no_delay_protocol", "server_config"]

LOG = logging.getLogger("scones.model_server")
DEFAULT_LIMIT_CONCURRENCY = 64
DEFAULT_GRACEFUL_SECONDS = 10
KEEP_ALIVE_SECONDS = 30
"""Idle connections are kept this long (uvicorn's default is 5 s): clients reuse theirs between photos."""


def no_delay_protocol() -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools if installed, else h11) with TCP_NODELAY set on each connection.

    uvloop sets it by itself, asyncio's own loop does not: setting it here makes it hold on either.
    """
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as base
    except ImportError:
        from uvicorn.protocols.http.h11_impl import H11Protocol as base

    class NoDelayHTTPProtocol(base):  # type: ignore[misc, valid-type]
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            connection = transport.get_extra_info("socket")
            if connection is not None:
                connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().connection_made(transport)

    return NoDelayHTTPProtocol


def server_config(app: Any, *, limit_concurrency: int = DEFAULT_LIMIT_CONCURRENCY,
                  graceful_seconds: int = DEFAULT_GRACEFUL_SECONDS) -> uvicorn.Config:
    """The uvicorn settings every server of ours runs with (the benchmark's null server too)."""
    return uvicorn.Config(
        app,
        http=no_delay_protocol(),
        lifespan="off",
        log_config=None,
        access_log=False,
        server_header=False,
        limit_concurrency=limit_concurrency,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        timeout_graceful_shutdown=graceful_seconds,
    )


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (0: any free port)."""
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
        listener.listen(2048)
    except OSError:
        listener.close()
        raise
    listener.set_inheritable(True)
    return listener


class QuietServer(uvicorn.Server):
    """uvicorn's server, without re-raising the stop signal after its graceful shutdown, so the process
    can close its capture files and remove its state files before it exits."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():  # signals reach the main thread only
            yield
            return
        previous = {stop: signal.signal(stop, self.handle_exit) for stop in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for stop, handler in previous.items():
                signal.signal(stop, handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Local SageMaker-compatible model server.")
    parser.add_argument("--state-dir", type=Path, required=True, help="folder for models, log, PID and state")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to bind (0: any free port)")
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default: loopback only)")
    parser.add_argument("--workers", type=int, default=None, help="concurrent inferences (default: CPU count)")
    parser.add_argument("--limit-concurrency", type=int, default=DEFAULT_LIMIT_CONCURRENCY,
                        help="connections and requests at once; more get 503")
    parser.add_argument("--graceful-seconds", type=int, default=DEFAULT_GRACEFUL_SECONDS,
                        help="how long a stop waits for in-flight requests")
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
    listener = bind_socket(args.host, args.port)
    faults = InjectedFaults.from_environment()
    registry = EndpointRegistry(state_dir, faults=faults)
    app = ModelServerApp(registry, max_payload_bytes=args.max_payload_bytes,
                         inference_workers=args.workers or os.cpu_count() or 2, log_path=state_dir / LOG_FILE,
                         faults=faults)
    server = QuietServer(server_config(app.starlette(), limit_concurrency=args.limit_concurrency,
                                       graceful_seconds=args.graceful_seconds))
    try:
        registry.restore()
        url = record_process(state_dir, args.host, listener.getsockname()[1])
        LOG.info("serving on %s (pid %s, state %s)", url, os.getpid(), state_dir)
        server.run(sockets=[listener])
    finally:
        listener.close()
        app.close()
        registry.close()
        forget_process(state_dir)
        LOG.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
