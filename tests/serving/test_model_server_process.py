"""The server process: Nagle off on every connection, loopback by default, a graceful stop on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from include.runtime.local.endpoint_registry import EndpointRegistry
from include.runtime.local.model_server import QuietServer, bind_socket, server_config
from include.runtime.local.model_server_app import ModelServerApp
from include.runtime.local.model_server_control import _is_running, _read_pid, deploy_model

ENDPOINT = "scones-endpoint"


@pytest.fixture(params=["asyncio", "uvloop"])
def in_process_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[QuietServer, int]]:
    """The server's app and uvicorn settings, in a thread, on the given event loop."""
    app = ModelServerApp(EndpointRegistry(tmp_path / "state"), max_payload_bytes=1024, inference_workers=1)
    config = server_config(app.starlette())
    config.loop = request.param
    server = QuietServer(config)
    listener = bind_socket("127.0.0.1", 0)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield server, listener.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()
        app.close()


def test_every_connection_is_served_with_nagle_off(in_process_server):
    server, port = in_process_server
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(b"GET /admin/health HTTP/1.1\r\nHost: local\r\n\r\n")
        assert connection.recv(64).startswith(b"HTTP/1.1 200")
        sockets = [each.transport.get_extra_info("socket") for each in server.server_state.connections]
        assert sockets and all(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for s in sockets)


def test_server_binds_the_loopback_address_by_default(server_url, tmp_path):
    state = json.loads((tmp_path / "state" / "model_server.json").read_text())
    assert (state["host"], server_url) == ("127.0.0.1", f"http://127.0.0.1:{state['port']}")


def test_sigterm_lets_an_in_flight_request_finish_then_cleans_up(start_server, make_model_artifact, make_image,
                                                                make_runtime_client, tmp_path):
    url = start_server()
    deploy_model(url, ENDPOINT, make_model_artifact("slow", delay_seconds=1.5))
    pid = _read_pid(tmp_path / "state")
    answers: list[list[float]] = []

    def invoke() -> None:
        response = make_runtime_client(url).invoke_endpoint(EndpointName=ENDPOINT, ContentType="image/png",
                                                            Body=make_image((255, 0, 0)))
        answers.append(json.loads(response["Body"].read()))

    request = threading.Thread(target=invoke)
    request.start()
    time.sleep(0.5)  # the request is inside its 1.5 s predict_fn now
    os.kill(pid, signal.SIGTERM)
    request.join(timeout=30)
    deadline = time.monotonic() + 20
    while _is_running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert answers == [[1.0, 0.0]]
    assert not _is_running(pid)
    assert not (tmp_path / "state" / "model_server.json").exists()
