"""Claiming a retrain: one document of the retrains monitor runs claimed, replaced only by a conditional write.

Deciding and claiming are one step. A run that decides to retrain appends its claim and writes the
document only if nobody changed it since it was read (S3 ``If-None-Match`` / ``If-Match``; the local store
does the same); when another run won the race, it reads the new claims and decides again — inside the
cooldown of the winner's interval that is an alert. So two monitor runs over drifted windows (overlapping
backfill runs, a backfill beside the scheduled runs) trigger one retrain, however they interleave. A run
that finds its own claim (a retried task, a cleared run) retrains as before and triggers the same
``scones_train`` run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from include.settings import Settings
from include.storage import ObjectNotFoundError, ObjectStore
from include.workflows.monitoring.decision import Decision, RetrainClaim, decide, retrain_conf
from include.workflows.monitoring.layout import retrain_claims_uri

CLAIMS_KEPT = 500
"""Claims older than the newest ``CLAIMS_KEPT`` are dropped: a claim only matters within one cooldown."""
CLAIM_ATTEMPTS = 20


class RetrainClaimContendedError(RuntimeError):
    """The claims document kept changing under this run; it is transient: the task's retry decides again."""


def read_claims(settings: Settings, store: ObjectStore) -> tuple[list[RetrainClaim], str | None]:
    """The claims so far and the document's version (``None`` while no run has claimed a retrain)."""
    try:
        data, version = store.get_with_version(retrain_claims_uri(settings))
    except ObjectNotFoundError:
        return [], None
    return [RetrainClaim.from_dict(item) for item in json.loads(data)["claims"]], version


def _document(claims: list[RetrainClaim]) -> bytes:
    newest = sorted(claims, key=lambda c: c.interval_end)[-CLAIMS_KEPT:]
    return json.dumps({"claims": [c.as_dict() for c in newest]}, indent=2).encode()


def decide_and_claim(settings: Settings, store: ObjectStore, result: Mapping[str, Any], *, run_key: str,
                     interval_end: datetime, backfill: bool) -> Decision:
    """The interval's decision; a ``retrain`` is returned only once this run's claim is written."""
    uri = retrain_claims_uri(settings)
    for _ in range(CLAIM_ATTEMPTS):
        claims, version = read_claims(settings, store)
        verdict = decide(result, settings, interval_end=interval_end, run_key=run_key, claims=claims,
                         backfill=backfill)
        if verdict.action != "retrain" or any(c.run_key == run_key for c in claims):
            return verdict
        claim = RetrainClaim(interval_end, run_key, retrain_conf(verdict, run_key)["reason"])
        document = _document([*claims, claim])
        won = store.put_if_absent(uri, document) if version is None else store.put_if_version(uri, document, version)
        if won:
            return verdict
    raise RetrainClaimContendedError(f"the retrain claims at {uri} changed {CLAIM_ATTEMPTS} times while run "
                                     f"{run_key} tried to claim; clear the decide_action task to decide again")
