"""Run keys and the names derived from them (brief, rule 4).

A run with a logical date — scheduled, backfilled, ``airflow dags test DAG DATE``, or triggered with
one — is keyed by that date; only a run without one (Asset-triggered, event-driven, triggered without
a date) is keyed by its sanitised run id. Every artifact prefix and SageMaker job name derives from
the run key, so a re-run of a date finds and replaces that date's outputs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

SAGEMAKER_NAME_MAX = 63
RUN_KEY_PROPERTY = "scones:run-key"
"""The tag / metadata key that ties an AWS resource or model version to the run that made it."""
_NAME_UNSAFE = re.compile(r"[^a-zA-Z0-9]+")


def key_for_logical_date(logical_date: datetime) -> str:
    """``2026-01-01T00:00+00:00`` -> ``20260101T0000``; seconds (and microseconds) are kept when a date has them
    (``2026-12-01T20:24:37`` -> ``20261201T202437``), so two dates never share a key."""
    key = logical_date.strftime("%Y%m%dT%H%M")
    if logical_date.microsecond:
        return key + logical_date.strftime("%S%f")
    if logical_date.second:
        return key + logical_date.strftime("%S")
    return key


def sanitise(text: str, max_length: int) -> str:
    """Lower-case alphanumerics and single dashes, shortened with a hash suffix when too long."""
    clean = _NAME_UNSAFE.sub("-", text).strip("-").lower()
    if len(clean) <= max_length:
        return clean
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{clean[: max_length - len(digest) - 1].rstrip('-')}-{digest}"


def run_type_of(dag_run: Any) -> str:
    """``scheduled``, ``backfill``, ``manual`` or ``asset_triggered``, whether Airflow hands an enum or a string."""
    return str(getattr(dag_run, "run_type", "")).lower().rsplit(".", 1)[-1]


def is_backfill(dag_run: Any) -> bool:
    return run_type_of(dag_run) == "backfill"


def run_key(dag_run: Any) -> str:
    """The run's key: its logical date when it has one, else its sanitised run id.

    Airflow allows one run per logical date and DAG, so a date is a unique key; ``dags test DAG DATE``
    twice rebuilds the same date's outputs, as a scheduled run and a backfill of that date do.
    """
    logical_date = getattr(dag_run, "logical_date", None)
    if logical_date is not None:
        return key_for_logical_date(logical_date)
    return sanitise(dag_run.run_id, 40)


def run_key_from_context(context: Mapping[str, Any]) -> str:
    return run_key(context["dag_run"])


def job_name(workflow: str, key: str, attempt: int = 1) -> str:
    """A SageMaker-valid job name: ``scones-<workflow>-<key>`` plus ``-t<attempt>`` after the first."""
    suffix = "" if attempt <= 1 else f"-t{attempt}"
    base = sanitise(f"scones-{workflow}-{key}", SAGEMAKER_NAME_MAX - len(suffix))
    return base + suffix


def candidate_job_names(workflow: str, key: str, try_number: int) -> list[str]:
    """Every name this task's attempts so far may have used, oldest first."""
    return [job_name(workflow, key, attempt) for attempt in range(1, max(try_number, 1) + 1)]
