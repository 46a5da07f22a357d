"""A real Airflow 3 on this machine: ``airflow standalone`` in the background, driven by its REST API.

Used by ``make demo``, ``make airflow`` and the end-to-end tests. Airflow runs with its home
under the project (or a temporary folder), SQLite and the LocalExecutor, in its own process
group so that stopping it stops every process it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from include.settings import PROJECT_ROOT

TERMINAL_RUN_STATES = {"success", "failed"}


class AirflowStartError(RuntimeError):
    """Airflow did not become healthy in time."""


class AirflowApiError(RuntimeError):
    """The Airflow REST API answered with an error."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def airflow_environment(home: Path, port: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for an Airflow that reads the project's DAGs and plugins."""
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_PROXY": "127.0.0.1,localhost",
        # standalone starts its components as `airflow ...` subprocesses found on PATH
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    env.update(extra or {})
    return env


def _kill_group_and_wait(pgid: int, timeout: float = 15) -> None:
    """SIGKILL whatever is left of the process group and wait until it is gone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            return
        time.sleep(0.2)


@dataclass
class LocalAirflow:
    """A running ``airflow standalone``; use as a context manager to stop it reliably."""

    home: Path
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.home / "standalone.log"

    def start(self, timeout: float = 240) -> LocalAirflow:
        self.home.mkdir(parents=True, exist_ok=True)
        env = airflow_environment(self.home, self.port, self.extra_env)
        airflow = str(Path(sys.executable).with_name("airflow"))
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [airflow, "standalone"], env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )
        (self.home / "standalone.pid").write_text(str(self.process.pid))
        try:
            self.wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise AirflowStartError(f"airflow standalone exited ({self.process.returncode}); "
                                        f"log tail:\n{self.log_tail()}")
            with contextlib.suppress(OSError, AirflowApiError, ValueError):
                health = self.get("/api/v2/monitor/health")
                if health.get("scheduler", {}).get("status") == "healthy":
                    return
            time.sleep(2)
        raise AirflowStartError(f"Airflow not healthy after {timeout:.0f} s; log tail:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 30) -> None:
        """Stop the whole process group: SIGTERM, then SIGKILL after ``timeout``."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        _kill_group_and_wait(self.process.pid)
        (self.home / "standalone.pid").unlink(missing_ok=True)

    def __enter__(self) -> LocalAirflow:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- REST API -------------------------------------------------------------------------

    def request(self, method: str, path: str, body: dict | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            raise AirflowApiError(f"{method} {path} -> {exc.code}: {exc.read().decode(errors='replace')}") from exc
        return json.loads(payload) if payload else None

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(AirflowApiError):
                self.get(f"/api/v2/dags/{dag_id}")
                return
            time.sleep(2)
        errors = self.get("/api/v2/importErrors")
        raise AirflowStartError(f"DAG {dag_id} not parsed after {timeout:.0f} s; import errors: {errors}")

    def ensure_pool(self, name: str, slots: int) -> None:
        """Create the pool, or set its slots when it exists."""
        try:
            self.get(f"/api/v2/pools/{name}")
        except AirflowApiError:
            self.request("POST", "/api/v2/pools", {"name": name, "slots": slots, "include_deferred": False})
        else:
            self.request("PATCH", f"/api/v2/pools/{name}?update_mask=slots",
                         {"pool": name, "slots": slots, "include_deferred": False})

    def unpause(self, dag_id: str) -> None:
        self.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, conf: dict | None = None, logical_date: str | None = None) -> str:
        run = self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns",
                           {"logical_date": logical_date, "conf": conf or {}})
        return run["dag_run_id"]

    def runs(self, dag_id: str) -> list[dict]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns?order_by=-run_after&limit=100")["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.request.quote(run_id)}/taskInstances"
        return self.get(path)["task_instances"]

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        path = (f"/api/v2/dags/{dag_id}/dagRuns/{urllib.request.quote(run_id)}/taskInstances/"
                f"{task_id}/xcomEntries/{key}?deserialize=true")
        return self.get(path)["value"]

    def wait_for_backfill(self, backfill_id: int, timeout: float = 120) -> None:
        """The scheduler marks a backfill complete shortly after its last run ends; wait for that."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.get(f"/api/v2/backfills/{backfill_id}").get("completed_at"):
                return
            time.sleep(2)
        raise TimeoutError(f"backfill {backfill_id} not marked complete after {timeout:.0f} s")

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 900,
                     progress: Callable[[str], None] | None = None) -> str:
        """Poll until the run ends; report task state changes through ``progress``."""
        deadline = time.monotonic() + timeout
        seen: dict[str, str] = {}
        while time.monotonic() < deadline:
            run = self.get(f"/api/v2/dags/{dag_id}/dagRuns/{urllib.request.quote(run_id)}")
            if progress:
                for ti in self.task_instances(dag_id, run_id):
                    key = f"{ti['task_id']}[{ti['map_index']}]" if ti.get("map_index", -1) >= 0 else ti["task_id"]
                    if ti["state"] and seen.get(key) != ti["state"]:
                        seen[key] = ti["state"]
                        progress(f"{dag_id} {key}: {ti['state']}")
            if run["state"] in TERMINAL_RUN_STATES:
                return run["state"]
            time.sleep(2)
        raise TimeoutError(f"{dag_id} run {run_id} did not finish in {timeout:.0f} s")
