"""SageMaker's container contract on this machine: ``/opt/ml`` remapped under a job folder."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

CONTAINER_ROOT = "/opt/ml"
_PYTHON_NAMES = {"python", "python3", sys.executable}


@dataclass(frozen=True)
class ContainerPaths:
    """Maps container paths (``/opt/ml/...``) to a folder on this machine."""

    host_root: Path

    def remap(self, value: str) -> str:
        if value == CONTAINER_ROOT or value.startswith(CONTAINER_ROOT + "/"):
            return str(self.host_root) + value[len(CONTAINER_ROOT) :]
        return value

    def path(self, container_path: str) -> Path:
        return Path(self.remap(container_path))


@dataclass(frozen=True)
class ProcessResult:
    exit_code: int
    timed_out: bool
    log_tail: list[str]


def local_command(command: Sequence[str], paths: ContainerPaths) -> list[str]:
    """The container command with paths remapped and ``python3`` meaning this interpreter."""
    argv = [paths.remap(part) for part in command]
    if argv and argv[0] in _PYTHON_NAMES:
        argv[0] = sys.executable
    return argv


def run_container_process(
    argv: Sequence[str],
    *,
    env: dict[str, str],
    cwd: Path,
    max_runtime_seconds: int,
    log: Callable[[str], None],
    tail_lines: int = 30,
) -> ProcessResult:
    """Run the job's program, stream its output to ``log``, stop it at the runtime limit."""
    full_env = {**os.environ, **env}
    tail: list[str] = []
    with subprocess.Popen(
        list(argv), cwd=cwd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, bufsize=1, start_new_session=True,
    ) as process:
        watchdog = threading.Timer(max_runtime_seconds, _kill_group, args=(process.pid,))
        watchdog.start()
        try:
            assert process.stdout is not None
            for line in process.stdout:
                line = line.rstrip("\n")
                log(line)
                tail = [*tail[-(tail_lines - 1) :], line]
            exit_code = process.wait()
        finally:
            timed_out = not watchdog.is_alive() and exit_code_is_kill(process.returncode)
            watchdog.cancel()
    return ProcessResult(exit_code, timed_out, tail)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def exit_code_is_kill(code: int | None) -> bool:
    return code is not None and code < 0


def program_failure_reason(result: ProcessResult, failure_file: str = "") -> str:
    """The FailureReason of a program that did not exit 0.

    Killed by a signal from outside the job (the OOM killer, an operator's ``kill -9``, a shutdown), it is
    the machine's failure, not the program's: ``InternalServerError``, which the retry policy retries, as
    SageMaker reports a lost instance. Otherwise ``AlgorithmError`` with the program's own reason.
    """
    if exit_code_is_kill(result.exit_code):
        name = signal.Signals(-result.exit_code).name if -result.exit_code in signal.valid_signals() else "a signal"
        return (f"InternalServerError: the job's program was killed by {name} (exit code {result.exit_code}) "
                "from outside the job; another try may succeed")
    return "AlgorithmError: " + (failure_file or f"exit code {result.exit_code}: " + " | ".join(result.log_tail[-5:]))
