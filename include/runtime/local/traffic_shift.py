"""The local model server's blue/green traffic shifting: SageMaker's deployment guardrails, simulated.

A deploy request may carry a ``traffic_shifting`` plan (:func:`shift_plan` builds it from the UpdateEndpoint
request's ``DeploymentConfig`` and the ``[deploy]`` alarm thresholds): the green (new) model's share of
invocations after each step, the bake after each step, and the two alarm conditions. While a step bakes, the
share of invocations it gives green goes to green (counted, not drawn: after ``n`` invocations green has
served ``floor(n * share)`` of them), and green's answers are watched: its server errors (5xx) reaching
``max_errors``, or its mean latency exceeding ``max_latency_ms``, is the rollback alarm, and every invocation
goes back to blue. A plan without alarms bakes without rolling back, as SageMaker does without alarms.
The old model goes as soon as the last bake passes: ``termination_wait_minutes`` is not simulated.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from include.blue_green import green_shares

BLUE, GREEN = "blue", "green"


class TrafficShiftingError(ValueError):
    """A ``traffic_shifting`` plan that is malformed."""


@dataclass(frozen=True)
class ShiftPlan:
    green_shares: tuple[float, ...]
    bake_seconds: float
    max_errors: int | None = None
    max_latency_ms: float | None = None

    @classmethod
    def from_request(cls, document: Mapping[str, Any]) -> ShiftPlan:
        try:
            shares = tuple(float(share) for share in document["green_shares"])
            plan = cls(shares, float(document["bake_seconds"]),
                       None if document.get("max_errors") is None else int(document["max_errors"]),
                       None if document.get("max_latency_ms") is None else float(document["max_latency_ms"]))
        except (KeyError, TypeError, ValueError) as error:
            raise TrafficShiftingError(f"traffic_shifting needs green_shares and bake_seconds: {error}") from error
        if not shares or shares[-1] != 1.0 or any(not 0 < share <= 1 for share in shares) or plan.bake_seconds < 0:
            raise TrafficShiftingError(f"traffic_shifting green_shares {list(shares)} must rise to 1.0, bake_seconds "
                                       f"{plan.bake_seconds} must not be negative")
        return plan

    def as_dict(self) -> dict[str, Any]:
        return {"green_shares": list(self.green_shares), "bake_seconds": self.bake_seconds,
                "max_errors": self.max_errors, "max_latency_ms": self.max_latency_ms}


def shift_plan(endpoint_request: Mapping[str, Any], *, max_errors: int, max_latency_ms: float) -> dict | None:
    """The ``traffic_shifting`` plan of an UpdateEndpoint-shaped request (``None`` without a blue/green policy).

    The alarm conditions apply when the request names rollback alarms (``AutoRollbackConfiguration``).
    """
    policy = (endpoint_request.get("DeploymentConfig") or {}).get("BlueGreenUpdatePolicy")
    if not policy:
        return None
    routing = policy["TrafficRoutingConfiguration"]
    step = (routing.get("CanarySize") or routing.get("LinearStepSize") or {}).get("Value", 100)
    alarmed = bool((endpoint_request["DeploymentConfig"].get("AutoRollbackConfiguration") or {}).get("Alarms"))
    return ShiftPlan(tuple(green_shares(routing["Type"], int(step))), float(routing["WaitIntervalInSeconds"]),
                     max_errors if alarmed else None, max_latency_ms if alarmed else None).as_dict()


@dataclass
class GreenWatch:
    """Green's answers during one bake."""

    invocations: int = 0
    server_errors: int = 0
    latency_ms_total: float = 0.0

    def record(self, latency_ms: float, server_error: bool) -> None:
        self.invocations += 1
        self.latency_ms_total += latency_ms
        self.server_errors += int(server_error)

    def alarm(self, plan: ShiftPlan) -> str | None:
        """Why the rollback alarm is on, or ``None``."""
        if plan.max_errors is not None and self.server_errors >= plan.max_errors:
            return f"error alarm: {self.server_errors} server errors from the new model (alarm at {plan.max_errors})"
        if plan.max_latency_ms is not None and self.invocations:
            mean = self.latency_ms_total / self.invocations
            if mean > plan.max_latency_ms:
                return (f"latency alarm: the new model's mean latency {mean:.0f} ms over {self.invocations} "
                        f"invocations exceeds {plan.max_latency_ms:g} ms")
        return None


@dataclass
class TrafficSplit:
    """Where each invocation goes while an update shifts traffic, and what green's answers were."""

    plan: ShiftPlan
    share: float = 0.0
    step: int = -1
    invocations: int = 0
    green_invocations: int = 0
    watch: GreenWatch = field(default_factory=GreenWatch)
    rolled_back: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _changed: threading.Event = field(default_factory=threading.Event, repr=False)

    def next_step(self) -> float:
        with self._lock:
            self.step += 1
            self.share = self.plan.green_shares[self.step]
            self.invocations = self.green_invocations = 0
            self.watch = GreenWatch()
            return self.share

    def route(self) -> str:
        """``green`` for the invocations that keep green's count at ``floor(n * share)``, else ``blue``."""
        with self._lock:
            if self.rolled_back:
                return BLUE
            self.invocations += 1
            if math.floor(self.invocations * self.share + 1e-9) > self.green_invocations:
                self.green_invocations += 1
                return GREEN
            return BLUE

    def record_green(self, latency_ms: float, server_error: bool) -> None:
        with self._lock:
            self.watch.record(latency_ms, server_error)
            reason = None if self.rolled_back else self.watch.alarm(self.plan)
            if reason:
                self.rolled_back = reason
        if reason:
            self._changed.set()

    def cancel(self, reason: str) -> None:
        """Roll back now (the server is stopping): every invocation goes to blue, the bake ends."""
        with self._lock:
            self.rolled_back = self.rolled_back or reason
        self._changed.set()

    def bake(self, sleep: Callable[[float], Any] | None = None) -> str | None:
        """Wait out this step's bake; the alarm's reason as soon as it trips, else ``None``."""
        if sleep is not None:
            sleep(self.plan.bake_seconds)
        else:
            self._changed.wait(self.plan.bake_seconds)
        return self.rolled_back

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {"green_share": self.share, "step": self.step + 1, "steps": len(self.plan.green_shares),
                    "invocations": self.invocations, "green_invocations": self.green_invocations,
                    "green_server_errors": self.watch.server_errors}


def run_shift(split: TrafficSplit, sleep: Callable[[float], Any] | None = None) -> str | None:
    """Every step of the plan, each baked; the rollback reason, or ``None`` once green takes all traffic."""
    for _ in split.plan.green_shares:
        split.next_step()
        reason = split.bake(sleep)
        if reason:
            return reason
    return None

