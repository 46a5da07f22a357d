"""The soak's kill -9 reaches only its own Airflow's processes, and finds a job program under its task."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from devtools.processes import MARKER, marker_value
from devtools.soak.kills import children_of, job_program, kill_9

SPAWNS_A_PROGRAM = ("import subprocess, sys, time; "
                    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)', 'train.py']); "
                    "time.sleep(30)")


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen]]:
    processes: list[subprocess.Popen] = []
    yield processes
    for process in processes:
        for child in children_of(process.pid):
            os.kill(child, 9)
        process.kill()
        process.wait(10)


def start(started: list[subprocess.Popen], argv: list[str], marker: str | None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != MARKER} | ({MARKER: marker} if marker else {})
    process = subprocess.Popen(argv, env=env)
    started.append(process)
    return process


def test_a_process_of_the_soak_is_killed(started, tmp_path):
    process = start(started, ["sleep", "30"], marker_value(tmp_path))
    assert kill_9(process.pid, tmp_path)
    assert process.wait(10) == -9


def test_a_process_without_the_soak_marker_is_left_alone(started, tmp_path):
    process = start(started, ["sleep", "30"], marker_value(tmp_path / "another-home"))
    assert not kill_9(process.pid, tmp_path)
    assert process.poll() is None


def test_the_job_program_is_found_among_the_task_process_children(started, tmp_path):
    task = start(started, [sys.executable, "-c", SPAWNS_A_PROGRAM], marker_value(tmp_path))
    program = job_program(task.pid, "train.py", timeout=10)
    assert program is not None and program in children_of(task.pid)
