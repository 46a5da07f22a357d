"""Start, stop and inspect the detached local model server, and call its admin API.

The server runs in its own session (``start_new_session=True``) so it outlives the Airflow task
that started it and serves between DAG runs. ``DIR/model_server.pid`` and ``DIR/model_server.json``
(pid, port, url, written by the server once bound) say where it is; ``ensure_server`` reuses a live
one, or starts one and waits for ``GET /admin/health``. A lock file serialises concurrent starts.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from include.runtime.local.model_server_files import DEFAULT_PORT, LOG_FILE, PID_FILE, STATE_FILE

PROJECT_ROOT = Path(__file__).resolve().parents[3]
SERVER_MODULE = "include.runtime.local.model_server"
LOCK_FILE = "model_server.lock"


class ModelServerError(RuntimeError):
    """The model server could not be started, stopped or asked to do something."""


def _read_pid(state_dir: Path) -> int | None:
    try:
        return int((state_dir / PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


def _read_state(state_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((state_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None


def _is_running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (reaping it if it is our exited child)."""
    with contextlib.suppress(ChildProcessError):
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" not in status


def _is_model_server(pid: int) -> bool:
    """Guard against a recycled PID: the process's command line must be our server's."""
    try:
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return _is_running(pid)
    return SERVER_MODULE.encode() in command_line


def _health(url: str, timeout: float = 2.0) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"{url}/admin/health", timeout=timeout) as response:
            return json.loads(response.read()) if response.status == 200 else None
    except (OSError, ValueError):
        return None


def _log_tail(state_dir: Path, lines: int = 30) -> str:
    try:
        return "\n".join((state_dir / LOG_FILE).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log written)"


@contextlib.contextmanager
def _start_lock(state_dir: Path) -> Iterator[None]:
    with open(state_dir / LOCK_FILE, "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def running_server_url(state_dir: Path | str) -> str | None:
    """The URL of the live server recorded in ``state_dir``, or None."""
    state_dir = Path(state_dir)
    pid, state = _read_pid(state_dir), _read_state(state_dir)
    if pid is None or state is None or state.get("pid") != pid or not _is_running(pid):
        return None
    health = _health(state["url"])
    return state["url"] if health and health.get("pid") == pid else None


def ensure_server(state_dir: Path | str, port: int = DEFAULT_PORT, timeout: float = 30.0) -> str:
    """Return the URL of a healthy server for ``state_dir``, starting a detached one if needed."""
    state_dir = Path(state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    with _start_lock(state_dir):
        url = running_server_url(state_dir)
        if url is not None:
            running_port = int(url.rsplit(":", 1)[1])
            if port and running_port != port:
                raise ModelServerError(
                    f"a model server for {state_dir} already runs on port {running_port}, not {port}: "
                    f"use {url} or stop it first (model_server_control stop --state-dir {state_dir})"
                )
            return url
        return _start_server(state_dir, port, timeout)


def _start_server(state_dir: Path, port: int, timeout: float) -> str:
    (state_dir / STATE_FILE).unlink(missing_ok=True)
    environment = dict(os.environ)
    python_path = [str(PROJECT_ROOT), environment.get("PYTHONPATH", "")]
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, python_path))
    command = [sys.executable, "-m", SERVER_MODULE, "--port", str(port), "--state-dir", str(state_dir)]
    with open(state_dir / LOG_FILE, "ab") as log:
        process = subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    (state_dir / PID_FILE).write_text(f"{process.pid}\n")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ModelServerError(
                f"model server exited with code {process.returncode} while starting; "
                f"log {state_dir / LOG_FILE} ends with:\n{_log_tail(state_dir)}"
            )
        state = _read_state(state_dir)
        if state and state.get("pid") == process.pid:
            health = _health(state["url"])
            if health and health.get("pid") == process.pid:
                return state["url"]
        time.sleep(0.1)
    _terminate(process.pid, grace_seconds=5.0)
    (state_dir / PID_FILE).unlink(missing_ok=True)
    raise ModelServerError(
        f"model server did not become healthy within {timeout:.0f} s (is port {port} taken?); "
        f"log {state_dir / LOG_FILE} ends with:\n{_log_tail(state_dir)}"
    )


