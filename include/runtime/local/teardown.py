"""The ``local`` runtime's teardown: the local model server and its endpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from include.runtime.capabilities import refuse_foreign_plan
from include.runtime.local.model_server_control import server_status, stop_server
from include.runtime.local.serving import MODEL_SERVER_FOLDER
from include.runtime.local.store import local_work_root
from include.settings import Settings


def model_server_state_dir(settings: Settings) -> Path:
    return local_work_root(settings) / MODEL_SERVER_FOLDER


class LocalTeardown:
    """:class:`~include.runtime.capabilities.Teardown` of the local model server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def plan(self) -> dict[str, Any]:
        """The local model server's state and whether a real run stops it."""
        status = server_status(model_server_state_dir(self.settings))
        actions = [f"stop the local model server (pid {status['pid']}, {status['url']})"] if status["running"] else []
        return {
            "runtime": "local",
            "model_server": {key: status.get(key) for key in ("running", "pid", "url", "state_dir")},
            "endpoints": sorted(status.get("endpoints", [])),
            "actions": actions,
        }

    def apply(self, plan: dict[str, Any]) -> list[str]:
        refuse_foreign_plan(plan, "local")
        stopped = stop_server(model_server_state_dir(self.settings))
        return ["stopped the local model server"] if stopped else ["the local model server was not running"]
