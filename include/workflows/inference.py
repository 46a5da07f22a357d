"""The inference workflow's steps: the interval's photos, one execution per photo, the routing file, the review queue.

Photos arrive under ``incoming/photos/YYYY/MM/DD/HH/``; the hour folder, not a timestamp, says
which interval a photo belongs to. The run key is the interval's start, and execution names derive
from it and the photo key, so a re-run of an interval finds its finished executions and rewrites
the same routing file.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from include.intervals import interval_hours
from include.run_keys import sanitise
from include.settings import Settings
from include.storage import ObjectNotFoundError, ObjectStore, relative_key
from include.workflows.routing_guard import routing_to_keep

LOG = logging.getLogger(__name__)
EXECUTION_NAME_MAX = 80
ASSIGNMENTS = ("nearby", "distant", "human_review")
ROUTING_JSON = "routing.json"
ROUTING_CSV = "routing.csv"
CSV_COLUMNS = ("courier_photo", "vehicle", "confidence", "assignment", "execution", "reason")
REVIEW = "review"


class MissingOutcomeError(LookupError):
    """A photo's execution returned no outcome."""


def hour_prefix(settings: Settings, hour: datetime) -> str:
    return settings.s3_uri(settings.prefixes.incoming_photos, f"{hour:%Y/%m/%d/%H}") + "/"


def list_interval_photos(settings: Settings, store: ObjectStore, start: datetime, end: datetime) -> list[str]:
    """Bucket keys of the photos whose hour folder falls in ``[start, end)``, at most ``max_photos_per_interval``."""
    uris = sorted(info.uri for hour in interval_hours(start, end) for info in store.list(hour_prefix(settings, hour))
                  if not info.uri.endswith("/"))
    limit = settings.inference.max_photos_per_interval
    if len(uris) > limit:
        LOG.warning("%d photos arrived in [%s, %s); classifying the first %d (inference.max_photos_per_interval)",
                    len(uris), start, end, limit)
    bucket_root = f"s3://{settings.bucket}"
    return [relative_key(bucket_root, uri) for uri in uris[:limit]]


def execution_name(run_key: str, photo_key: str) -> str:
    """``<run key>-<photo stem>-<hash of the photo key>``: deterministic, at most 80 characters, Step Functions-safe."""
    digest = hashlib.sha256(photo_key.encode()).hexdigest()[:16]
    stem = sanitise(photo_key.rsplit("/", 1)[-1].rsplit(".", 1)[0], 20) or "photo"
    key = sanitise(run_key, EXECUTION_NAME_MAX - len(stem) - len(digest) - 2)
    return f"{key}-{stem}-{digest}"


def build_executions(settings: Settings, *, run_key: str, photo_keys: Iterable[str]) -> list[dict]:
    """One ``{"name", "input"}`` per photo; the input is the serialize Lambda's event."""
    return [{"name": execution_name(run_key, key), "input": {"s3_bucket": settings.bucket, "s3_key": key}}
            for key in photo_keys]


def _failure_reason(failure: Mapping[str, Any] | None, error: str | None, cause: str | None) -> str:
    """``Error: message`` from a Step Functions error and its Lambda-style JSON cause."""
    if failure:
        error, cause = failure.get("Error"), failure.get("Cause")
    try:
        message = json.loads(cause)["errorMessage"] if cause else ""
    except (ValueError, KeyError, TypeError):
        message = cause or ""
    return f"{error}: {message}" if message else str(error or "")


def routing_row(execution: Mapping[str, Any], outcome: Mapping[str, Any]) -> dict:
    """One routing row from an execution's input and its outcome."""
    photo = f"s3://{execution['input']['s3_bucket']}/{execution['input']['s3_key']}"
    output = outcome.get("output") or {}
    row = {"courier_photo": photo, "vehicle": REVIEW, "confidence": None, "assignment": "human_review",
           "execution": outcome["name"], "reason": "", "inferences": []}
    if outcome["status"] == "SUCCEEDED" and output.get("assignment") in ASSIGNMENTS:
        row.update(vehicle=output["vehicle"], confidence=output.get("confidence"), assignment=output["assignment"],
                   inferences=output.get("inferences") or [])
        if output["assignment"] == "human_review":
            row["reason"] = _failure_reason(output.get("review"), None, None)
    else:
        row["reason"] = _failure_reason(None, outcome.get("error") or outcome["status"], outcome.get("cause"))
    return row


