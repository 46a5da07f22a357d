"""`make airflow`'s process lifecycle with a real Airflow: started, local only, one owner, gone after a hangup."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from devtools.home_lock import owner_is_running
from devtools.local_airflow import free_port
from devtools.local_environment import stop_local_environment
from devtools.processes import ListeningSocket, listening_sockets, processes_of
from include.settings import PROJECT_ROOT

pytestmark = pytest.mark.e2e

READY = "Airflow UI: "


@dataclass
class OwnedAirflow:
    """``python -m devtools.cli airflow`` on a terminal of its own (a pty), as a person would run it."""

    home: Path
    port: int
    process: subprocess.Popen
    terminal: int
    output: list[str] = field(default_factory=list)
    reading: threading.Event = field(default_factory=threading.Event)
    reader: threading.Thread | None = None

    def read_terminal(self) -> None:
        pending = b""
        while self.reading.is_set():
            if select.select([self.terminal], [], [], 0.2)[0]:
                try:
                    chunk = os.read(self.terminal, 65536)
                except OSError:
                    return
                *lines, pending = (pending + chunk).split(b"\n")
                self.output.extend(line.decode(errors="replace").rstrip("\r") for line in lines)

    def wait_ready(self, timeout: float = 420) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            if any(READY in line for line in self.output):
                return
            time.sleep(0.5)
        raise AssertionError("the CLI did not report Airflow ready:\n" + "\n".join(self.output[-40:]))

    def hang_up(self) -> None:
        """Close the terminal: the kernel sends SIGHUP to its foreground process group, the owner."""
        self.reading.clear()
        if self.reader is not None:
            self.reader.join(5)
        os.close(self.terminal)


def cli_environment(e2e_data: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **e2e_data, "PYTHONPATH": str(PROJECT_ROOT), "SCONES_DEPLOY__LOCAL_SERVER_PORT": "0"}


def _take_the_terminal() -> None:
    fcntl.ioctl(1, termios.TIOCSCTTY, 0)


@pytest.fixture(scope="module")
def owned(e2e_data: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnedAirflow]:
    home = tmp_path_factory.mktemp("owned-airflow-home")
    port = free_port()
    terminal, device = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.cli", "airflow", "--port", str(port), "--home", str(home)],
        env=cli_environment(e2e_data), cwd=PROJECT_ROOT, stdin=device, stdout=device, stderr=device,
        start_new_session=True, preexec_fn=_take_the_terminal,
    )
    os.close(device)
    owned = OwnedAirflow(home, port, process, terminal)
    owned.reading.set()
    owned.reader = threading.Thread(target=owned.read_terminal, daemon=True)
    owned.reader.start()
    try:
        owned.wait_ready()
        yield owned
    finally:
        if process.poll() is None:
            stop_local_environment(home, model_server_dir=None)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(30)
        if owned.reading.is_set():
            owned.hang_up()


@pytest.fixture(scope="module")
def sockets_at_start(owned: OwnedAirflow) -> list[ListeningSocket]:
    return listening_sockets(processes_of(owned.home))


def test_start_says_what_will_run_on_its_schedule(owned: OwnedAirflow):
    output = "\n".join(owned.output)
    assert "nothing runs by itself: every scheduled DAG is paused" in output
    assert "scones_inference (every hour, 0 * * * *)" in output, output
    assert "scones_deploy (on its Asset's updates)" in output and "run only when triggered: " in output


def test_every_server_listens_on_127_0_0_1_only(owned: OwnedAirflow, sockets_at_start: list[ListeningSocket]):
    assert owned.port in {s.port for s in sockets_at_start}, sockets_at_start
    assert len(sockets_at_start) >= 2, "the API server and the task-log server"
    assert {s.host for s in sockets_at_start} == {"127.0.0.1"}, sockets_at_start


def test_second_start_on_the_same_home_is_refused_naming_the_first(owned: OwnedAirflow, e2e_data: dict[str, str]):
    second = subprocess.run(
        [sys.executable, "-m", "devtools.cli", "airflow", "--port", str(free_port()), "--home", str(owned.home)],
        env=cli_environment(e2e_data), cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert second.returncode == 1
    assert f"(pid {owned.process.pid})" in second.stderr and f"stop --home {owned.home}" in second.stderr


def test_closing_the_terminal_stops_every_process_and_frees_every_port(
    owned: OwnedAirflow, sockets_at_start: list[ListeningSocket]
):
    assert processes_of(owned.home), "Airflow's processes carry the home's marker"
    owned.hang_up()
    assert owned.process.wait(90) == 0
    assert processes_of(owned.home) == []
    assert not owner_is_running(owned.home)
    ports = {s.port for s in sockets_at_start}
    assert [c for c in psutil.net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port in ports] == []
