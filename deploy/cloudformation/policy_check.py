"""Least-privilege check of the IAM policies in a CloudFormation template.

Reports every ``Allow`` statement of an identity policy (``AWS::IAM::Role`` inline policies,
``AWS::IAM::Policy``, ``AWS::IAM::ManagedPolicy``, SAM ``Policies``) that grants ``*`` or a
whole service (``service:*``), uses ``NotAction``, applies to ``Resource: "*"`` (or an
unconditioned ``NotResource``), or attaches a managed policy this check cannot read. A
``Resource: "*"`` statement passes only when every one of its actions is in
:data:`RESOURCE_WILDCARD_ALLOWLIST`, each listed with the reason it needs ``*``. Resource
policies (bucket, key, topic) are out of scope: their ``*`` means "this resource".

Usage: ``python -m deploy.cloudformation.policy_check [TEMPLATE]`` (exit 1 when anything is reported).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.cloudformation.cfn_template import TEMPLATE_FILE, load_template

_LOG_DELIVERY = "CloudWatch Logs vended-log delivery (Step Functions logging) has no resource-level permissions"
_SAGEMAKER_LISTING = "SageMaker List and Search calls have no resource-level permissions"
RESOURCE_WILDCARD_ALLOWLIST: dict[str, str] = {
    "ecr:GetAuthorizationToken": "returns the registry login token; it has no resource-level permissions",
    "cloudwatch:PutMetricData": "CloudWatch metrics have no resource ARNs",
    "logs:DescribeLogGroups": "lists the account's log groups; it has no resource-level permissions",
    "s3:GetAccountPublicAccessBlock": "an account-level setting MWAA reads; it has no resource",
    "logs:CreateLogDelivery": _LOG_DELIVERY,
    "logs:GetLogDelivery": _LOG_DELIVERY,
    "logs:UpdateLogDelivery": _LOG_DELIVERY,
    "logs:DeleteLogDelivery": _LOG_DELIVERY,
    "logs:ListLogDeliveries": _LOG_DELIVERY,
    "logs:PutResourcePolicy": _LOG_DELIVERY,
    "logs:DescribeResourcePolicies": _LOG_DELIVERY,
    "sagemaker:ListEndpoints": _SAGEMAKER_LISTING,
    "sagemaker:ListEndpointConfigs": _SAGEMAKER_LISTING,
    "sagemaker:ListModels": _SAGEMAKER_LISTING,
    "sagemaker:ListMonitoringSchedules": _SAGEMAKER_LISTING,
    "sagemaker:ListProcessingJobs": _SAGEMAKER_LISTING,
    "sagemaker:ListTrainingJobs": _SAGEMAKER_LISTING,
    "sagemaker:ListHyperParameterTuningJobs": _SAGEMAKER_LISTING,
    "sagemaker:Search": _SAGEMAKER_LISTING,
}
_WHOLE_SERVICE = re.compile(r"^[a-z0-9-]+:\*$")


@dataclass(frozen=True)
class Finding:
    """One over-broad statement: where it is and why it was reported."""

    resource: str
    policy: str
    sid: str
    problem: str

    def __str__(self) -> str:
        return f"{self.resource} / {self.policy} / {self.sid or '(no Sid)'}: {self.problem}"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def identity_policies(template: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """``(logical id, policy name, document or managed-policy reference)`` for every identity policy."""
    for logical_id, resource in template.get("Resources", {}).items():
        kind, properties = resource.get("Type", ""), resource.get("Properties", {}) or {}
        if kind == "AWS::IAM::Role":
            for policy in properties.get("Policies", []):
                yield logical_id, policy.get("PolicyName", "(unnamed)"), policy.get("PolicyDocument", {})
            for arn in properties.get("ManagedPolicyArns", []):
                yield logical_id, "ManagedPolicyArns", arn
        elif kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            yield logical_id, properties.get("PolicyName", logical_id), properties.get("PolicyDocument", {})
        elif kind in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
            for index, policy in enumerate(_as_list(properties.get("Policies", []))):
                yield logical_id, f"Policies[{index}]", policy


def statement_problems(statement: dict[str, Any]) -> list[str]:
    """Why an ``Allow`` statement is over-broad (empty when it is scoped)."""
    if statement.get("Effect") != "Allow":
        return []
    if "NotAction" in statement:
        return ["Allow with NotAction grants every other action: list the actions instead"]
    actions = [a for a in _as_list(statement.get("Action", [])) if isinstance(a, str)]
    problems = [
        f"action {action!r} grants a whole service: list the actions the code calls"
        for action in actions if action == "*" or _WHOLE_SERVICE.match(action)
    ]
    resources = _as_list(statement.get("Resource", []))
    broad_resource = "*" in resources or ("NotResource" in statement and "Condition" not in statement)
    if broad_resource:
        unlisted = [a for a in actions if a not in RESOURCE_WILDCARD_ALLOWLIST]
        if unlisted:
            problems.append(
                f"Resource '*' for {', '.join(unlisted)}: scope it to ARNs, or add the action to "
                "RESOURCE_WILDCARD_ALLOWLIST with the reason it needs '*'"
            )
    return problems


def check_template(template: dict[str, Any]) -> list[Finding]:
    """Every over-broad statement in the template's identity policies."""
    findings: list[Finding] = []
    for logical_id, policy_name, document in identity_policies(template):
        if not isinstance(document, dict) or "Statement" not in document:
            problem = f"managed or templated policy {document!r} cannot be checked: inline its statements"
            findings.append(Finding(logical_id, policy_name, "", problem))
            continue
        for statement in _as_list(document["Statement"]):
            for problem in statement_problems(statement):
                findings.append(Finding(logical_id, policy_name, statement.get("Sid", ""), problem))
    return findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Report over-broad IAM statements in a CloudFormation template.")
    parser.add_argument("template", type=Path, nargs="?", default=TEMPLATE_FILE)
    args = parser.parse_args(argv)
    findings = check_template(load_template(args.template))
    for finding in findings:
        print(finding, file=sys.stderr)
    if findings:
        print(f"{len(findings)} over-broad IAM statement(s) in {args.template}", file=sys.stderr)
        return 1
    print(f"{args.template}: every IAM statement is scoped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
