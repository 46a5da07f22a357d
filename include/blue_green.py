"""How a blue/green update shifts traffic: its steps, each step's share of the new fleet, the bake, its time limit.

SageMaker's deployment guardrails (``BlueGreenUpdatePolicy.TrafficRoutingConfiguration``) and the local model
server's simulation both read the plan from here, so ``[deploy]`` means the same thing in both runtimes:

- ``ALL_AT_ONCE``: all traffic moves to the new (green) fleet, then one bake;
- ``CANARY``: ``traffic_step_percent`` of it first, a bake, then the rest and a final bake;
- ``LINEAR``: ``traffic_step_percent`` more at every step, each step baked.

During every bake the rollback alarms are watched; one in alarm sends all traffic back to the old (blue)
fleet. Settings are passed as the ``[deploy]`` section so this module needs nothing that imports the settings.
"""

from __future__ import annotations

import math
from typing import Any, Literal

TrafficRouting = Literal["ALL_AT_ONCE", "CANARY", "LINEAR"]
PROVISIONING_ALLOWANCE_SECONDS = 1800
"""Time allowed for SageMaker to provision the green fleet before traffic shifts."""
EXECUTION_TIMEOUT_MIN_SECONDS = 600
EXECUTION_TIMEOUT_MAX_SECONDS = 28800
"""SageMaker's bounds on ``MaximumExecutionTimeoutInSeconds``."""
CANARY_MAX_PERCENT = 50
LINEAR_MIN_PERCENT, LINEAR_MAX_PERCENT = 10, 50
"""SageMaker's bounds on a canary's and a linear step's share of the green fleet's capacity."""


def green_shares(routing: str, step_percent: int) -> list[float]:
    """The green fleet's share of traffic after each step, ending at 1.0: ``[0.1, 1.0]`` for a 10% canary."""
    if routing == "ALL_AT_ONCE":
        return [1.0]
    if routing == "CANARY":
        return [step_percent / 100, 1.0]
    if routing == "LINEAR":
        steps = math.ceil(100 / step_percent)
        return [min(1.0, (step + 1) * step_percent / 100) for step in range(steps)]
    raise ValueError(f"traffic routing {routing!r} is not ALL_AT_ONCE, CANARY or LINEAR")


def bake_seconds(deploy: Any) -> int:
    """Each step's baking period (``WaitIntervalInSeconds``)."""
    return round(deploy.bake_minutes * 60)


def termination_wait_seconds(deploy: Any) -> int:
    return round(deploy.termination_wait_minutes * 60)


def update_time_limit_seconds(deploy: Any) -> int:
    """How long an update may take: provisioning, every step's bake, the wait before the blue fleet goes.

    Unclamped, so a plan SageMaker would refuse (over ``EXECUTION_TIMEOUT_MAX_SECONDS``) can be named.
    """
    steps = len(green_shares(deploy.traffic_routing, deploy.traffic_step_percent))
    return PROVISIONING_ALLOWANCE_SECONDS + steps * bake_seconds(deploy) + termination_wait_seconds(deploy)


def maximum_execution_timeout_seconds(deploy: Any) -> int:
    """``MaximumExecutionTimeoutInSeconds``: the update's time limit within SageMaker's bounds."""
    return max(EXECUTION_TIMEOUT_MIN_SECONDS, min(update_time_limit_seconds(deploy), EXECUTION_TIMEOUT_MAX_SECONDS))
