"""Real processes for the ownership tests: sleepers that carry a home's marker, owners that hold its lock."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devtools.processes import MARKER, marker_value
from include.settings import PROJECT_ROOT

OWNER_PROGRAM = """
import subprocess, sys, time
from pathlib import Path
from devtools.home_lock import HomeLock
HomeLock(Path(sys.argv[1])).acquire("test owner", "http://127.0.0.1:1")
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], close_fds=False)
print("locked", child.pid, flush=True)
time.sleep(120)
"""


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen]]:
    """Start a process (a sleeper by default) that the test's teardown kills by PID if it still runs."""
    started: list[subprocess.Popen] = []

    def start(home: Path | None = None, program: str = "import time; time.sleep(120)", *args: str,
              **popen: object) -> subprocess.Popen:
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
        if home is not None:
            env[MARKER] = marker_value(home)
        process = subprocess.Popen([sys.executable, "-c", program, *args], env=env, **popen)
        started.append(process)
        return process

    yield start
    for process in started:
        with contextlib.suppress(ProcessLookupError, AttributeError):
            os.kill(process.child_pid, 9)  # type: ignore[attr-defined]
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(10)


@pytest.fixture
def owner(spawn) -> Callable[[Path], subprocess.Popen]:
    """A process that holds ``home``'s lock until it is stopped (without the marker: owners don't carry it)."""

    def start(home: Path) -> subprocess.Popen:
        process = spawn(None, OWNER_PROGRAM, str(home), stdout=subprocess.PIPE, text=True)
        assert process.stdout is not None
        word, child = process.stdout.readline().split()
        assert word == "locked"
        process.child_pid = int(child)  # type: ignore[attr-defined]
        return process

    return start


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()
