"""Run keys and the names derived from them (brief, rule 4).

A time-scheduled or backfilled run is keyed by its logical date; a manual or Asset-triggered
run (no logical date) by its sanitised run id. Every artifact prefix and SageMaker job name
derives from the run key, so a re-run finds and replaces its own outputs.
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
    """``2026-01-01T00:00+00:00`` -> ``20260101T0000``."""
    return logical_date.strftime("%Y%m%dT%H%M")


def sanitise(text: str, max_length: int) -> str:
    """Lower-case alphanumerics and single dashes, shortened with a hash suffix when too long."""
    clean = _NAME_UNSAFE.sub("-", text).strip("-").lower()
    if len(clean) <= max_length:
        return clean
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{clean[: max_length - len(digest) - 1].rstrip('-')}-{digest}"


TIME_KEYED_RUN_TYPES = {"scheduled", "backfill"}


def run_key(dag_run: Any) -> str:
    """The run's key: the logical date of a scheduled or backfill run, else the sanitised run id.

    Manual and Asset-triggered runs are keyed by run id even when they carry a logical date,
    so two manual runs never share outputs.
    """
    logical_date = getattr(dag_run, "logical_date", None)
    run_type = str(getattr(dag_run, "run_type", "scheduled")).lower().rsplit(".", 1)[-1]
    if logical_date is not None and run_type in TIME_KEYED_RUN_TYPES:
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
