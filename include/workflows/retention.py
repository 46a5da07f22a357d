"""The retention workflow: plan what the ``[retention]`` rules expire now (a dry run), then expire exactly that.

Where the objects live decides how (:class:`~include.runtime.capabilities.Retention`): under the data root the
plan's objects are deleted; on AWS the bucket's lifecycle rules delete them and the plan checks those rules.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from include.retention import retention_rules
from include.runtime.capabilities import Retention
from include.settings import Settings

LOG = logging.getLogger(__name__)


def plan_expiry(settings: Settings, retention: Retention, now: datetime) -> dict[str, Any]:
    """What each rule expires at ``now``, logged one line per rule; nothing is deleted."""
    plan = retention.plan(retention_rules(settings), now)
    for rule in plan["rules"]:
        if rule["problem"]:
            LOG.warning("%s (%s): %s", rule["rule_id"], rule["prefix"] or "the bucket", rule["problem"])
            continue
        size = sum(item["size"] for item in rule["expired"])
        LOG.info("%s: %d objects under %s older than %s days (%d bytes)", rule["rule_id"], len(rule["expired"]),
                 rule["prefix"] or "the bucket", rule["days"], size)
    return plan


def expire_objects(retention: Retention, plan: dict[str, Any], *, dry_run: bool) -> dict[str, Any]:
    """Carry out ``plan`` unless ``dry_run``; ``{"deleted": n, "dry_run": bool}``."""
    planned = sum(len(rule["expired"]) for rule in plan["rules"])
    if dry_run:
        LOG.info("dry run: %d objects would be deleted; trigger with dry_run=false to delete them", planned)
        return {"deleted": 0, "planned": planned, "dry_run": True}
    deleted = retention.apply(plan)
    LOG.info("deleted %d of the %d objects planned", len(deleted), planned)
    return {"deleted": len(deleted), "planned": planned, "dry_run": False}