def _terminate(pid: int, grace_seconds: float) -> None:
    """SIGTERM, then SIGKILL if the process outlives ``grace_seconds``."""
    for stop_signal, wait_seconds in ((signal.SIGTERM, grace_seconds), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, stop_signal)
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            if not _is_running(pid):
                return
            time.sleep(0.05)
    raise ModelServerError(f"model server pid {pid} survived SIGKILL: check it with 'ps -p {pid}'")


def stop_server(state_dir: Path | str, grace_seconds: float = 15.0) -> bool:
    """Stop the recorded server by PID; True if one was running. Safe to call when none is."""
    state_dir = Path(state_dir).resolve()
    pid = _read_pid(state_dir)
    stopped = False
    if pid is not None and _is_running(pid) and _is_model_server(pid):
        _terminate(pid, grace_seconds)
        stopped = True
    for name in (PID_FILE, STATE_FILE):
        (state_dir / name).unlink(missing_ok=True)
    return stopped


def server_status(state_dir: Path | str) -> dict[str, Any]:
    """Whether the recorded server runs, with its pid, url and endpoints."""
    state_dir = Path(state_dir).resolve()
    url = running_server_url(state_dir)
    if url is None:
        return {"running": False, "state_dir": str(state_dir), "pid": _read_pid(state_dir)}
    health = _health(url) or {}
    return {
        "running": True,
        "state_dir": str(state_dir),
        "pid": health.get("pid"),
        "url": url,
        "endpoints": health.get("endpoints", []),
    }


def _admin_request(
    method: str, url: str, document: Mapping[str, Any] | None = None, timeout: float = 300.0
) -> dict[str, Any]:
    data = json.dumps(document).encode() if document is not None else None
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        try:
            message = json.loads(error.read()).get("message", "")
        except ValueError:
            message = ""
        raise ModelServerError(f"{method} {url} failed with HTTP {error.code}: {message}") from error
    except urllib.error.URLError as error:
        raise ModelServerError(
            f"{method} {url} failed: {error.reason}; start the server with model_server_control start"
        ) from error


def _endpoint_url(url: str, endpoint_name: str) -> str:
    return f"{url.rstrip('/')}/admin/endpoints/{quote(endpoint_name, safe='')}"


def deploy_model(
    url: str,
    endpoint_name: str,
    model_data: Path | str,
    *,
    variant: str = "AllTraffic",
    config_name: str | None = None,
    capture: Mapping[str, Any] | None = None,
    traffic_shifting: Mapping[str, Any] | None = None,
    timeout: float = 300.0,
) -> dict[str, Any]:
    """Deploy ``model_data`` blue/green to ``endpoint_name``; returns the endpoint's description.

    Local paths are resolved here, so they mean what they mean in the caller's working directory. With a
    ``traffic_shifting`` plan (:func:`include.runtime.local.traffic_shift.shift_plan`) an update answers once
    every step has baked or the update rolled back, so the wait covers the bakes on top of ``timeout``.
    """
    document: dict[str, Any] = {"model_data": str(Path(model_data).resolve()), "variant": variant}
    if config_name:
        document["config_name"] = config_name
    if traffic_shifting:
        document["traffic_shifting"] = dict(traffic_shifting)
        timeout += len(traffic_shifting["green_shares"]) * float(traffic_shifting["bake_seconds"])
    if capture:
        document["capture"] = dict(capture)
        if capture.get("destination") and not str(capture["destination"]).startswith("s3://"):
            document["capture"]["destination"] = str(Path(capture["destination"]).resolve())
    return _admin_request("POST", _endpoint_url(url, endpoint_name), document, timeout)


def describe_endpoint(url: str, endpoint_name: str) -> dict[str, Any]:
    """The endpoint's description: endpoint_name, config_name, model_data, status, variant."""
    return _admin_request("GET", _endpoint_url(url, endpoint_name), timeout=30.0)


def delete_endpoint(url: str, endpoint_name: str) -> dict[str, Any]:
    """Delete an endpoint from the server."""
    return _admin_request("DELETE", _endpoint_url(url, endpoint_name), timeout=30.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Control the detached local model server.")
    parser.add_argument("action", choices=["start", "stop", "status"])
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    try:
        if args.action == "start":
            result: dict[str, Any] = {"url": ensure_server(args.state_dir, args.port, args.timeout)}
            result.update(server_status(args.state_dir))
        elif args.action == "stop":
            result = {"stopped": stop_server(args.state_dir)}
        else:
            result = server_status(args.state_dir)
    except ModelServerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0 if args.action != "status" or result["running"] else 3


if __name__ == "__main__":
    sys.exit(main())
