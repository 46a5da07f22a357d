"""Which task tries were retries, and what the try before each one failed with.

Airflow's REST API lists a task instance's tries (``.../taskInstances/{task}/tries``) and serves each try's
log; a try that raised logs ``Task failed with exception`` with the exception's type and message
(``error_detail``). The exception is rebuilt from those and classified by the product's own retry policy
(:func:`include.retry_policy.classify`), so a deterministic failure that was nonetheless retried — a policy
not applied, a worker that lost its decision — is counted, whatever the soak itself expected.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import pkgutil
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from devtools.airflow_api import AirflowApiError, AirflowRestClient

FAILURE_EVENT = "Task failed with exception"
FAILED_TRY_STATES = ("failed", "up_for_retry", "upstream_failed")
MAX_TRY_NUMBER = 12          # retries of a Scones task are a handful; clears add a few more
UI_PACKAGES = ("include.web.",)   # the UI plugin's pages: no task raises their errors, and they import slowly
_CLIENT_ERROR_CODE = re.compile(r"An error occurred \(([^)]+)\)")
_JOB_FAILURE_REASON = re.compile(r"(?:ended \w+|failed): (.*)$", re.S)


@dataclass(frozen=True)
class LoggedFailure:
    """The exception one try logged: its class name and message."""

    exc_type: str
    exc_value: str


@dataclass(frozen=True)
class RetriedTry:
    """A try that followed a failed one, with that failure and how the retry policy classifies it."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int
    failed_try: int
    failure: LoggedFailure | None   # None: the try logged no exception (killed, timed out, heartbeat lost)
    kind: str                       # "deterministic" | "transient" | "unknown"
    why: str

    @property
    def name(self) -> str:
        mapped = f"[{self.map_index}]" if self.map_index >= 0 else ""
        return f"{self.dag_id} {self.run_id} {self.task_id}{mapped} try {self.failed_try}"


def logged_failure(entries: list[Any]) -> LoggedFailure | None:
    """The last exception a try's structured log says it failed with, or None."""
    for entry in reversed(entries):
        if not isinstance(entry, dict) or entry.get("event") != FAILURE_EVENT:
            continue
        details = entry.get("error_detail") or []
        if details and isinstance(details[0], dict):   # the raised exception first, then its causes
            return LoggedFailure(str(details[0].get("exc_type", "")), str(details[0].get("exc_value", "")))
    return None


@cache
def _import_product_modules() -> None:
    """Import the modules under ``include`` (the UI's apart) so the product's exception classes are found by name."""
    import include

    for module in pkgutil.walk_packages(include.__path__, "include."):
        if module.name.startswith(UI_PACKAGES):
            continue
        with contextlib.suppress(Exception):
            importlib.import_module(module.name)


def _subclasses(root: type) -> Iterator[type]:
    seen: set[type] = set()
    stack = [root]
    while stack:
        cls = stack.pop()
        if cls in seen:
            continue
        seen.add(cls)
        yield cls
        with contextlib.suppress(TypeError):
            stack.extend(cls.__subclasses__())


def exception_classes(name: str) -> list[type[BaseException]]:
    """The exception classes of that name: a builtin one, else every loaded one (the product's included)."""
    builtin = getattr(builtins, name, None)
    if isinstance(builtin, type) and issubclass(builtin, BaseException):
        return [builtin]
    _import_product_modules()
    return [cls for cls in _subclasses(BaseException) if cls.__name__ == name]


def rebuilt_exception(cls: type[BaseException], message: str) -> BaseException:
    """An instance of ``cls`` carrying what the log kept: the message, a job's failure reason, an API error code."""
    from include.runtime.capabilities import JobFailedError

    exception = cls.__new__(cls)
    BaseException.__init__(exception, message)
    if isinstance(exception, JobFailedError):
        match = _JOB_FAILURE_REASON.search(message)
        exception.job_name = ""
        exception.failure_reason = match.group(1) if match else message
    code = _CLIENT_ERROR_CODE.search(message)
    if code is not None and not hasattr(exception, "response"):
        exception.response = {"Error": {"Code": code.group(1)}, "ResponseMetadata": {}}  # type: ignore[attr-defined]
    return exception


def failure_kind(failure: LoggedFailure | None) -> tuple[str, str]:
    """``(kind, why)`` the retry policy gives the logged exception; ``deterministic`` if any class of its name is."""
    from include.retry_policy import classify

    if failure is None:
        return "unknown", "no exception logged (the process was killed, timed out or lost its heartbeat)"
    classes = exception_classes(failure.exc_type)
    if not classes:
        return "unknown", f"{failure.exc_type} is no class the product defines"
    verdicts = [classify(rebuilt_exception(cls, failure.exc_value)) for cls in classes]
    return next((v for v in verdicts if v[0] == "deterministic"), verdicts[0])


def _quoted(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def retried_task_instances(client: AirflowRestClient) -> list[dict]:
    """Every task instance, over every DAG and run, on its second try or later."""
    numbers = "&".join(f"try_number={n}" for n in range(2, MAX_TRY_NUMBER + 1))
    found: list[dict] = []
    while True:
        page = client.get(f"/api/v2/dags/~/dagRuns/~/taskInstances?{numbers}&limit=100&offset={len(found)}")
        found += page["task_instances"]
        if not page["task_instances"] or len(found) >= page["total_entries"]:
            return found


def try_log(client: AirflowRestClient, ti: dict, try_number: int) -> list[Any]:
    path = (f"/api/v2/dags/{ti['dag_id']}/dagRuns/{_quoted(ti['dag_run_id'])}/taskInstances/{ti['task_id']}"
            f"/logs/{try_number}?full_content=true&map_index={ti.get('map_index', -1)}")
    try:
        return client.get(path).get("content") or []
    except AirflowApiError:
        return []


def retried_tries(client: AirflowRestClient) -> list[RetriedTry]:
    """Every try that followed a failed try, with the failure classified."""
    retried = []
    for ti in retried_task_instances(client):
        map_index = ti.get("map_index", -1)
        mapped = f"/{map_index}" if map_index >= 0 else ""
        tries = client.get(f"/api/v2/dags/{ti['dag_id']}/dagRuns/{_quoted(ti['dag_run_id'])}/taskInstances/"
                           f"{ti['task_id']}{mapped}/tries")["task_instances"]
        for earlier in sorted(tries, key=lambda t: t["try_number"]):
            if earlier["try_number"] >= ti["try_number"] or earlier["state"] not in FAILED_TRY_STATES:
                continue
            failure = logged_failure(try_log(client, ti, earlier["try_number"]))
            kind, why = failure_kind(failure)
            retried.append(RetriedTry(ti["dag_id"], ti["dag_run_id"], ti["task_id"], map_index,
                                      earlier["try_number"] + 1, earlier["try_number"], failure, kind, why))
    return retried
