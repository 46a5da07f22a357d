"""Least-privilege check of the IAM policies in a CloudFormation template.

Reports every ``Allow`` statement of an identity policy (``AWS::IAM::Role`` inline policies,
``AWS::IAM::Policy``, ``AWS::IAM::ManagedPolicy``, SAM ``Policies``) that grants ``*`` or a
whole service (``service:*``), uses ``NotAction``, names an action IAM does not have, or attaches a
managed policy this check cannot read. Resources follow IAM's action table (cfn-lint's, see
:mod:`deploy.cloudformation.iam_actions`): ``Resource: "*"`` (or an unconditioned ``NotResource``) is
accepted only for actions without a resource type, which IAM authorizes on ``*`` alone, or for the few
listed in :data:`RESOURCE_WILDCARD_EXCEPTIONS` with their reason; and an action without a resource type
in a statement scoped to ARNs is reported, since that statement never allows it. Resource policies
(bucket, key, topic) are out of scope: their ``*`` means "this resource".

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

from deploy.cloudformation import iam_actions
from deploy.cloudformation.cfn_template import TEMPLATE_FILE, load_template

RESOURCE_WILDCARD_EXCEPTIONS: dict[str, str] = {
    "cloudwatch:PutMetricData": "IAM lists only CloudWatch datasets as its resource; metrics published without a "
                                "dataset (SageMaker jobs, the analyzer) are authorized on '*'",
}
"""Actions with a resource type that still need ``Resource: "*"``, each with the reason."""
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


def _action_problems(actions: list[str]) -> list[str]:
    problems = []
    for action in actions:
        if action == "*" or _WHOLE_SERVICE.match(action):
            problems.append(f"action {action!r} grants a whole service: list the actions the code calls")
        elif not (iam_actions.expand(action) if "*" in action or "?" in action else iam_actions.known(action)):
            problems.append(f"action {action!r} is not in IAM's action table: check its spelling")
    return problems


def _acts_on_resources(action: str) -> bool:
    """Whether any action the pattern grants has a resource type (it can then be scoped to ARNs)."""
    expanded = iam_actions.expand(action) if "*" in action or "?" in action else [action]
    return any(iam_actions.has_resource_type(a) for a in expanded if iam_actions.known(a))


def statement_problems(statement: dict[str, Any]) -> list[str]:
    """Why an ``Allow`` statement is over-broad or can never allow what it lists (empty when it is right)."""
    if statement.get("Effect") != "Allow":
        return []
    if "NotAction" in statement:
        return ["Allow with NotAction grants every other action: list the actions instead"]
    actions = [a for a in _as_list(statement.get("Action", [])) if isinstance(a, str)]
    problems = _action_problems(actions)
    known = [a for a in actions if a != "*" and not _WHOLE_SERVICE.match(a)
             and (iam_actions.expand(a) if "*" in a or "?" in a else iam_actions.known(a))]
    resources = _as_list(statement.get("Resource", []))
    broad_resource = "*" in resources or ("NotResource" in statement and "Condition" not in statement)
    if broad_resource:
        scoped = [a for a in known if _acts_on_resources(a) and a not in RESOURCE_WILDCARD_EXCEPTIONS]
        if scoped:
            problems.append(
                f"Resource '*' for {', '.join(scoped)}, which act on resource types: scope them to ARNs "
                "('*' is for actions without a resource type)"
            )
    elif resources:
        unscoped = [a for a in known if not _acts_on_resources(a)]
        if unscoped:
            problems.append(
                f"{', '.join(unscoped)}: no resource type, so IAM allows it only with Resource '*' and this "
                "statement never does; move it to a statement with Resource '*'"
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
        print(f"{len(findings)} IAM statement(s) to fix in {args.template}", file=sys.stderr)
        return 1
    print(f"{args.template}: every IAM statement is scoped, with '*' only for actions without a resource type")
    return 0


if __name__ == "__main__":
    sys.exit(main())
