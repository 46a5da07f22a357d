"""Fixtures for the Lambda handlers: fake AWS credentials, the local S3 endpoint, a SageMaker Runtime stub."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from include.runtime.local.s3_server import start_s3_server, stop_s3_server
from tests.lambdas.local_aws import BUCKET, LocalS3, SageMakerStub

HANDLER_SETTINGS = (
    "AWS_PROFILE", "AWS_SESSION_TOKEN", "ENDPOINT_NAME", "CAPTURE_S3_URI", "CONFIDENCE_THRESHOLD",
    "MAX_IMAGE_BYTES", "MAX_IMAGE_PIXELS", "INLINE_LIMIT_BYTES", "AWS_ENDPOINT_URL",
)


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in HANDLER_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def local_s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalS3]:
    root = tmp_path / "data"
    server, thread, url = start_s3_server(root)
    (root / BUCKET).mkdir()
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", url)
    try:
        yield LocalS3(url, root)
    finally:
        stop_s3_server(server, thread)


@pytest.fixture
def sagemaker_runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[SageMakerStub]:
    stub = SageMakerStub()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body are two writes: no delayed-ACK wait between them

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

        def do_POST(self) -> None:
            payload = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            stub.calls.append({"path": self.path, "content_type": self.headers.get("Content-Type"),
                               "size": len(payload)})
            status, error_type, body = stub.next_answer()
            self.send_response(status)
            if error_type:
                self.send_header("x-amzn-ErrorType", error_type)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", stub.url)
    monkeypatch.setenv("ENDPOINT_NAME", "scones-test-endpoint")
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
