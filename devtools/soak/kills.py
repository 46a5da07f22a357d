"""Crashes the soak applies: ``kill -9`` of a running task's process, or of the job program a task started.

A task's process is found through the REST API (its task instance's ``pid``), a job's program as a child of
that process; each is killed only when it carries the soak's own Airflow home marker
(:mod:`devtools.processes`), so nothing outside the soak is ever signalled.
"""

from __future__ import annotations

import os
import signal
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from devtools.airflow_api import AirflowApiError, AirflowRestClient
from devtools.processes import command_line, processes_of

POLL_SECONDS = 0.2


@dataclass(frozen=True)
class RunningTask:
    pid: int
    try_number: int


def running_task(client: AirflowRestClient, dag_id: str, run_id: str, task_id: str,
                 timeout: float) -> RunningTask | None:
    """The task's process once the task runs (``None`` if it never ran, or ended first, within ``timeout``).

    Asks for that one task instance, so each poll is cheap and the process is caught early in its run.
    """
    path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances/{task_id}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = client.get(path)
        except AirflowApiError:   # not created yet
            found = None
        if found and found["state"] == "running" and found.get("pid"):
            return RunningTask(found["pid"], found["try_number"])
        if found and found["state"] in ("success", "failed", "skipped", "upstream_failed"):
            return None
        time.sleep(POLL_SECONDS)
    return None


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` (from ``/proc/*/status``)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        if f"\nPPid:\t{pid}\n" in status:
            children.append(int(entry.name))
    return sorted(children)


def job_program(task_pid: int, program: str, timeout: float) -> int | None:
    """The child of the task's process running ``program`` (e.g. ``train.py``), once it has started."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in children_of(task_pid):
            if program in command_line(child).split():
                return child
        time.sleep(POLL_SECONDS)
    return None


def kill_9(pid: int, home: Path) -> bool:
    """SIGKILL ``pid`` if it is one of the soak's own Airflow processes; False when it is not (or has ended)."""
    if pid not in processes_of(home):
        return False
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True
