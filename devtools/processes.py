"""Processes with one owner: which processes belong to a local environment, and how they stop.

Every process the local environment starts — Airflow's components, the tasks they run, the jobs
those tasks run, the model server a deploy task starts — inherits ``SCONES_LOCAL_HOME=<home>``
from the environment the owner gives Airflow. That marker, not a process name, says what is ours:
``processes_of(home)`` finds them even after their owner died, and ``terminate`` stops them.
Airflow renames its processes with ``setproctitle``, which overwrites ``/proc/PID/environ`` unless
``SPT_NOENV`` is set: the local environment sets it, so the marker stays readable.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

MARKER = "SCONES_LOCAL_HOME"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def marker_value(home: Path) -> str:
    return str(Path(home).resolve())


def _environ_of(pid: int) -> bytes | None:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None


def _is_zombie(pid: int) -> bool:
    try:
        return "\nState:\tZ" in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True


def processes_of(home: Path) -> list[int]:
    """PIDs of the live processes that carry this home's marker (never this process)."""
    wanted = f"{MARKER}={marker_value(home)}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        environ = _environ_of(int(entry.name))
        if environ and wanted in environ.split(b"\0") and not _is_zombie(int(entry.name)):
            found.append(int(entry.name))
    return sorted(found)


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def describe_processes(pids: Iterable[int], limit: int = 6) -> str:
    """``pid (command), ...`` for a message, at most ``limit`` of them."""
    pids = list(pids)
    shown = ", ".join(f"{pid} ({command_line(pid)[:60]})" for pid in pids[:limit])
    return shown + (f" and {len(pids) - limit} more" if len(pids) > limit else "")


def _signal(pid: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, number)


def terminate(home: Path, leaders: Iterable[int] = (), process_group: int | None = None,
              grace_seconds: float = 20.0, second_signal_after: float = 3.0,
              reap: Callable[[], object] | None = None) -> list[int]:
    """Stop every process of ``home``: SIGTERM, SIGTERM again, then SIGKILL what outlives the grace.

    ``leaders`` (the Airflow components) stop their own children: they get SIGTERM, and a second
    one after ``second_signal_after`` seconds (Airflow's "signal again if you don't want to wait"
    for running tasks). Other processes of the home (jobs and servers in sessions of their own, or
    every process of an orphaned run) get one SIGTERM. Processes that appear meanwhile (a task
    forked during shutdown) are caught by rescanning. ``reap`` collects the caller's exited children
    (their zombies would keep the group alive). Returns the PIDs that survived SIGKILL.
    """
    leaders = set(leaders)
    started = time.monotonic()
    kill_at, give_up_at = started + grace_seconds, started + grace_seconds + 10.0
    asked: dict[int, int] = {}
    while True:
        if reap is not None:
            reap()
        pids = set(processes_of(home)) | {pid for pid in leaders if _is_alive(pid)}
        group_alive = process_group is not None and _group_exists(process_group)
        if not pids and not group_alive:
            return []
        now = time.monotonic()
        if now > give_up_at:
            return sorted(pids)
        if now >= kill_at:
            if group_alive:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process_group, signal.SIGKILL)  # type: ignore[arg-type]
            for pid in pids:
                _signal(pid, signal.SIGKILL)
        else:
            in_group = {pid for pid in pids if process_group is not None and _group_of(pid) == process_group}
            for pid in pids:
                times = asked.get(pid, 0)
                if pid in leaders:
                    due = times == 0 or (times == 1 and now - started >= second_signal_after)
                else:
                    due = times == 0 and (pid not in in_group or not leaders)
                if due:
                    _signal(pid, signal.SIGTERM)
                    asked[pid] = times + 1
        time.sleep(0.2)


def _is_alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists() and not _is_zombie(pid)


def _group_of(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def _group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class ListeningSocket:
    pid: int
    host: str
    port: int


def listening_sockets(pids: Iterable[int]) -> list[ListeningSocket]:
    """The TCP sockets these processes listen on."""
    import psutil

    wanted = set(pids)
    sockets = []
    for connection in psutil.net_connections(kind="tcp"):
        if connection.status == psutil.CONN_LISTEN and connection.pid in wanted and connection.laddr:
            sockets.append(ListeningSocket(connection.pid, connection.laddr.ip, connection.laddr.port))
    return sorted(sockets, key=lambda s: (s.port, s.pid))


class StopRequested(BaseException):
    """SIGTERM or SIGHUP (the terminal closed) asked the owner to stop; raised like KeyboardInterrupt."""

    def __init__(self, signal_number: int) -> None:
        super().__init__(signal.Signals(signal_number).name)
        self.signal_number = signal_number


def _raise_stop(signal_number: int, _frame: object) -> None:
    raise StopRequested(signal_number)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP unwind the owner like Ctrl-C does, so its ``finally`` stops what it started."""
    previous = {number: signal.signal(number, _raise_stop) for number in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """While stopping, a second Ctrl-C or SIGTERM must not cut the cleanup short: ignore them."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, signal.SIG_IGN) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
