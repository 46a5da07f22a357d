"""The message an engineer reads about an interval, logged, and sent to the runtime's alerts once per incident.

An incident is one violation set seen on consecutive intervals: the interval that first shows it alerts,
the ones after it that show the same set only log (an hour of a cooldown no longer pages anyone again).
A retrain decision is always sent, once: a re-run of an interval (cleared, retried, backfilled) that decides
what it decided before only logs. Each interval's violation set is kept under ``incidents/`` for the next.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from include.intervals import as_utc
from include.runtime.capabilities import Alerts
from include.settings import Settings
from include.storage import ObjectNotFoundError, ObjectStore
from include.workflows.monitoring.layout import incident_uri

LOG = logging.getLogger(__name__)
DRIFT_ACTIONS = ("alert", "retrain")


def announcement(decision: Mapping[str, Any], *, run_key: str, report_uri: str) -> str:
    """One message an engineer reads: what the monitor decided for this run, why, and where the report is."""
    headline = {
        "none": "no drift",
        "no_traffic": "no traffic (not drift)",
        "alert": "DRIFT ALERT",
        "retrain": "DRIFT: retraining triggered",
    }[decision["action"]]
    lines = [f"scones_monitor {run_key}: {headline}", *(f"- {r}" for r in decision["reasons"]), f"report: {report_uri}"]
    return "\n".join(lines)


def announce(alerts: Alerts, decision: Mapping[str, Any], *, run_key: str, report_uri: str,
             ongoing: bool = False, repeated: bool = False) -> str:
    """Log the decision (a WARNING for drift) and send drift to the runtime's alerts unless it continues an
    incident already alerted (``ongoing``) without retraining, or repeats what this interval already
    announced (``repeated``: a cleared, retried or backfilled run); returns the message."""
    message = announcement(decision, run_key=run_key, report_uri=report_uri)
    if decision["action"] not in DRIFT_ACTIONS:
        LOG.info(message)
        return message
    LOG.warning(message)
    if repeated:
        LOG.info("this interval was announced already with the same decision (a re-run): not sent again")
    elif ongoing and decision["action"] != "retrain":
        LOG.info("the same violations as the previous interval: one incident, alerted already; not sent again")
    else:
        alerts.publish(f"Scones drift: {decision['action']}", message)
    return message


def violation_set(decision: Mapping[str, Any]) -> list[str]:
    """The incident's identity: the sorted ``check:feature`` pairs of the counted violations (empty without drift)."""
    if decision["action"] not in DRIFT_ACTIONS:
        return []
    return sorted({f"{v['constraint_check_type']}:{v['feature_name']}" for v in decision["violations"]})


def _interval_key(moment: datetime) -> str:
    return f"{as_utc(moment):%Y%m%dT%H%M%S}"


def continues_incident(settings: Settings, store: ObjectStore, decision: Mapping[str, Any], *, start: datetime,
                       end: datetime) -> bool:
    """Whether the interval just before ``[start, end)`` showed the same, non-empty violation set."""
    current = violation_set(decision)
    if not current:
        return False
    previous = as_utc(start) - (as_utc(end) - as_utc(start))
    try:
        record = json.loads(store.get_bytes(incident_uri(settings, _interval_key(previous))))
    except ObjectNotFoundError:
        return False
    return record.get("violations") == current


def announced_already(settings: Settings, store: ObjectStore, decision: Mapping[str, Any], *,
                      start: datetime) -> bool:
    """Whether an earlier run of this same interval announced the same violation set, with the same action or a
    retrain (a backfilled re-run of a retrained interval decides ``alert``: the retrain said it already)."""
    try:
        record = json.loads(store.get_bytes(incident_uri(settings, _interval_key(start))))
    except ObjectNotFoundError:
        return False
    return (record.get("violations") == violation_set(decision)
            and record.get("action") in (decision["action"], "retrain"))


def record_interval(settings: Settings, store: ObjectStore, decision: Mapping[str, Any], *, start: datetime,
                    run_key: str) -> None:
    record = {"interval_start": as_utc(start).isoformat(), "run_key": run_key, "action": decision["action"],
              "violations": violation_set(decision)}
    store.put_bytes(incident_uri(settings, _interval_key(start)), json.dumps(record, indent=2).encode())


def announce_interval(settings: Settings, store: ObjectStore, alerts: Alerts, decision: Mapping[str, Any], *,
                      run_key: str, report_uri: str, start: datetime, end: datetime) -> str:
    """Announce the interval's decision once per incident and remember its violation set for the next interval."""
    ongoing = continues_incident(settings, store, decision, start=start, end=end)
    repeated = announced_already(settings, store, decision, start=start)
    message = announce(alerts, decision, run_key=run_key, report_uri=report_uri, ongoing=ongoing, repeated=repeated)
    if not repeated:  # keep what was announced (a retrain stays a retrain)
        record_interval(settings, store, decision, start=start, run_key=run_key)
    return message
