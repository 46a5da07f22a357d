"""Detached start, reuse and stop of the model server by PID, and its CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from include.runtime.local.model_server_control import (
    PROJECT_ROOT,
    ModelServerError,
    _is_running,
    _read_pid,
    ensure_server,
    server_status,
    stop_server,
)


def test_started_server_runs_in_its_own_session(server_url, tmp_path):
    pid = _read_pid(tmp_path / "state")
    assert pid is not None and os.getsid(pid) != os.getsid(0)


def test_ensure_server_reuses_the_running_server(server_url, tmp_path):
    pid = _read_pid(tmp_path / "state")
    assert ensure_server(tmp_path / "state", port=0) == server_url
    assert _read_pid(tmp_path / "state") == pid


def test_ensure_server_refuses_a_different_port_while_one_runs(server_url, tmp_path):
    with pytest.raises(ModelServerError, match="already runs on port"):
        ensure_server(tmp_path / "state", port=1)


def test_stop_server_terminates_the_process_and_removes_the_pid_file(server_url, tmp_path):
    state_dir = tmp_path / "state"
    pid = _read_pid(state_dir)
    assert stop_server(state_dir) is True
    assert not _is_running(pid)
    assert not (state_dir / "model_server.pid").exists()


def test_stop_server_is_idempotent(server_url, tmp_path):
    stop_server(tmp_path / "state")
    assert stop_server(tmp_path / "state") is False


def test_sigterm_shuts_down_gracefully_and_clears_the_state_file(server_url, tmp_path):
    state_dir = tmp_path / "state"
    pid = _read_pid(state_dir)
    os.kill(pid, 15)
    deadline = time.monotonic() + 10
    while _is_running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not (state_dir / "model_server.json").exists()
    assert "stopped" in (state_dir / "model_server.log").read_text()


def test_a_dead_server_is_replaced_by_a_new_one(start_server, tmp_path):
    start_server()
    first_pid = _read_pid(tmp_path / "state")
    os.kill(first_pid, 9)
    while _is_running(first_pid):
        time.sleep(0.05)
    second = start_server()
    assert _read_pid(tmp_path / "state") != first_pid
    assert server_status(tmp_path / "state")["url"] == second


def test_start_failure_reports_the_log_tail(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ModelServerError, match=r"(?s)exited with code.*Address already in use"):
            ensure_server(tmp_path / "state", port=port, timeout=20)
    assert _read_pid(tmp_path / "state") is None or not _is_running(_read_pid(tmp_path / "state"))


def test_cli_status_reports_the_running_server(server_url, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "include.runtime.local.model_server_control",
            "status",
            "--state-dir",
            str(tmp_path / "state"),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["url"] == server_url


def test_cli_status_exits_3_when_no_server_runs(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "include.runtime.local.model_server_control",
            "status",
            "--state-dir",
            str(tmp_path / "nothing"),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (result.returncode, json.loads(result.stdout)["running"]) == (3, False)


def test_cli_start_and_stop_manage_a_detached_server(tmp_path):
    state_dir = Path(tmp_path / "cli-state")
    command = [sys.executable, "-m", "include.runtime.local.model_server_control"]
    try:
        started = subprocess.run(
            [*command, "start", "--state-dir", str(state_dir), "--port", "0"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        pid = json.loads(started.stdout)["pid"]
        assert _is_running(pid)
    finally:
        stopped = subprocess.run(
            [*command, "stop", "--state-dir", str(state_dir)],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert json.loads(stopped.stdout) == {"stopped": True}
    assert not _is_running(pid)
