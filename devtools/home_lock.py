"""One owner per Airflow home: a PID lock file that names the running owner.

The owner holds an exclusive ``flock`` on ``HOME/owner.pid`` for as long as it lives (the kernel
releases it when the owner exits, however it exits) and writes who it is into the file: pid,
command, UI URL, start time and the model server it may have to stop. A second start on the same
home fails at once with that description and how to stop it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from include.settings import PROJECT_ROOT

LOCK_FILE = "owner.pid"
DEFAULT_HOME = PROJECT_ROOT / ".airflow"


@dataclass(frozen=True)
class Owner:
    """Who runs the local environment on a home."""

    pid: int
    command: str
    url: str
    started_at: str
    model_server_dir: str | None = None

    def describe(self) -> str:
        return f"`{self.command}` (pid {self.pid}) since {self.started_at}, UI {self.url}"


class AlreadyRunningError(RuntimeError):
    """Another owner runs the local environment on this home."""


def stop_command(home: Path) -> str:
    """The command that stops everything on ``home``."""
    if Path(home).resolve() == DEFAULT_HOME.resolve():
        return "`make stop`"
    return f"`python -m devtools.cli stop --home {home}`"


def stop_hint(home: Path) -> str:
    return f"{stop_command(home)} (or Ctrl-C in its terminal)"


def read_owner(home: Path) -> Owner | None:
    """The owner recorded on ``home``, whether or not it still runs."""
    try:
        return Owner(**json.loads((Path(home) / LOCK_FILE).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def owner_is_running(home: Path) -> bool:
    """True while some process holds the home's lock."""
    path = Path(home) / LOCK_FILE
    if not path.exists():
        return False
    with open(path, "a") as probe:
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(probe, fcntl.LOCK_UN)
        return False


def refuse_if_running(home: Path) -> None:
    """Raise :class:`AlreadyRunningError` naming the owner when one runs on ``home``."""
    if owner_is_running(home):
        raise _already_running(Path(home))


def _already_running(home: Path) -> AlreadyRunningError:
    running = read_owner(home)
    who = running.describe() if running else "another process"
    return AlreadyRunningError(f"Airflow already runs on {home}: {who}. Use that one, or stop it with "
                               f"{stop_hint(home)} before starting another.")


class HomeLock:
    """The exclusive lock an owner holds on its home while it runs."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.path = self.home / LOCK_FILE
        self._fd: int | None = None

    def acquire(self, command: str, url: str, model_server_dir: Path | None = None) -> Owner:
        """Take the lock or raise :class:`AlreadyRunningError` naming the running owner."""
        self.home.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise _already_running(self.home) from None
        owner = Owner(os.getpid(), command, url, f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC",
                      str(model_server_dir) if model_server_dir else None)
        os.ftruncate(fd, 0)
        os.write(fd, (json.dumps(asdict(owner)) + "\n").encode())
        self._fd = fd
        return owner

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None
