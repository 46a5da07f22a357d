"""The REST client tries a call again when Airflow refuses it for a locked SQLite database, and only then."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest

from devtools import airflow_api
from devtools.airflow_api import AirflowApiError, AirflowRestClient

LOCKED = (503, {"detail": "Database is locked. Backfill creation is not supported on SQLite under concurrent access."})


class Scripted(AirflowRestClient):
    def __init__(self, url: str) -> None:
        self.url = url


@pytest.fixture
def server() -> Iterator[tuple[str, list]]:
    answers: list[tuple[int, dict]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            status, body = answers.pop(0)
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", answers
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_a_backfill_refused_for_a_locked_database_is_tried_again(server, monkeypatch):
    monkeypatch.setattr(airflow_api.time, "sleep", lambda _: None)
    url, answers = server
    answers += [LOCKED, LOCKED, (200, {"id": 7})]
    assert Scripted(url).request("POST", "/api/v2/backfills", {"dag_id": "d"}) == {"id": 7}
    assert answers == []


def test_other_errors_and_a_lock_that_stays_are_raised(server, monkeypatch):
    monkeypatch.setattr(airflow_api.time, "sleep", lambda _: None)
    url, answers = server
    answers += [(409, {"detail": "exists"})]
    with pytest.raises(AirflowApiError, match="409"):
        Scripted(url).request("POST", "/api/v2/backfills", {"dag_id": "d"})
    answers += [LOCKED] * airflow_api.SQLITE_LOCKED_ATTEMPTS
    with pytest.raises(AirflowApiError, match="Database is locked"):
        Scripted(url).request("POST", "/api/v2/backfills", {"dag_id": "d"})
    assert answers == []
