"""A real Airflow 3 on this machine, owned by the process that starts it, driven by its REST API.

Used by ``make demo``, ``make airflow`` and the end-to-end tests. Airflow runs with its home under
the project (or a temporary folder), SQLite and the LocalExecutor: ``airflow db migrate``, then the
scheduler, DAG processor, triggerer, API server and task-log server, each logging to
``HOME/logs/components/<name>.log``, all in one process group. The owner holds the home's PID lock
(``devtools.home_lock``) while they run; every process carries the home's marker
(``devtools.processes``), so stopping — on Ctrl-C, SIGTERM, SIGHUP, or ``stop`` from another shell —
finds and stops all of them, the model server a deploy task started included. Every server binds
``local.bind_host`` (127.0.0.1 unless opened on purpose); parallelism follows the CPU count.
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from devtools.airflow_api import (  # noqa: F401  (re-exported for callers of this module)
    TERMINAL_RUN_STATES,
    AirflowApiError,
    AirflowRestClient,
    AirflowStartError,
)
from devtools.home_lock import HomeLock, stop_command
from devtools.processes import MARKER, describe_processes, marker_value, processes_of, signals_deferred, terminate
from include.settings import PROJECT_ROOT

SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
HEALTHY_COMPONENTS = ("scheduler", "dag_processor", "triggerer")


class OrphanedProcessesError(RuntimeError):
    """Processes of an earlier run still run on this home, with no owner."""


class PortInUseError(RuntimeError):
    """The port the API server should listen on is taken."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def available_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclass(frozen=True)
class AirflowSizing:
    """How much of the machine Airflow may use at once."""

    parallelism: int
    parsing_processes: int
    api_workers: int = 1

    @classmethod
    def for_machine(cls, parallelism_setting: int = 0, cpus: int | None = None) -> AirflowSizing:
        """``local.parallelism``, or twice the CPU count (at least 4: a waiting task holds a slot)."""
        cpus = cpus or available_cpus()
        return cls(parallelism=parallelism_setting or max(4, 2 * cpus), parsing_processes=max(1, min(2, cpus)))


def client_host(bind_host: str) -> str:
    """Where clients on this machine reach a server bound to ``bind_host``."""
    return "127.0.0.1" if ipaddress.ip_address(bind_host).is_unspecified else bind_host


def airflow_environment(home: Path, port: int, extra: dict[str, str] | None = None, *, bind_host: str = "127.0.0.1",
                        log_server_port: int = 8793, sizing: AirflowSizing | None = None) -> dict[str, str]:
    """Environment for an Airflow that reads the project's DAGs and plugins, sized and bound as given."""
    sizing = sizing or AirflowSizing.for_machine()
    api = f"http://{client_host(bind_host)}:{port}"
    env = {
        **os.environ,
        MARKER: marker_value(home),
        "SPT_NOENV": "1",  # setproctitle keeps /proc/PID/environ (and so the marker) intact
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__CORE__PARALLELISM": str(sizing.parallelism),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
        "AIRFLOW__API__HOST": bind_host,
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": api,
        "AIRFLOW__API__WORKERS": str(sizing.api_workers),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": str(sizing.parsing_processes),
        # The API's /api/v2/monitor/health reports the scheduler; its own health server stays off.
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": bind_host,
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_server_port),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(log_server_port),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_PROXY": "127.0.0.1,localhost",
        # the components are started as `airflow ...`, found next to this interpreter
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    if ipaddress.ip_address(bind_host).is_loopback:
        # Running tasks' logs are fetched from the log server at the task's hostname: make that loopback.
        env["AIRFLOW__CORE__HOSTNAME_CALLABLE"] = "devtools.airflow_log_server.loopback_hostname"
    env.update(extra or {})
    return env


def component_commands(bind_host: str, port: int, log_server_port: int, sizing: AirflowSizing) -> dict[str, list[str]]:
    """What ``airflow standalone`` runs, with the log servers replaced by one bound to ``bind_host``."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    return {
        "scheduler": [airflow, "scheduler", "--skip-serve-logs"],
        "dag-processor": [airflow, "dag-processor"],
        "triggerer": [airflow, "triggerer", "--skip-serve-logs"],
        "api-server": [airflow, "api-server", "--host", bind_host, "--port", str(port),
                       "--workers", str(sizing.api_workers)],
        "log-server": [sys.executable, "-m", "devtools.airflow_log_server", "--host", bind_host,
                       "--port", str(log_server_port)],
    }


_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
_PR_SET_PDEATHSIG = 1


def _die_with_owner() -> None:
    """In the child: receive SIGTERM if the owner dies without stopping us (SIGKILL, a crash)."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@dataclass
