"""The ``local`` runtime's alerts: one JSON line each in ``<data root>/.work/alerts.jsonl``, and the task log."""

from __future__ import annotations

import fcntl
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from include.runtime.local.store import local_work_root
from include.settings import Settings

LOG = logging.getLogger(__name__)
ALERTS_FILE = "alerts.jsonl"


def alerts_file(settings: Settings) -> Path:
    return local_work_root(settings) / ALERTS_FILE


def read_alerts(settings: Settings) -> list[dict]:
    """Every alert sent so far, oldest first."""
    path = alerts_file(settings)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class FileAlerts:
    """:class:`~include.runtime.capabilities.Alerts` kept on this machine, where an SNS topic would be on AWS."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def publish(self, subject: str, message: str) -> None:
        path = alerts_file(self.settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"sent_at": datetime.now(UTC).isoformat(), "subject": subject, "message": message})
        with path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.write(line + "\n")
        LOG.info("alert recorded in %s: %s", path, subject)

    def failure_callback(self) -> Callable[..., Any] | None:
        return None
