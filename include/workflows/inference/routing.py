"""The routing file and the review queue, from each photo's latest attempt.

``routing/<run key>/routing.json`` (``{"run_key", "photos", "counts", "routing": [rows]}``) and
``routing.csv``: one row per photo, bicycle → nearby orders, motorcycle → distant orders, unsure, failed or
not classified → human review. Photos for review are copied to ``review/<run key>/<path below
incoming/photos>`` with a ``.json`` note saying why; a re-run that classifies a photo takes it out again.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from include.review import RECORD_SUFFIX
from include.settings import Settings
from include.storage import ObjectNotFoundError, ObjectStore, relative_key
from include.workflows.inference.results import PhotoAttempt
from include.workflows.routing_guard import routing_to_keep

LOG = logging.getLogger(__name__)
ASSIGNMENTS = ("nearby", "distant", "human_review")
ROUTING_JSON = "routing.json"
ROUTING_CSV = "routing.csv"
CSV_COLUMNS = ("courier_photo", "vehicle", "confidence", "assignment", "execution", "reason")
REVIEW = "review"
_COPIERS = 16


def failure_reason(error: str | None, cause: str | None) -> str:
    """``Error: message`` from a Step Functions error and its Lambda-style JSON cause."""
    try:
        message = json.loads(cause)["errorMessage"] if cause else ""
    except (ValueError, KeyError, TypeError):
        message = cause or ""
    return f"{error}: {message}" if message else str(error or "")


def routing_row(settings: Settings, attempt: PhotoAttempt) -> dict:
    """One routing row from a photo's latest attempt."""
    output = attempt.output or {}
    row = {"courier_photo": settings.s3_uri(attempt.photo_key), "vehicle": REVIEW, "confidence": None,
           "assignment": "human_review", "execution": attempt.execution, "reason": "", "inferences": []}
    if attempt.status == "SUCCEEDED" and output.get("assignment") in ASSIGNMENTS:
        row.update(vehicle=output["vehicle"], confidence=output.get("confidence"), assignment=output["assignment"],
                   inferences=output.get("inferences") or [])
        if output["assignment"] == "human_review":
            review = output.get("review") or {}
            row["reason"] = failure_reason(review.get("Error"), review.get("Cause"))
    elif attempt.status == "PENDING":
        ended = failure_reason(attempt.error, attempt.cause)
        row["reason"] = "not classified: its execution did not run it" + (f" ({ended})" if ended else "")
    else:
        row["reason"] = failure_reason(attempt.error or attempt.status, attempt.cause)
    return row


def build_routing(settings: Settings, attempts: Mapping[str, PhotoAttempt]) -> list[dict]:
    """Routing rows, one per photo, sorted by photo."""
    return sorted((routing_row(settings, attempt) for attempt in attempts.values()),
                  key=lambda row: row["courier_photo"])


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
    return {"routing_uri": json_uri, "csv_uri": csv_uri, "photos": len(rows), "counts": document["counts"]}


def review_key(settings: Settings, run_key: str, photo_uri: str) -> str:
    """``review/<run key>/<photo path below incoming/photos>``."""
    photos_root = settings.s3_uri(settings.prefixes.incoming_photos)
    try:
        below = relative_key(photos_root, photo_uri)
    except ValueError:
        below = photo_uri.rsplit("/", 1)[-1]
    return f"{settings.prefixes.review}/{run_key}/{below}"


def review_prefix(settings: Settings, run_key: str) -> str:
    return settings.s3_uri(settings.prefixes.review, run_key) + "/"


def queue_for_review(settings: Settings, store: ObjectStore, run_key: str, rows: Iterable[Mapping[str, Any]],
                     *, prune: bool = True) -> int:
    """Copy each photo routed to human review into the review queue with a JSON note saying why; with ``prune``,
    take out the photos a re-run has since classified. A reviewer's decision (``<photo>.label.json``) always
    stays, and its photo is not queued again by a re-run. Returns how many photos are routed to review.

    An interval with no photos left (a re-run after they expired) leaves its queue alone: those copies go by
    ``retention.review_days``, like the routing file it keeps (:mod:`include.workflows.routing_guard`)."""
    rows = list(rows)
    if not rows:
        return 0
    for_review = [row for row in rows if row["assignment"] == "human_review"]
    wanted = {settings.s3_uri(review_key(settings, run_key, row["courier_photo"])) for row in for_review}
    listed = [info.uri for info in store.list(review_prefix(settings, run_key))]
    decided = {uri.removesuffix(RECORD_SUFFIX) for uri in listed if uri.endswith(RECORD_SUFFIX)}
    stale = [uri for uri in listed
             if not uri.endswith(RECORD_SUFFIX) and uri.removesuffix(".json") not in wanted] if prune else []

    def queue(row: Mapping[str, Any]) -> None:
        target = settings.s3_uri(review_key(settings, run_key, row["courier_photo"]))
        if target in decided:
            return  # labelled already: the photo is filed under its label, the decision next to its queue place
        try:
            store.put_bytes(target, store.get_bytes(row["courier_photo"]))
        except ObjectNotFoundError:
            LOG.warning("Photo %s is gone; queueing its review note alone.", row["courier_photo"])
        note = {"courier_photo": row["courier_photo"], "execution": row["execution"],
                "confidence": row["confidence"], "inferences": row["inferences"], "reason": row["reason"]}
        store.put_bytes(f"{target}.json", (json.dumps(note, indent=2, sort_keys=True) + "\n").encode())

    with ThreadPoolExecutor(_COPIERS) as pool:
        list(pool.map(queue, for_review))
        list(pool.map(store.delete, stale))
    return len(for_review)
