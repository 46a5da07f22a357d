"""Planned error answers of the local model server: a test and soak facility, off unless a process asks for it.

A server started with ``SCONES_MODEL_SERVER_FAULTS=<file>`` in its environment answers its next
``InvokeEndpoint`` calls from that control file, one planned answer per call, in order, instead of
running the model::

    {"answers": [{"status": 503, "code": "ServiceUnavailable"}, {"status": 400, "code": "ThrottlingException"}]}

Each answer given is removed from the file and appended to ``<file>.served`` (JSON lines), so whoever planned
them can count what the server served. An answer with ``"target": "green"`` is kept for the new (green) model
of a blue/green update: only an invocation the update routes to that model while it bakes takes it, and the
error counts against the update's rollback alarm (``{"status": 500, "code": "ModelError", "target": "green"}``);
every other call takes only the answers without a target. Without the variable — the default, and how every DAG
and the demo run it — the server has no such hook. ``devtools.soak`` uses it for its endpoint 5xx and throttling
bursts, and to roll back the retrained model's update during a drift episode.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FAULTS_VARIABLE = "SCONES_MODEL_SERVER_FAULTS"
SERVED_SUFFIX = ".served"
GREEN_TARGET = "green"
"""The ``target`` of an answer for the new model of a blue/green update (the only target there is)."""


class FaultPlanError(ValueError):
    """The control file holds something other than a list of error answers."""


def check_answer(answer: Any) -> dict[str, Any]:
    if not (isinstance(answer, dict) and isinstance(answer.get("status"), int) and 400 <= answer["status"] <= 599
            and isinstance(answer.get("code"), str) and answer["code"]):
        raise FaultPlanError(f"a planned answer needs an HTTP error status (400-599) and an error code, not "
                             f"{answer!r:.200}: e.g. {{'status': 503, 'code': 'ServiceUnavailable'}}")
    if answer.get("target", GREEN_TARGET) != GREEN_TARGET:
        raise FaultPlanError(f"a planned answer's target can only be {GREEN_TARGET!r} (the new model of a blue/green "
                             f"update), not {answer['target']!r:.100}; leave it out to answer any call")
    return answer


def plan_answers(path: Path | str, answers: list[Mapping[str, Any]]) -> None:
    """Queue ``answers`` for the next calls (after any still queued)."""
    path = Path(path)
    queued = _read(path) + [check_answer(dict(answer)) for answer in answers]
    _write(path, queued)


def clear_answers(path: Path | str) -> int:
    """Drop the answers still queued; returns how many there were."""
    path = Path(path)
    left = len(_read(path))
    _write(path, [])
    return left


def served_answers(path: Path | str) -> list[dict[str, Any]]:
    """The planned answers the server has given so far, oldest first."""
    served = Path(f"{path}{SERVED_SUFFIX}")
    if not served.exists():
        return []
    return [json.loads(line) for line in served.read_text().splitlines() if line.strip()]


def _read(path: Path) -> list[dict[str, Any]]:
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        return []
    except ValueError as error:
        raise FaultPlanError(f"{path} is not JSON ({error}): write {{'answers': [...]}}") from error
    answers = document.get("answers") if isinstance(document, dict) else None
    if not isinstance(answers, list):
        raise FaultPlanError(f"{path} must hold {{'answers': [...]}}, not {document!r:.200}")
    return [check_answer(answer) for answer in answers]


def _write(path: Path, answers: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps({"answers": answers}))
    os.replace(temporary, path)


class InjectedFaults:
    """The server's side: take the next planned answer, if any, and record it as served."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> InjectedFaults | None:
        path = environ.get(FAULTS_VARIABLE, "")
        return cls(Path(path)) if path else None

    def next_answer(self, target: str | None = None) -> dict[str, Any] | None:
        """The oldest queued answer for ``target`` (``None``: any call; ``"green"``: the new model in an update)."""
        with self._lock:
            answers = _read(self.path)
            position = next((n for n, answer in enumerate(answers) if answer.get("target") == target), None)
            if position is None:
                return None
            answer, rest = answers[position], answers[:position] + answers[position + 1:]
            _write(self.path, rest)
            with open(f"{self.path}{SERVED_SUFFIX}", "a") as served:
                served.write(json.dumps({**answer, "at": datetime.now(UTC).isoformat()}) + "\n")
            return answer
