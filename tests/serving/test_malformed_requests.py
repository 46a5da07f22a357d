"""Malformed and hostile HTTP requests get SageMaker's status codes at once, over raw sockets.

Each answer is read with a 10 s socket timeout: the bound only keeps a broken server from hanging the
suite (the previous server held a ``Content-Length: -1`` connection for 30 s); the benchmark measures how
fast the answers really are.
"""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import pytest

ENDPOINT = "scones-endpoint"
LIMIT = 6 * 1024 * 1024
ANSWER_TIMEOUT = 10.0


def connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    connection = socket.create_connection((parts.hostname, parts.port), timeout=ANSWER_TIMEOUT)
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def read_response(connection: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP response: status, lower-cased headers, body (by Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)}
    while len(body) < int(headers.get("content-length", 0)):
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(status_line.split()[1]), headers, body


def exchange(url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with connect(url) as connection:
        connection.sendall(request)
        return read_response(connection)


def post_head(path: str, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: local", "Content-Type: image/png", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.mark.parametrize("length", ["-1", "abc", "12abc", "99999999999999999999999999"])
@pytest.mark.parametrize("path", ["/invocations", f"/endpoints/{ENDPOINT}/invocations"])
def test_garbage_or_negative_content_length_is_a_400_at_once(shared_deployed_url, path: str, length: str):
    status, _, _ = exchange(shared_deployed_url, post_head(path, f"Content-Length: {length}"))
    assert status == 400


def test_post_without_content_length_is_a_400_naming_the_header(shared_deployed_url):
    status, _, body = exchange(shared_deployed_url, post_head("/invocations"))
    assert (status, json.loads(body)["error"]) == (400, "MissingContentLength")


def test_runtime_api_without_content_length_is_a_validation_error(shared_deployed_url):
    status, headers, body = exchange(shared_deployed_url, post_head(f"/endpoints/{ENDPOINT}/invocations"))
    assert (status, headers["x-amzn-errortype"], json.loads(body)["__type"]) == (400, "ValidationError",
                                                                                "ValidationError")


def test_chunked_body_is_refused_with_411(shared_deployed_url):
    status, headers, _ = exchange(shared_deployed_url, post_head("/invocations", "Transfer-Encoding: chunked"))
    assert (status, headers.get("connection")) == (411, "close")


def test_oversize_declared_body_is_a_413_before_it_is_sent(shared_deployed_url):
    request = post_head(f"/endpoints/{ENDPOINT}/invocations", f"Content-Length: {LIMIT + 1}",
                        "Expect: 100-continue")
    status, headers, body = exchange(shared_deployed_url, request)
    assert (status, headers["x-amzn-errortype"]) == (413, "ValidationError")
    assert f"{LIMIT}-byte limit" in json.loads(body)["message"]


def test_connection_serves_the_next_request_after_a_413(shared_deployed_url, make_image):
    photo = make_image((255, 0, 0))
    with connect(shared_deployed_url) as connection:
        connection.sendall(post_head("/invocations", f"Content-Length: {LIMIT + 1}") + b"\0" * (LIMIT + 1))
        first, _, _ = read_response(connection)
        connection.sendall(post_head("/invocations", f"Content-Length: {len(photo)}") + photo)
        second, _, body = read_response(connection)
    assert (first, second, json.loads(body)) == (413, 200, [1.0, 0.0])


def test_a_client_that_never_sends_its_body_blocks_nobody(shared_deployed_url, make_image):
    photo = make_image((0, 0, 255))
    with connect(shared_deployed_url) as stalled:
        stalled.sendall(post_head("/invocations", "Content-Length: 1000"))
        status, _, body = exchange(shared_deployed_url,
                                   post_head("/invocations", f"Content-Length: {len(photo)}") + photo)
    assert (status, json.loads(body)) == (200, [0.0, 1.0])


def test_wrong_content_type_is_a_415_from_the_container(shared_deployed_url):
    status, _, body = exchange(shared_deployed_url, b"POST /invocations HTTP/1.1\r\nHost: local\r\n"
                                                    b"Content-Type: text/csv\r\nContent-Length: 3\r\n\r\na,b")
    assert (status, json.loads(body)["code"]) == (415, 415)


def test_unknown_route_is_a_json_404(shared_deployed_url):
    status, _, body = exchange(shared_deployed_url, b"GET /nowhere HTTP/1.1\r\nHost: local\r\n\r\n")
    assert (status, json.loads(body)["error"]) == (404, "NotFound")


def test_wrong_method_is_a_json_405(shared_deployed_url):
    status, _, body = exchange(shared_deployed_url, b"DELETE /ping HTTP/1.1\r\nHost: local\r\n\r\n")
    assert (status, json.loads(body)["error"]) == (405, "MethodNotAllowed")
