"""A small client for the Airflow 3 REST API: what the demo and the end-to-end tests ask of Airflow."""

from __future__ import annotations

import contextlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

TERMINAL_RUN_STATES = {"success", "failed"}


class AirflowApiError(RuntimeError):
    """The Airflow REST API answered with an error."""


class AirflowStartError(RuntimeError):
    """Airflow did not become healthy, or a DAG did not appear, in time."""


class AirflowRestClient:
    """REST calls against ``self.url`` (``http://host:port``); no login (the local simple auth manager)."""

    url: str

    def request(self, method: str, path: str, body: dict | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as response:
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

    def dags(self) -> list[dict]:
        return self.get("/api/v2/dags?limit=100&order_by=dag_id")["dags"]

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

    def pause(self, dag_id: str) -> None:
        self.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": True})

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

    def create_backfill(self, body: dict, timeout: float = 180) -> tuple[dict, int]:
        """POST a backfill; returns it and how often Airflow refused first.

        On SQLite, Airflow answers 503 "Database is locked" while another writer (a running task, the
        scheduler) holds the lock: that refusal is transient, so it is asked again until ``timeout``.
        """
        deadline = time.monotonic() + timeout
        refusals = 0
        while True:
            try:
                return self.request("POST", "/api/v2/backfills", body), refusals
            except AirflowApiError as refused:
                if refusals and " -> 409:" in str(refused):
                    # The refused request had created it after all: the lock hit after the commit.
                    return self.running_backfill(body["dag_id"]), refusals
                if " -> 503:" not in str(refused) or time.monotonic() > deadline:
                    raise
                refusals += 1
                time.sleep(2)

    def running_backfill(self, dag_id: str) -> dict:
        """The DAG's backfill that has not completed (Airflow runs at most one per DAG)."""
        backfills = self.get(f"/api/v2/backfills?dag_id={dag_id}&limit=100")["backfills"]
        running = [backfill for backfill in backfills if not backfill.get("completed_at")]
        if not running:
            raise AirflowApiError(f"no running backfill of {dag_id}, though Airflow said there is one")
        return running[-1]

    def wait_for_backfill(self, backfill_id: int, timeout: float = 120) -> None:
        """The scheduler marks a backfill complete shortly after its last run ends; wait for that."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.get(f"/api/v2/backfills/{backfill_id}").get("completed_at"):
                return
            time.sleep(2)
        raise TimeoutError(f"backfill {backfill_id} not marked complete after {timeout:.0f} s")

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 900,
                     progress: Callable[[str], None] | None = None,
                     on_poll: Callable[[], None] | None = None) -> str:
        """Poll until the run ends; report task state changes through ``progress``, call ``on_poll`` each poll."""
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
            if on_poll:
                on_poll()
            if run["state"] in TERMINAL_RUN_STATES:
                return run["state"]
            time.sleep(2)
        raise TimeoutError(f"{dag_id} run {run_id} did not finish in {timeout:.0f} s")