class LocalAirflow(AirflowRestClient):
    """A running local Airflow; use it as a context manager to stop all of it reliably."""

    home: Path
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    bind_host: str = "127.0.0.1"
    sizing: AirflowSizing = field(default_factory=AirflowSizing.for_machine)
    model_server_dir: Path | None = None
    command: str = "local Airflow"
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.home = Path(self.home).resolve()
        self._lock = HomeLock(self.home)
        self._process_group: int | None = None
        self._env: dict[str, str] = {}
        self._commands: dict[str, list[str]] = {}

    @property
    def url(self) -> str:  # type: ignore[override]
        return f"http://{client_host(self.bind_host)}:{self.port}"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs" / "components"

    def component_log(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def start(self, timeout: float = 240) -> LocalAirflow:
        """Take the home's lock, refuse orphans and a taken port, migrate the database, start and wait."""
        self._lock.acquire(self.command, self.url, self.model_server_dir)
        try:
            self._refuse_orphans_and_taken_port()
        except BaseException:
            self._lock.release()
            raise
        try:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log_server_port = free_port()
            env = airflow_environment(self.home, self.port, self.extra_env, bind_host=self.bind_host,
                                      log_server_port=log_server_port, sizing=self.sizing)
            self._migrate_database(env, timeout)
            self._env = env
            self._commands = component_commands(self.bind_host, self.port, log_server_port, self.sizing)
            for name, argv in self._commands.items():
                self._spawn(name, argv, env)
            self.wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _refuse_orphans_and_taken_port(self) -> None:
        orphans = processes_of(self.home)
        if orphans:
            raise OrphanedProcessesError(
                f"{len(orphans)} process(es) of an earlier Airflow on {self.home} still run without their owner "
                f"({describe_processes(orphans)}); this is not a fresh start. Stop them with "
                f"{stop_command(self.home)}, then start again."
            )
        if not port_is_free(self.bind_host, self.port):
            raise PortInUseError(f"port {self.port} on {self.bind_host} is already in use by another program: "
                                 "stop it, or choose another port with --port")

    def _migrate_database(self, env: dict[str, str], timeout: float) -> None:
        airflow = str(Path(sys.executable).with_name("airflow"))
        with self.component_log("db-migrate").open("ab") as log:
            result = subprocess.run([airflow, "db", "migrate"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, timeout=timeout, check=False)
        if result.returncode != 0:
            raise AirflowStartError(f"airflow db migrate failed ({result.returncode}); log tail:\n"
                                    f"{self._tail(self.component_log('db-migrate'))}")

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        # One process group of the owner's session: the terminal's Ctrl-C reaches only the owner, which
        # stops the group as a whole (a group in another session could not be joined).
        with self.component_log(name).open("ab") as log:
            process = subprocess.Popen(argv, env=env, cwd=self.home, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, preexec_fn=_die_with_owner,
                                       process_group=self._process_group or 0)
        self._process_group = self._process_group or process.pid
        self.processes[name] = process

    def kill_component(self, name: str) -> int:
        """SIGKILL one component (``scheduler``, ``triggerer`` ...), as a crash would; returns its PID."""
        process = self.processes[name]
        process.kill()
        process.wait(30)
        return process.pid

    def restart_component(self, name: str, timeout: float = 240) -> None:
        """Start a killed component again with its first command and environment, and wait until healthy."""
        if self.processes[name].poll() is None:
            raise AirflowStartError(f"Airflow's {name} still runs (pid {self.processes[name].pid}): kill it first")
        self._spawn(name, self._commands[name], self._env)
        self.wait_healthy(timeout)

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise AirflowStartError(f"Airflow's {name} exited ({process.returncode}) while starting; "
                                            f"log tail:\n{self._tail(self.component_log(name))}")
            with contextlib.suppress(OSError, AirflowApiError, ValueError):
                health = self.get("/api/v2/monitor/health")
                if all((health.get(part) or {}).get("status") == "healthy" for part in HEALTHY_COMPONENTS):
                    self._warm_up_execution_api(deadline)
                    return
            time.sleep(1)
        raise AirflowStartError(f"Airflow not healthy after {timeout:.0f} s; log tail:\n{self.log_tail()}")

    def _warm_up_execution_api(self, deadline: float) -> None:
        """The task-facing API builds its versioned routes on its first request, blocking the whole server
        for seconds (half a minute on a busy machine): pay that now, not while the first task starts."""
        with urllib.request.urlopen(f"{self.url}/execution/health", timeout=max(deadline - time.monotonic(), 5)):
            pass

    @staticmethod
    def _tail(path: Path, lines: int = 30) -> str:
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of every component's log."""
        return "\n".join(f"--- {name}\n{self._tail(self.component_log(name), lines)}"
                         for name in ["db-migrate", *self.processes])

    def stop(self, grace_seconds: float = 20) -> list[int]:
        """Stop the model server, then every process of this home; release the lock. Returns survivors.

        Does nothing unless this instance started (and so owns) the home's Airflow.
        """
        if not self._lock.held:
            return []
        with signals_deferred():
            if self.model_server_dir is not None:
                from include.runtime.local.model_server_control import ModelServerError, stop_server

                with contextlib.suppress(ModelServerError):
                    stop_server(self.model_server_dir)
            leaders = [process.pid for process in self.processes.values()]
            survivors = terminate(self.home, leaders, self._process_group, grace_seconds, reap=self._reap)
            for process in self.processes.values():
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(1)
            self.processes.clear()
            self._process_group = None
            self._lock.release()
        return survivors

    def _reap(self) -> None:
        for process in self.processes.values():
            process.poll()

    def __enter__(self) -> LocalAirflow:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