def build_routing(executions: Iterable[Mapping[str, Any]], outcomes: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Routing rows (sorted by photo) matching each execution to its outcome by name."""
    by_name = {outcome["name"]: outcome for outcome in outcomes}
    rows = []
    for execution in executions:
        outcome = by_name.get(execution["name"])
        if outcome is None:
            raise MissingOutcomeError(
                f"no outcome for execution {execution['name']} (photo {execution['input']['s3_key']}): "
                "clear the classify_photo task instances of this run"
            )
        rows.append(routing_row(execution, outcome))
    return sorted(rows, key=lambda row: row["courier_photo"])


def routing_prefix(settings: Settings, run_key: str) -> str:
    return settings.s3_uri(settings.prefixes.routing, run_key)


def routing_csv(rows: Iterable[Mapping[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows({**row, "confidence": "" if row["confidence"] is None else row["confidence"]} for row in rows)
    return buffer.getvalue().encode()


def write_routing_file(settings: Settings, store: ObjectStore, run_key: str, rows: list[dict]) -> dict:
    """Write ``routing/<run key>/routing.csv`` then ``routing.json`` (the complete one), replacing a re-run's
    (never by an empty one: :mod:`include.workflows.routing_guard`)."""
    counts = Counter(row["assignment"] for row in rows)
    document = {"run_key": run_key, "photos": len(rows),
                "counts": {assignment: counts.get(assignment, 0) for assignment in ASSIGNMENTS}, "routing": rows}
    prefix = routing_prefix(settings, run_key)
    csv_uri, json_uri = f"{prefix}/{ROUTING_CSV}", f"{prefix}/{ROUTING_JSON}"
    if (kept := routing_to_keep(store, json_uri, rows)) is not None:
        return {"routing_uri": json_uri, "csv_uri": csv_uri, "photos": kept["photos"], "counts": kept.get("counts"),
                "kept": True}
    store.put_bytes(csv_uri, routing_csv(rows))
    store.put_bytes(json_uri, (json.dumps(document, indent=2, sort_keys=True) + "\n").encode())
    LOG.info("Routing for %s: %s -> %s", run_key, document["counts"], json_uri)
    return {"routing_uri": json_uri, "csv_uri": csv_uri, "photos": len(rows), "counts": document["counts"]}


def review_key(settings: Settings, run_key: str, photo_uri: str) -> str:
    """``review/<run key>/<photo path below incoming/photos>``."""
    photos_root = settings.s3_uri(settings.prefixes.incoming_photos)
    try:
        below = relative_key(photos_root, photo_uri)
    except ValueError:
        below = photo_uri.rsplit("/", 1)[-1]
    return f"{settings.prefixes.review}/{run_key}/{below}"


def queue_for_review(
    settings: Settings, store: ObjectStore, run_key: str, rows: Iterable[Mapping[str, Any]]
) -> list[str]:
    """Copy each photo routed to human review into the review queue, with a JSON sidecar saying why."""
    queued = []
    for row in rows:
        if row["assignment"] != "human_review":
            continue
        target = settings.s3_uri(review_key(settings, run_key, row["courier_photo"]))
        try:
            store.put_bytes(target, store.get_bytes(row["courier_photo"]))
        except ObjectNotFoundError:
            LOG.warning("Photo %s is gone; queueing its review note alone.", row["courier_photo"])
        sidecar = {"courier_photo": row["courier_photo"], "execution": row["execution"],
                   "confidence": row["confidence"], "inferences": row["inferences"], "reason": row["reason"]}
        store.put_bytes(f"{target}.json", (json.dumps(sidecar, indent=2, sort_keys=True) + "\n").encode())
        queued.append(target)
    return queued


def publish_routing(settings: Settings, store: ObjectStore, *, run_key: str, executions: list[dict],
                    outcomes: Iterable[Mapping[str, Any]]) -> dict:
    """Route every photo, queue the unsure ones for review, then write the routing file."""
    rows = build_routing(executions, outcomes or [])
    review_uris = queue_for_review(settings, store, run_key, rows)
    return {**write_routing_file(settings, store, run_key, rows), "review_queue": review_uris}
