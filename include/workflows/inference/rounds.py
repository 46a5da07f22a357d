"""An interval's rounds: which photos each round classifies, in which executions, and how each ended.

Round 1 classifies every photo of the interval; a re-run of the interval (a cleared task, a new run of the
same interval) plans round 2 with only the photos round 1 did not classify, and so on. A round is a list
of executions, one per chunk of at most ``inference.photos_per_execution`` photos, named
``<run key>-c<chunk>`` in round 1 and ``<run key>-c<chunk>-t<round>`` after (Step Functions never reuses
a name). Under ``inference/<run key>/t<round>/`` a round keeps::

    c0001/photos.json     the chunk's photos, the ItemReader's JSON array of serialize events
    c0001/results/        the ResultWriter's prefix: <Map Run id>/manifest.json, SUCCEEDED_0.json, ...
    plan.json             the round's executions (written after their photo manifests)
    outcomes.json         how each execution ended (written when the round is routed: the round is finished)

A round without ``outcomes.json`` is unfinished: the next run reuses it (same names, same manifests), so
its finished executions are reused and only the missing ones start.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from include.run_keys import sanitise
from include.settings import Settings
from include.storage import ObjectNotFoundError, ObjectStore

EXECUTION_NAME_MAX = 80
PLAN = "plan.json"
OUTCOMES = "outcomes.json"
PHOTOS = "photos.json"
RESULTS = "results"


@dataclass(frozen=True)
class Round:
    """One round of an interval: its executions (plan entries) and, once finished, their outcomes."""

    number: int
    executions: list[dict]
    outcomes: list[dict] | None

    @property
    def finished(self) -> bool:
        return self.outcomes is not None


def round_prefix(settings: Settings, run_key: str, number: int) -> str:
    """``inference/<run key>/t<round>`` (a key below the bucket)."""
    return f"{settings.prefixes.inference}/{run_key}/t{number}"


def execution_name(run_key: str, chunk: int, number: int) -> str:
    """``<run key>-c0001`` in round 1, ``<run key>-c0001-t2`` in round 2: at most 80 characters, Step Functions-safe."""
    suffix = f"-c{chunk:04d}" + ("" if number <= 1 else f"-t{number}")
    return sanitise(run_key, EXECUTION_NAME_MAX - len(suffix)) + suffix


def execution_input(settings: Settings, photos_key: str, results_prefix: str) -> dict:
    """The state machine's input: where its photos are, where its results go, and the Map's limits."""
    return {
        "photos": {"Bucket": settings.bucket, "Key": photos_key},
        "results": {"Bucket": settings.bucket, "Prefix": results_prefix},
        "max_concurrency": settings.inference.max_concurrency,
        "tolerated_failure_percentage": settings.inference.tolerated_failure_percentage,
    }


def chunked(photo_keys: Sequence[str], size: int) -> list[list[str]]:
    return [list(photo_keys[start:start + size]) for start in range(0, len(photo_keys), size)]


def serialize_event(settings: Settings, photo_key: str) -> dict:
    """The serialize Lambda's event for a photo: one item of the ItemReader's array."""
    return {"s3_bucket": settings.bucket, "s3_key": photo_key}


def write_chunks(settings: Settings, store: ObjectStore, run_key: str, number: int, photo_keys: Sequence[str],
                 first_chunk: int = 1) -> list[dict]:
    """Write each chunk's photo manifest; returns the plan entries ``{"name", "input", "round", "photos"}``."""
    prefix = round_prefix(settings, run_key, number)
    entries = []
    for offset, chunk in enumerate(chunked(photo_keys, settings.inference.photos_per_execution)):
        index = first_chunk + offset
        photos_key = f"{prefix}/c{index:04d}/{PHOTOS}"
        store.put_bytes(settings.s3_uri(photos_key),
                        json.dumps([serialize_event(settings, key) for key in chunk]).encode())
        entries.append({"name": execution_name(run_key, index, number), "round": number, "photos": len(chunk),
                        "input": execution_input(settings, photos_key, f"{prefix}/c{index:04d}/{RESULTS}")})
    return entries


def write_plan(settings: Settings, store: ObjectStore, run_key: str, number: int, executions: list[dict]) -> None:
    document = {"run_key": run_key, "round": number, "executions": executions}
    store.put_bytes(settings.s3_uri(round_prefix(settings, run_key, number), PLAN),
                    (json.dumps(document, indent=2) + "\n").encode())


def write_outcomes(settings: Settings, store: ObjectStore, run_key: str, number: int, outcomes: list[dict]) -> None:
    """Record how the round's executions ended: the round is finished."""
    store.put_bytes(settings.s3_uri(round_prefix(settings, run_key, number), OUTCOMES),
                    (json.dumps(outcomes, indent=2, sort_keys=True) + "\n").encode())


def read_rounds(settings: Settings, store: ObjectStore, run_key: str) -> list[Round]:
    """Every round of the interval so far, oldest first."""
    rounds = []
    number = 1
    while True:
        prefix = round_prefix(settings, run_key, number)
        try:
            plan = json.loads(store.get_bytes(settings.s3_uri(prefix, PLAN)))
        except ObjectNotFoundError:
            return rounds
        try:
            outcomes = json.loads(store.get_bytes(settings.s3_uri(prefix, OUTCOMES)))
        except ObjectNotFoundError:
            outcomes = None
        rounds.append(Round(number, plan["executions"], outcomes))
        number += 1


def chunk_photos(settings: Settings, store: ObjectStore, execution: dict) -> list[str]:
    """The photo keys an execution's manifest lists."""
    location = execution["input"]["photos"]
    items = json.loads(store.get_bytes(f"s3://{location['Bucket']}/{location['Key']}"))
    return [item["s3_key"] for item in items]


def planned_photos(settings: Settings, store: ObjectStore, rounds: Iterable[Round]) -> set[str]:
    return {key for round_ in rounds for execution in round_.executions
            for key in chunk_photos(settings, store, execution)}
