"""The decision policy: what to do about an interval's violations (ignore / alert / retrain).

Pure: it reads a result, the settings and the retrains already claimed, and answers; claiming and
announcing happen elsewhere (``retraining``, ``announce``). Time is data-interval time: the cooldown
compares the interval's end with the ends of the intervals that claimed a retrain, never with the wall
clock, so a backfill of last week is judged against last week.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


@dataclass(frozen=True)
class RetrainClaim:
    """A retrain some monitor run claimed: the end of the interval it analysed, its run key and why."""

    interval_end: datetime
    run_key: str
    reason: str

    def as_dict(self) -> dict:
        return {"interval_end": as_utc(self.interval_end).isoformat(), "run_key": self.run_key, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RetrainClaim:
        return cls(datetime.fromisoformat(data["interval_end"]), data["run_key"], data.get("reason", ""))


def describe(violation: Mapping[str, Any]) -> str:
    return f"{violation['constraint_check_type']} on {violation['feature_name']}"


def cooling_claim(claims: Sequence[RetrainClaim], interval_end: datetime, cooldown: timedelta,
                  run_key: str) -> RetrainClaim | None:
    """Another run's claim whose interval ended within ``cooldown`` of this one's (either side), if any."""
    end = as_utc(interval_end)
    near = [c for c in claims if c.run_key != run_key and abs(as_utc(c.interval_end) - end) < cooldown]
    return min(near, key=lambda c: abs(as_utc(c.interval_end) - end), default=None)


def decide(result: Mapping[str, Any], settings: Settings, *, interval_end: datetime, run_key: str = "",
           claims: Sequence[RetrainClaim] = (), backfill: bool = False) -> Decision:
    """Map each violation to its configured action; retrain wins, then alert; honour the minimum count, the
    backfill rule (``monitor.retrain_on_backfill``) and the cooldown in data-interval time."""
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
    reasons = [f"{describe(v)} -> {v['action']}: {v.get('description', '')}" for v in counted]
    if not any(v["action"] == "retrain" for v in counted):
        return Decision("alert", reasons, counted)
    if backfill and not monitor.retrain_on_backfill:
        reasons.append("a backfilled interval: its drift is reported, not retrained on "
                       "(monitor.retrain_on_backfill=false)")
        return Decision("alert", reasons, counted)
    cooldown = timedelta(hours=monitor.retrain_cooldown_hours)
    claim = cooling_claim(claims, interval_end, cooldown, run_key)
    if claim is not None:
        reasons.append(f"run {claim.run_key} claimed a retrain for the interval ending "
                       f"{as_utc(claim.interval_end).isoformat()}, within monitor.retrain_cooldown_hours="
                       f"{monitor.retrain_cooldown_hours:g} of this interval's end "
                       f"{as_utc(interval_end).isoformat()}: alerting instead")
        return Decision("alert", reasons, counted)
    return Decision("retrain", reasons, counted)


def retrain_conf(decision: Decision, run_key: str) -> dict:
    """``scones_train``'s conf: the reason (its ``reason`` param) and the violations behind it."""
    drifted = [describe(v) for v in decision.violations if v["action"] == "retrain"]
    reason = f"drift detected by scones_monitor run {run_key}: " + "; ".join(drifted)
    return {"reason": reason, "violations": decision.violations}
