"""The teardown workflow: find what serves traffic or costs money, and remove it unless dry run.

What exists and how it is removed belongs to the runtime (:class:`~include.runtime.capabilities.Teardown`):
SageMaker endpoints and their monitoring schedules on AWS, the local model server on this machine.
"""

from __future__ import annotations

import logging
from typing import Any

from include.runtime.capabilities import Teardown

LOG = logging.getLogger(__name__)
LISTED = ("monitoring_schedules", "endpoints", "endpoint_configs", "models")


def plan_teardown(teardown: Teardown) -> dict[str, Any]:
    """The resources found and the actions a real run takes, logged one per line."""
    plan = teardown.plan()
    for name in LISTED:
        if name in plan:
            LOG.info("found %s: %s", name.replace("_", " "), plan[name] or "none")
    for action in plan["actions"] or ["nothing to tear down"]:
        LOG.info("plan: %s", action)
    return plan


def apply_teardown(teardown: Teardown, plan: dict[str, Any], dry_run: bool) -> list[str]:
    """Carry out ``plan`` (nothing when ``dry_run``); returns what was done."""
    if dry_run:
        for action in plan["actions"]:
            LOG.info("dry run: would %s", action)
        LOG.info("dry run: nothing changed; trigger with dry_run=false to tear down")
        return []
    done = teardown.apply(plan)
    for line in done:
        LOG.info("%s", line)
    return done
