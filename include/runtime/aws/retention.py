"""The ``aws`` runtime's retention: the bucket's lifecycle rules delete expired objects; this checks they are ours.

The stack's template declares one lifecycle rule per ``[retention]`` rule (same ``Id``, prefix and days, passed as
stack parameters) and one for replaced versions elsewhere. The plan reads the bucket's lifecycle configuration
and names every rule that is missing, disabled, on another prefix or with other days than the settings say;
applying a plan with problems fails, naming the fix. Nothing is listed or deleted here: S3 does that.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from include.retention import NONCURRENT_RULE_ID, RetentionRule
from include.runtime.aws.clients import LazyClient, s3_client
from include.runtime.capabilities import RetentionNotAppliedError, refuse_foreign_plan
from include.settings import Settings

FIX = ("update the stack with the settings' retention: make stack-parameters, then sam deploy with "
       "build/cloudformation/parameter-overrides.txt (README, Run on AWS, step 2)")


def _prefix(rule: Mapping[str, Any]) -> str | None:
    """A lifecycle rule's prefix, whether S3 reports it as ``Prefix`` or ``Filter.Prefix`` (``""``: the bucket)."""
    if "Prefix" in rule:
        return rule["Prefix"]
    return (rule.get("Filter") or {}).get("Prefix", "")


def rule_problem(bucket_rule: Mapping[str, Any] | None, *, prefix: str, days: int | None,
                 noncurrent_days: int) -> str | None:
    """Why the bucket's rule does not do what the settings say, or ``None`` when it does."""
    if bucket_rule is None:
        return "the bucket has no such lifecycle rule"
    found = []
    if bucket_rule.get("Status") != "Enabled":
        found.append(f"status {bucket_rule.get('Status')}")
    if _prefix(bucket_rule) != prefix:
        found.append(f"prefix {_prefix(bucket_rule)!r}, not {prefix!r}")
    if days is not None and (bucket_rule.get("Expiration") or {}).get("Days") != days:
        found.append(f"expiration {(bucket_rule.get('Expiration') or {}).get('Days')} days, not {days}")
    kept = (bucket_rule.get("NoncurrentVersionExpiration") or {}).get("NoncurrentDays")
    if kept != noncurrent_days:
        found.append(f"replaced versions kept {kept} days, not {noncurrent_days}")
    return "; ".join(found) or None


class LifecycleRetention:
    """:class:`~include.runtime.capabilities.Retention` by the bucket's S3 lifecycle rules."""

    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self.settings = settings
        self._client = client

    client = LazyClient(s3_client)

    def _bucket_rules(self) -> dict[str, dict]:
        try:
            response = self.client.get_bucket_lifecycle_configuration(Bucket=self.settings.bucket)
        except self.client.exceptions.ClientError as error:
            if error.response["Error"]["Code"] == "NoSuchLifecycleConfiguration":
                return {}
            raise
        return {rule.get("ID", ""): rule for rule in response.get("Rules", [])}

    def plan(self, rules: list[RetentionRule], now: datetime) -> dict[str, Any]:
        bucket_rules, retention = self._bucket_rules(), self.settings.retention
        planned = [{"rule_id": rule.rule_id, "prefix": rule.prefix, "days": rule.days, "expired": [],
                    "problem": rule_problem(bucket_rules.get(rule.rule_id), prefix=rule.prefix, days=rule.days,
                                            noncurrent_days=retention.photo_versions_days)}
                   for rule in rules]
        planned.append({"rule_id": NONCURRENT_RULE_ID, "prefix": "", "days": None, "expired": [],
                        "problem": rule_problem(bucket_rules.get(NONCURRENT_RULE_ID), prefix="", days=None,
                                                noncurrent_days=retention.other_versions_days)})
        return {"runtime": "aws", "now": now.isoformat(), "bucket": self.settings.bucket, "rules": planned}

    def apply(self, plan: dict[str, Any]) -> list[str]:
        refuse_foreign_plan(plan, "aws")
        problems = [f"{rule['rule_id']}: {rule['problem']}" for rule in plan["rules"] if rule["problem"]]
        if problems:
            raise RetentionNotAppliedError(
                f"bucket {plan['bucket']} does not expire courier photos as the [retention] settings say ("
                + "; ".join(problems) + f"): {FIX}")
        return []
