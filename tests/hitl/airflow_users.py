"""A real Airflow API server and scheduler with real users and roles, an authenticated client per user, and DAG runs.

Users are the simple auth manager's configured users (not ``SIMPLE_AUTH_MANAGER_ALL_ADMINS``): two reviewers
with the ``user`` role, who may trigger runs, answer Human-in-the-loop tasks and label photos, and a
``viewer`` who may only look; their passwords are written to the manager's passwords file before start.
DAG runs are ``dag.test()`` runs in their own processes (:mod:`tests.hitl.run_dag`) on the same metadata
database: a Human-in-the-loop task waits there until a reviewer answers through the API server, or until the
scheduler's sweep finds its response timeout passed. The DAGs stay paused, so the scheduler runs none of
their tasks itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from devtools.local_airflow import airflow_environment, free_port
from include.settings import PROJECT_ROOT, Settings, load_settings

USERS = {"alice": "user", "bob": "user", "victor": "viewer"}
SCENARIO_DAGS = (Path(__file__).with_name("approval_scenarios.py"), PROJECT_ROOT / "dags" / "scones_registry_watch.py")
AIRFLOW = str(Path(sys.executable).with_name("airflow"))


class Client:
    """The Airflow API server as one user sees it (no token: an anonymous caller)."""

    def __init__(self, base_url: str, token: str | None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=60, trust_env=False)
        self.token = token

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, path, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        assert response.is_success, f"{method} {path} -> {response.status_code}: {response.text[:500]}"
        return response.json() if response.content else None

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        tis = self.ok("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id)}/taskInstances")["task_instances"]
        return {ti["task_id"]: ti["state"] for ti in tis}

    def hitl_path(self, dag_id: str, run_id: str, task_id: str) -> str:
        return f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id)}/taskInstances/{task_id}/-1/hitlDetails"

    def approved_model_events(self) -> list[dict]:
        assets = self.ok("GET", "/api/v2/assets", params={"name_pattern": "scones_approved_model"})["assets"]
        if not assets:
            return []
        events = self.ok("GET", "/api/v2/assets/events", params={"asset_id": assets[0]["id"], "limit": 100})
        return events["asset_events"]


def wait_until(what: str, probe: Callable[[], Any], timeout: float = 180, interval: float = 0.5) -> Any:
    """Poll ``probe`` until it answers something truthy; bounded in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := probe():
            return result
        time.sleep(interval)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s")


def _stop(process: subprocess.Popen, timeout: float = 5) -> None:
    """SIGTERM the process group, SIGKILL it when it lingers."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


@dataclass
class DagRunProcess:
    """A ``dag.test()`` run in its own process; :meth:`outcomes` waits for it."""

    process: subprocess.Popen
    log: Path

    def outcomes(self, timeout: float = 240) -> list[dict]:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            _stop(self.process)
            raise TimeoutError(f"DAG run process did not end in {timeout:.0f} s; log tail:\n{self.tail()}") from None
        lines = [line for line in self.log.read_text(errors="replace").splitlines() if line.startswith("{")]
        outcomes = [json.loads(line) for line in lines if '"state"' in line and '"run_id"' in line]
        assert outcomes and self.process.returncode == 0, f"DAG run failed; log tail:\n{self.tail()}"
        return outcomes

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class AirflowWithUsers:
    root: Path
    env: dict[str, str]
    settings: Settings
    port: int = field(default_factory=free_port)
    processes: list[subprocess.Popen] = field(default_factory=list)
    clients: dict[str, Client] = field(default_factory=dict)
    anonymous: Client | None = None
    runs_started: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _spawn(self, args: list[str], log_name: str) -> subprocess.Popen:
        with (self.root / log_name).open("ab") as log:
            return subprocess.Popen(args, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True, cwd=PROJECT_ROOT)

    def start(self, passwords: dict[str, str]) -> None:
        self.env = airflow_environment(self.root / "airflow-home", self.port, self.env)
        subprocess.run([AIRFLOW, "db", "migrate"], env=self.env, check=True, capture_output=True, timeout=600)
        self.processes.append(self._spawn([AIRFLOW, "api-server"], "api-server.log"))
        self.processes.append(self._spawn([AIRFLOW, "scheduler"], "scheduler.log"))
        # Written once here, the DAGs (and their Assets) are in the database before several dag.test()
        # processes start at once; each would otherwise race to insert them.
        subprocess.run([AIRFLOW, "dags", "reserialize"], env=self.env, check=True, capture_output=True, timeout=600)

        def api_is_up() -> bool:
            if any(p.poll() is not None for p in self.processes):
                raise RuntimeError(f"an Airflow process exited; see {self.root}/*.log")
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"{self.url}/api/v2/monitor/health", timeout=5, trust_env=False).is_success
            return False

        wait_until("the API server to answer", api_is_up, timeout=300, interval=1)
        for name, password in passwords.items():
            login = httpx.post(f"{self.url}/auth/token", json={"username": name, "password": password},
                               timeout=60, trust_env=False)
            assert login.status_code == 201, f"login of {name}: {login.status_code} {login.text[:300]}"
            self.clients[name] = Client(self.url, login.json()["access_token"])
        self.anonymous = Client(self.url, None)

    def stop(self) -> None:
        for client in [*self.clients.values(), *([self.anonymous] if self.anonymous else [])]:
            client.close()
        for process in reversed(self.processes):
            _stop(process)

    def run_dag(self, dag_id: str, conf: dict | None = None, times: int = 1, after: Path | None = None
                ) -> DagRunProcess:
        """Start ``times`` runs of ``dag_id`` in a new process; with ``after``, they start once that file exists
        (the process is already up by then, so the runs don't wait for Airflow to import)."""
        self.runs_started += 1
        log = self.root / f"run-{self.runs_started}-{dag_id}.log"
        args = [sys.executable, "-m", "tests.hitl.run_dag", dag_id, "--conf", json.dumps(conf or {}),
                "--times", str(times), *(["--after", str(after)] if after else [])]
        process = self._spawn(args, log.name)
        self.processes.append(process)
        return DagRunProcess(process, log)


def start_airflow_with_users(root: Path, extra_env: dict[str, str]) -> AirflowWithUsers:
    """An API server and a scheduler over a DAG folder holding the approval scenarios and the registry watch."""
    dags = root / "dags"
    dags.mkdir(parents=True)
    for dag_file in SCENARIO_DAGS:
        shutil.copy(dag_file, dags / dag_file.name)
    (root / "airflow-home").mkdir()
    passwords = {name: f"{name}-secret-{index}" for index, name in enumerate(USERS)}
    passwords_file = root / "airflow-home" / "passwords.json"
    passwords_file.write_text(json.dumps(passwords))
    env = {
        **extra_env,
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{name}:{role}" for name, role in USERS.items()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
        # The scheduler's sweep of unanswered Human-in-the-loop tasks, every second instead of 15.
        "AIRFLOW__SCHEDULER__TRIGGER_TIMEOUT_CHECK_INTERVAL": "1",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
    }
    instance = AirflowWithUsers(root, env, load_settings(environ={**os.environ, **extra_env}))
    try:
        instance.start(passwords)
    except BaseException:
        instance.stop()
        raise
    return instance
