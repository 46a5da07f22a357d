"""What each photo's latest attempt came to, read from the files the Distributed Map's ResultWriter wrote.

The ResultWriter writes ``<prefix>/<Map Run id>/manifest.json`` naming ``SUCCEEDED_n.json``,
``FAILED_n.json`` (failed, timed out and aborted child executions) and ``PENDING_n.json`` (children never
started because the Map Run failed): JSON arrays of child executions with their ``Input`` (the photo's
serialize event, as a JSON string), ``Status``, and ``Output`` or ``Error``/``Cause``. It writes them even
when the Map fails (more failures than ``ToleratedFailurePercentage``).

A photo's attempt is its record in the latest round that got one: a finished child (SUCCEEDED or FAILED)
replaces an older attempt, a PENDING one never does. A photo whose execution ended before writing results
(or that its results miss) gets an attempt made from the execution's own outcome.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from include.settings import Settings
from include.storage import ObjectStore
from include.workflows.inference.rounds import Round, chunk_photos

PERMANENT_PHOTO_ERRORS = frozenset({
    "NotAnImageError", "ImageTooLargeError", "ImageTooThinError", "PhotoNotFoundError", "MalformedEventError",
    "PhotoRejectedError", "UnknownVehicleError",
})
"""Errors that say the photo itself can't be classified: a re-run does not try it again."""
_READERS = 8


@dataclass(frozen=True)
class PhotoAttempt:
    """A photo's latest attempt: ``status`` SUCCEEDED, FAILED (or TIMED_OUT, ABORTED), or PENDING (never ran)."""

    photo_key: str
    status: str
    execution: str
    output: Any = None
    error: str | None = None
    cause: str | None = None

    @property
    def finished(self) -> bool:
        return self.status != "PENDING"

    @property
    def needs_another_attempt(self) -> bool:
        """Not classified, and not refused for what the photo is: a re-run tries it again."""
        return self.status != "SUCCEEDED" and self.error not in PERMANENT_PHOTO_ERRORS


def map_run_records(store: ObjectStore, bucket: str, results_prefix: str) -> list[dict]:
    """Every child execution record under an execution's ResultWriter prefix."""
    manifests = [info.uri for info in store.list(f"s3://{bucket}/{results_prefix.strip('/')}/")
                 if info.uri.endswith("/manifest.json")]
    records: list[dict] = []
    for manifest_uri in manifests:
        manifest = json.loads(store.get_bytes(manifest_uri))
        for status in ("SUCCEEDED", "FAILED", "PENDING"):
            for result_file in manifest.get("ResultFiles", {}).get(status, []):
                records.extend(json.loads(store.get_bytes(f"s3://{manifest['DestinationBucket']}/{result_file['Key']}")))
    return records


def attempt_from_record(record: Mapping[str, Any], execution: str) -> PhotoAttempt | None:
    """A ResultWriter record as an attempt (None when the record does not carry its input)."""
    try:
        photo_key = json.loads(record["Input"])["s3_key"]
    except (KeyError, TypeError, ValueError):
        return None
    output = record.get("Output")
    return PhotoAttempt(
        photo_key=photo_key,
        status=record.get("Status", "PENDING"),
        execution=record.get("ExecutionArn") or execution,
        output=json.loads(output) if output else None,
        error=record.get("Error"),
        cause=record.get("Cause"),
    )


def execution_attempts(settings: Settings, store: ObjectStore, execution: Mapping[str, Any],
                       outcome: Mapping[str, Any] | None) -> dict[str, PhotoAttempt]:
    """Each photo of one execution's chunk, as its results (or, without results, its outcome) tell."""
    results = execution["input"]["results"]
    found: dict[str, PhotoAttempt] = {}
    for record in map_run_records(store, results["Bucket"], results["Prefix"]):
        attempt = attempt_from_record(record, execution["name"])
        if attempt is not None:
            found[attempt.photo_key] = attempt
    outcome = outcome or {}
    ended = outcome.get("status")
    error = outcome.get("error") or (f"execution {ended}" if ended and ended != "SUCCEEDED" else None)
    for key in chunk_photos(settings, store, execution):
        found.setdefault(key, PhotoAttempt(photo_key=key, status="PENDING", execution=execution["name"],
                                           error=error, cause=outcome.get("cause")))
    return found


def latest_attempts(settings: Settings, store: ObjectStore, rounds: Iterable[Round],
                    outcomes: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, PhotoAttempt]:
    """Every planned photo's latest attempt. ``outcomes`` (by execution name) completes unfinished rounds."""
    by_name = dict(outcomes or {})
    work = []
    for round_ in rounds:
        recorded = {outcome["name"]: outcome for outcome in round_.outcomes or []}
        work.extend((execution, recorded.get(execution["name"]) or by_name.get(execution["name"]))
                    for execution in round_.executions)
    with ThreadPoolExecutor(_READERS) as pool:
        per_execution = list(pool.map(lambda job: execution_attempts(settings, store, *job), work))
    latest: dict[str, PhotoAttempt] = {}
    for attempts in per_execution:
        for key, attempt in attempts.items():
            if attempt.finished or key not in latest:
                latest[key] = attempt
    return latest
