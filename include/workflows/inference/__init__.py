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

Photos also arrive one by one through the arrival run (:mod:`.arrivals`), which routes them within seconds.
Both runs consult the per-photo routing records (:mod:`.records`): a photo with a record is not classified
again, and the hourly routing file is built from the records, so a photo is routed once whichever run
decided it first.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from include.intervals import interval_hours
from include.settings import Settings
from include.storage import ObjectStore, relative_key
from include.workflows.inference.arrivals import hour_run_key, read_arrivals
from include.workflows.inference.records import claim_all, decision_stands, read_records, routed_photos
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
    routing_row,
    write_routing_file,
)

__all__ = [
    "IntervalNotClassifiedError",
    "MissingOutcomeError",
    "build_routing",
    "execution_name",
    "hour_prefix",
    "list_interval_photos",
    "plan_arrivals",
    "plan_executions",
    "publish_routing",
    "review_key",
    "route_arrivals",
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
    Photos another run has already routed (they have a routing record) are not classified again.
    """
    routed = routed_photos(settings, store, photo_keys)
    if routed:
        LOG.info("Run %s: %s of %s photos already routed; not classifying them again", run_key,
                 f"{len(routed):,}", f"{len(photo_keys):,}")
        photo_keys = [key for key in photo_keys if key not in routed]
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


def plan_arrivals(settings: Settings, store: ObjectStore, *, run_key: str,
                  messages: Iterable[Mapping[str, Any]]) -> list[dict]:
    """The arrival run's executions: its messages read (dead letters and the report written), the photos that
    are there and not yet routed planned as one small round."""
    _, present = read_arrivals(settings, store, run_key, messages)
    return plan_executions(settings, store, run_key=run_key, photo_keys=present)


def recorded_outcomes(settings: Settings, store: ObjectStore, run_key: str, executions: list[dict],
                      outcomes: Iterable[Mapping[str, Any]] | None) -> dict[str, dict]:
    """Record how the round's executions ended (the round is finished); returns the outcomes by name."""
    by_name = {outcome["name"]: dict(outcome) for outcome in outcomes or []}
    missing = [execution["name"] for execution in executions if execution["name"] not in by_name]
    if missing:
        raise MissingOutcomeError(f"no outcome for executions {missing}: clear the classify_photos task of this run")
    if executions:
        write_outcomes(settings, store, run_key, executions[0]["round"],
                       [by_name[execution["name"]] for execution in executions])
    return by_name


def route_arrivals(settings: Settings, store: ObjectStore, *, run_key: str, executions: list[dict],
                   outcomes: Iterable[Mapping[str, Any]] | None) -> dict:
    """The arrival run's routing: claim a record for every photo whose decision stands, and queue the unsure
    ones for review under their hour's run key. Photos whose attempt failed for a passing reason get no record:
    the hourly run (or a re-run of this one) classifies them again. Raises :class:`IntervalNotClassifiedError`
    afterwards when an execution failed as a whole."""
    by_name = recorded_outcomes(settings, store, run_key, executions, outcomes)
    attempts = latest_attempts(settings, store, read_rounds(settings, store, run_key))
    won, lost = claim_all(settings, store, attempts.values(), routed_by=run_key)
    by_hour: dict[str, list[dict]] = defaultdict(list)
    for key, record in won.items():
        by_hour[hour_run_key(settings, key) or run_key].append(record)
    queued = sum(queue_for_review(settings, store, hour, rows, prune=False) for hour, rows in by_hour.items())
    left = sorted(key for key, attempt in attempts.items() if not decision_stands(attempt))
    counts = Counter(record["assignment"] for record in won.values())
    LOG.info("Arrivals %s: %d photos; routed %d (%s), %d already routed by another run, %d left for the hourly "
             "run (%s)", run_key, len(attempts), len(won), ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
             len(lost), len(left), left[:5])
    failed = [outcome for outcome in by_name.values() if outcome["status"] != "SUCCEEDED"]
    if failed:
        described = "; ".join(f"{o['name']} {o['status']} ({o.get('error') or 'no error'})" for o in failed)
        raise IntervalNotClassifiedError(
            f"{len(failed)} of {len(executions)} executions did not succeed: {described}. Their {len(left)} photos "
            "have no routing record; the hourly run classifies them again")
    return {"run_key": run_key, "photos": len(attempts), "routed": len(won), "already_routed": len(lost),
            "left_for_hourly_run": len(left), "queued": queued, "counts": dict(counts)}


def publish_routing(settings: Settings, store: ObjectStore, *, run_key: str, executions: list[dict],
                    outcomes: Iterable[Mapping[str, Any]] | None, photo_keys: Iterable[str] = ()) -> dict:
    """Record the round's outcomes, claim a routing record for every photo whose decision stands, and write the
    interval's routing file from the records (``photo_keys``: the interval's photos, so those another run routed
    are in it too) and, for photos without one, from their latest attempt; queue the unsure ones for review.
    Raises :class:`IntervalNotClassifiedError` afterwards when an execution failed as a whole (a re-run tries
    its photos again)."""
    by_name = recorded_outcomes(settings, store, run_key, executions, outcomes)
    attempts = latest_attempts(settings, store, read_rounds(settings, store, run_key))
    won, lost = claim_all(settings, store, attempts.values(), routed_by=run_key)
    records = read_records(settings, store, {*photo_keys, *attempts})
    rows = routing_from_records(settings, attempts, records)
    queued = queue_for_review(settings, store, run_key, rows)
    summary = write_routing_file(settings, store, run_key, rows)
    tally = attempt_tally(attempts.values())
    elsewhere = sum(1 for row in rows if row.get("routed_by") not in (None, run_key))
    LOG.info("Routing for %s: %s photos, %s; %s failed, %s not classified; %s routed by this run, %s already "
             "routed (%s of them classified here too) -> %s", run_key, f"{len(rows):,}",
             ", ".join(f"{name} {count:,}" for name, count in summary["counts"].items()),
             f"{tally['failed']:,}", f"{tally['not_classified']:,}", f"{len(won):,}", f"{elsewhere:,}",
             f"{len(lost):,}", summary["routing_uri"])
    failed = [outcome for outcome in by_name.values() if outcome["status"] != "SUCCEEDED"]
    if failed:
        described = "; ".join(f"{o['name']} {o['status']} ({o.get('error') or 'no error'})" for o in failed)
        raise IntervalNotClassifiedError(
            f"{len(failed)} of {len(executions)} executions did not succeed: {described}. The routing file sends "
            f"the interval's {tally['not_classified'] + tally['failed']:,} unclassified photos to human review; "
            "clear this run once the cause is fixed to classify them again"
        )
    return {**summary, "review_prefix": review_prefix(settings, run_key), "queued": queued,
            "executions": len(executions), "routed_here": len(won), "routed_elsewhere": elsewhere, **tally}


def routing_from_records(settings: Settings, attempts: Mapping[str, PhotoAttempt],
                         records: Mapping[str, Mapping[str, Any]]) -> list[dict]:
    """One row per photo, sorted: its routing record where it has one (whoever wrote it), else its latest
    attempt's row (a photo whose attempt failed for a passing reason: human review until a re-run)."""
    rows = {key: dict(record) for key, record in records.items()}
    rows.update((key, routing_row(settings, attempt)) for key, attempt in attempts.items() if key not in rows)
    return sorted(rows.values(), key=lambda row: row["courier_photo"])


def attempt_tally(attempts: Iterable[PhotoAttempt]) -> dict[str, int]:
    """How many photos succeeded, failed, and never ran."""
    counts = {"succeeded": 0, "failed": 0, "not_classified": 0}
    for attempt in attempts:
        key = "succeeded" if attempt.status == "SUCCEEDED" else "not_classified" if not attempt.finished else "failed"
        counts[key] += 1
    return counts
