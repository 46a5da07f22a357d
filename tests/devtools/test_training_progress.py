"""The demo follows a running training task's log and reports each epoch once, readably."""

from __future__ import annotations

import json
from pathlib import Path

from devtools.training_progress import TrainingProgress

EPOCH = ("epoch {n}/15: train_loss=0.41234 train_accuracy=0.8123 validation_loss=0.3210 "
         "validation_accuracy=0.86104 learning_rate=0.002000 epoch_seconds=8.21")


def _log_line(event: str, level: str = "info") -> str:
    return json.dumps({"timestamp": "2026-12-01T20:00:00Z", "level": level, "event": event,
                       "logger": "airflow.task.operators.include.runtime.local.jobs.LocalTrainingOperator"}) + "\n"


def test_each_epoch_line_of_the_task_log_is_reported_once_as_it_is_written(tmp_path: Path):
    folder = tmp_path / "logs" / "dag_id=scones_train" / "run_id=manual__1" / "task_id=train"
    folder.mkdir(parents=True)
    log = folder / "attempt=1.log"
    reported: list[str] = []
    progress = TrainingProgress(tmp_path, "scones_train", "manual__1", "train", reported.append)

    progress.poll()
    second = _log_line(EPOCH.format(n=2))
    log.write_text(_log_line("running python train.py") + _log_line(EPOCH.format(n=1)) + second[:40])
    progress.poll()
    with log.open("a") as handle:
        handle.write(second[40:])
    progress.poll()
    progress.poll()

    assert reported == ["  train: epoch 1/15, loss 0.412, validation accuracy 0.861",
                        "  train: epoch 2/15, loss 0.412, validation accuracy 0.861"]
