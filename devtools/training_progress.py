"""Training progress for a person watching the demo: the epoch lines of a running task's log, made readable.

The training program prints one line per epoch (``epoch 3/15: train_loss=... validation_accuracy=...``,
see ``programs/model/training_job.py``); the local training job logs each line into the task's
log, which Airflow writes as JSON lines under ``HOME/logs/dag_id=.../run_id=.../task_id=.../``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

EPOCH_LINE = re.compile(
    r"\bepoch (?P<epoch>\d+)/(?P<epochs>\d+):.*\btrain_loss=(?P<loss>[0-9.]+)"
    r".*\bvalidation_accuracy=(?P<accuracy>[0-9.]+)"
)
EARLY_STOP = re.compile(r"^early stopping after epoch \d+")


def readable_progress(event: str) -> str | None:
    """``epoch 3/15, loss 0.412, validation accuracy 0.861`` for an epoch line, else None."""
    match = EPOCH_LINE.search(event)
    if match:
        return (f"epoch {match['epoch']}/{match['epochs']}, loss {float(match['loss']):.3f}, "
                f"validation accuracy {float(match['accuracy']):.3f}")
    if EARLY_STOP.match(event):
        return event
    return None


def _event(line: str) -> str:
    try:
        record = json.loads(line)
    except ValueError:
        return line
    return str(record.get("event", "")) if isinstance(record, dict) else line


class TrainingProgress:
    """Follows a task's log files and reports each new epoch line once, through ``report``."""

    def __init__(self, home: Path, dag_id: str, run_id: str, task_id: str, report: Callable[[str], None]) -> None:
        self.folder = Path(home) / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        self.task_id = task_id
        self.report = report
        self._offsets: dict[Path, int] = {}

    def poll(self) -> None:
        if not self.folder.is_dir():
            return
        for log in sorted(self.folder.glob("attempt=*.log")):
            offset = self._offsets.get(log, 0)
            with log.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
            complete = chunk[: chunk.rfind(b"\n") + 1]
            self._offsets[log] = offset + len(complete)
            for line in complete.decode(errors="replace").splitlines():
                progress = readable_progress(_event(line))
                if progress:
                    self.report(f"  {self.task_id}: {progress}")
