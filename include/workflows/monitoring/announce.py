"""The message an engineer reads about an interval, logged and sent to the runtime's alerts."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from include.runtime.capabilities import Alerts

LOG = logging.getLogger(__name__)


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


def announce(alerts: Alerts, decision: Mapping[str, Any], *, run_key: str, report_uri: str) -> str:
    """Log the decision (a WARNING for drift) and send drift to the runtime's alerts; returns the message."""
    message = announcement(decision, run_key=run_key, report_uri=report_uri)
    if decision["action"] in ("alert", "retrain"):
        LOG.warning(message)
        alerts.publish(f"Scones drift: {decision['action']}", message)
    else:
        LOG.info(message)
    return message
