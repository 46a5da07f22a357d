"""Reading the result of an upstream task that may not have run (its branch was not taken)."""

from __future__ import annotations

from typing import Any


def optional_upstream_value(ti: Any, task_id: str) -> Any:
    """``task_id``'s return value, or None when it was skipped.

    Passing a skipped task's output to a task makes Airflow ask for an XCom that does not exist,
    which its client logs as ``[error] XCom not found`` in a successful run. A list pull reads the
    task's values as a (possibly empty) sequence instead, which is never an error.
    """
    return (ti.xcom_pull(task_ids=[task_id]) or [None])[0]
