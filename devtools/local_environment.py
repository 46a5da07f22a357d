"""Operating the local environment from a shell: stop all of it, and say what will run by itself."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from devtools.airflow_api import AirflowRestClient
from devtools.home_lock import owner_is_running, read_owner
from devtools.processes import processes_of, terminate
from include.settings import PROJECT_ROOT


@dataclass
class StopReport:
    """What ``stop`` found and stopped on a home."""

    home: Path
    owner: str | None = None
    model_server: bool = False
    leftovers: list[int] = field(default_factory=list)
    survivors: list[int] = field(default_factory=list)

    def lines(self) -> list[str]:
        if not (self.owner or self.model_server or self.leftovers):
            return [f"nothing of the local environment was running on {self.home}"]
        lines = []
        if self.owner:
            lines.append(f"stopped {self.owner} and every process it started")
        if self.model_server:
            lines.append("stopped the local model server")
        if self.leftovers:
            lines.append(f"stopped {len(self.leftovers)} process(es) left without an owner")
        if self.survivors:
            lines.append(f"could not stop pids {self.survivors}: check them with `ps -p {self.survivors[0]}`")
        return lines


def stop_local_environment(home: Path, model_server_dir: Path | None, owner_timeout: float = 60.0) -> StopReport:
    """Stop the owner (it stops what it started), the model server, then anything left with the home's marker."""
    from include.runtime.local.model_server_control import ModelServerError, stop_server

    home = Path(home).resolve()
    report = StopReport(home)
    owner = read_owner(home)
    if owner is not None and owner_is_running(home):
        report.owner = owner.describe()
        with contextlib.suppress(ProcessLookupError):
            os.kill(owner.pid, signal.SIGTERM)
        deadline = time.monotonic() + owner_timeout
        while owner_is_running(home) and time.monotonic() < deadline:
            time.sleep(0.2)
        if owner_is_running(home):
            with contextlib.suppress(ProcessLookupError):
                os.kill(owner.pid, signal.SIGKILL)
    recorded = Path(owner.model_server_dir) if owner and owner.model_server_dir else None
    for state_dir in dict.fromkeys(d for d in (recorded, model_server_dir) if d is not None):
        with contextlib.suppress(ModelServerError):
            report.model_server = stop_server(state_dir) or report.model_server
    report.leftovers = processes_of(home)
    if report.leftovers:
        report.survivors = terminate(home)
    return report


def expected_dag_ids() -> list[str]:
    """One DAG per file in dags/, named after it."""
    return sorted(path.stem for path in (PROJECT_ROOT / "dags").glob("*.py") if not path.name.startswith("_"))


def _schedule(dag: dict) -> str:
    """``every hour, 0 * * * *``; ``on its Asset's updates``; empty for DAGs that only run when triggered."""
    summary = dag.get("timetable_summary")
    if summary in (None, "None", ""):
        return ""
    if summary == "Asset":
        return "on its Asset's updates"
    description = dag.get("timetable_description")
    return f"{description[0].lower()}{description[1:]}, {summary}" if description else summary


def schedule_summary(client: AirflowRestClient) -> list[str]:
    """Lines saying which DAGs will run by themselves (unpaused, with a schedule) and which wait."""
    dags = {dag["dag_id"]: dag for dag in client.dags()}
    scheduled = {dag_id: _schedule(dag) for dag_id, dag in dags.items() if _schedule(dag)}
    running = {dag_id: when for dag_id, when in scheduled.items() if not dags[dag_id]["is_paused"]}
    waiting = {dag_id: when for dag_id, when in scheduled.items() if dags[dag_id]["is_paused"]}
    manual = sorted(set(dags) - set(scheduled))
    lines = []
    if running:
        lines.append("will run by themselves on their schedule: " + ", ".join(
            f"{dag_id} ({when}" + (f", next after {dags[dag_id]['next_dagrun_run_after'][:16]} UTC"
                                   if dags[dag_id].get("next_dagrun_run_after") else "") + ")"
            for dag_id, when in sorted(running.items())))
    else:
        lines.append("nothing runs by itself: every scheduled DAG is paused")
    if waiting:
        lines.append("paused (unpause one in the UI to let it run on its schedule): "
                     + ", ".join(f"{dag_id} ({when})" for dag_id, when in sorted(waiting.items())))
    if manual:
        lines.append("run only when triggered: " + ", ".join(manual))
    return lines
