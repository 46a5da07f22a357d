"""The decision policy: what to do about an interval's violations (ignore / alert / retrain, with a cooldown).

Pure: it reads a result and the settings and answers; recording and announcing happen elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from include.intervals import as_utc
from include.settings import Settings

ACTIONS = ("none", "no_traffic", "alert", "retrain")


@dataclass(frozen=True)
class Decision:
    """What to do about an interval: ``none``, ``no_traffic``, ``alert`` or ``retrain``, and why."""

    action: str
    reasons: list[str] = field(default_factory=list)
    violations: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _describe(violation: Mapping[str, Any]) -> str:
    return f"{violation['constraint_check_type']} on {violation['feature_name']}"


def decide(result: Mapping[str, Any], settings: Settings, last_retrain_at: datetime | None,
           now: datetime) -> Decision:
    """Map each violation to its configured action; retrain wins, then alert; honour min count and cooldown."""
    if result["no_traffic"]:
        return Decision("no_traffic", ["no capture records in the window: nothing to compare with the baseline"])
    monitor = settings.monitor
    counted = []
    for violation in result["violations"]:
        action = monitor.action_for(violation["constraint_check_type"], violation["feature_name"])
        if action != "ignore":
            counted.append({**violation, "action": action})
    ignored = len(result["violations"]) - len(counted)
    if len(counted) < monitor.min_violations:
        reason = (f"{len(counted)} counted violation(s) ({ignored} ignored), below "
                  f"monitor.min_violations={monitor.min_violations}")
        return Decision("none", [reason], counted)
    reasons = [f"{_describe(v)} -> {v['action']}: {v.get('description', '')}" for v in counted]
    action = "retrain" if any(v["action"] == "retrain" for v in counted) else "alert"
    if action == "retrain" and last_retrain_at is not None:
        cooldown = timedelta(hours=monitor.retrain_cooldown_hours)
        if as_utc(now) - as_utc(last_retrain_at) < cooldown:
            action = "alert"
            reasons.append(f"retraining was last triggered at {as_utc(last_retrain_at).isoformat()}, within "
                           f"monitor.retrain_cooldown_hours={monitor.retrain_cooldown_hours}: alerting instead")
    return Decision(action, reasons, counted)


def retrain_conf(decision: Decision, run_key: str) -> dict:
    """``scones_train``'s conf: the reason (its ``reason`` param) and the violations behind it."""
    drifted = [_describe(v) for v in decision.violations if v["action"] == "retrain"]
    reason = f"drift detected by scones_monitor run {run_key}: " + "; ".join(drifted)
    return {"reason": reason, "violations": decision.violations}
