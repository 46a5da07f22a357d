"""The inference workflow's steps: the interval's photos, the executions that classify them, the routing file.

Photos arrive under ``incoming/photos/YYYY/MM/DD/HH/``; the hour folder, not a timestamp, says which
interval a photo belongs to, and every photo of the interval is classified: none is capped or dropped.
The photos are split into chunks of ``inference.photos_per_execution``; each chunk is one execution of the
state machine, whose Distributed Map reads the chunk's photo manifest and runs one child execution per
photo (``inference.max_concurrency`` at a time) and whose ResultWriter writes every child's outcome to S3.
The routing file and review queue are written from those results (see :mod:`.rounds`, :mod:`.results`,
:mod:`.routing`).

A re-run of the interval reuses what succeeded: it plans a new round for the photos whose attempt failed
(or never ran) and were not refused for what they are, in new executions named with the round's try
suffix, and rewrites the routing file from every photo's latest attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from include.intervals import interval_hours
from include.settings import Settings
from include.storage import ObjectStore, relative_key
from include.workflows.inference.results import PhotoAttempt, latest_attempts
from include.workflows.inference.rounds import (
    execution_name,
    planned_photos,
    read_rounds,
    write_chunks,
    write_outcomes,
    write_plan,
)
from include.workflows.inference.routing import (
    build_routing,
    queue_for_review,
    review_key,
    review_prefix,
    write_routing_file,
)

__all__ = [
    "IntervalNotClassifiedError",
    "MissingOutcomeError",
    "build_routing",
    "execution_name",
    "hour_prefix",
    "list_interval_photos",
    "plan_executions",
    "publish_routing",
    "review_key",
]

LOG = logging.getLogger(__name__)


class MissingOutcomeError(LookupError):
    """An execution of the round returned no outcome."""


class IntervalNotClassifiedError(RuntimeError):
    """An execution failed as a whole; its unclassified photos were routed to human review."""


def hour_prefix(settings: Settings, hour: datetime) -> str:
    return settings.s3_uri(settings.prefixes.incoming_photos, f"{hour:%Y/%m/%d/%H}") + "/"


def list_interval_photos(settings: Settings, store: ObjectStore, start: datetime, end: datetime) -> list[str]:
    """Bucket keys of every photo whose hour folder falls in ``[start, end)``, sorted."""
    uris = sorted(info.uri for hour in interval_hours(start, end) for info in store.list(hour_prefix(settings, hour))
                  if not info.uri.endswith("/"))
    bucket_root = f"s3://{settings.bucket}"
    return [relative_key(bucket_root, uri) for uri in uris]


def plan_executions(settings: Settings, store: ObjectStore, *, run_key: str, photo_keys: list[str]) -> list[dict]:
    """This run's executions, ``{"name", "input", "round", "photos"}`` each, their photo manifests written.

    An unfinished round (its executions never all reported) is reused as it is, plus chunks for photos that
    arrived since; otherwise a new round takes the photos that still need an attempt (none: no execution).
    """
    rounds = read_rounds(settings, store, run_key)
    if rounds and not rounds[-1].finished:
        unfinished = rounds[-1]
        covered = planned_photos(settings, store, rounds)
        arrived = [key for key in photo_keys if key not in covered]
        executions = list(unfinished.executions)
        if arrived:
            executions += write_chunks(settings, store, run_key, unfinished.number, arrived,
                                       first_chunk=len(executions) + 1)
            write_plan(settings, store, run_key, unfinished.number, executions)
        LOG.info("Interval %s: round %d did not finish; running its %d executions again (%d photos arrived since)",
                 run_key, unfinished.number, len(executions), len(arrived))
        return executions
    attempts = latest_attempts(settings, store, rounds)
    todo = [key for key in photo_keys if key not in attempts or attempts[key].needs_another_attempt]
    if not todo:
        LOG.info("Interval %s: all %d photos have an attempt that stands; nothing to classify",
                 run_key, len(photo_keys))
        return []
    number = len(rounds) + 1
    executions = write_chunks(settings, store, run_key, number, todo)
    write_plan(settings, store, run_key, number, executions)
    retried = sum(1 for key in todo if key in attempts)
    LOG.info("Interval %s round %d: %s photos in %d executions (%s new, %s tried again)", run_key, number,
             f"{len(todo):,}", len(executions), f"{len(todo) - retried:,}", f"{retried:,}")
    return executions


def publish_routing(settings: Settings, store: ObjectStore, *, run_key: str, executions: list[dict],
                    outcomes: Iterable[Mapping[str, Any]] | None) -> dict:
    """Record the round's outcomes, route every photo of the interval by its latest attempt, queue the unsure ones
    for review, and write the routing file. Raises :class:`IntervalNotClassifiedError` afterwards when an
    execution failed as a whole (a re-run tries its photos again)."""
    by_name = {outcome["name"]: dict(outcome) for outcome in outcomes or []}
    missing = [execution["name"] for execution in executions if execution["name"] not in by_name]
    if missing:
        raise MissingOutcomeError(f"no outcome for executions {missing}: clear the classify_photos task of this run")
    if executions:
        write_outcomes(settings, store, run_key, executions[0]["round"],
                       [by_name[execution["name"]] for execution in executions])
    attempts = latest_attempts(settings, store, read_rounds(settings, store, run_key))
    rows = build_routing(settings, attempts)
    queued = queue_for_review(settings, store, run_key, rows)
    summary = write_routing_file(settings, store, run_key, rows)
    tally = attempt_tally(attempts.values())
    LOG.info("Routing for %s: %s photos, %s; %s failed, %s not classified -> %s", run_key, f"{len(rows):,}",
             ", ".join(f"{name} {count:,}" for name, count in summary["counts"].items()),
             f"{tally['failed']:,}", f"{tally['not_classified']:,}", summary["routing_uri"])
    failed = [outcome for outcome in by_name.values() if outcome["status"] != "SUCCEEDED"]
    if failed:
        described = "; ".join(f"{o['name']} {o['status']} ({o.get('error') or 'no error'})" for o in failed)
        raise IntervalNotClassifiedError(
            f"{len(failed)} of {len(executions)} executions did not succeed: {described}. The routing file sends "
            f"the interval's {tally['not_classified'] + tally['failed']:,} unclassified photos to human review; "
            "clear this run once the cause is fixed to classify them again"
        )
    return {**summary, "review_prefix": review_prefix(settings, run_key), "queued": queued,
            "executions": len(executions), **tally}


def attempt_tally(attempts: Iterable[PhotoAttempt]) -> dict[str, int]:
    """How many photos succeeded, failed, and never ran."""
    counts = {"succeeded": 0, "failed": 0, "not_classified": 0}
    for attempt in attempts:
        key = "succeeded" if attempt.status == "SUCCEEDED" else "not_classified" if not attempt.finished else "failed"
        counts[key] += 1
    return counts
