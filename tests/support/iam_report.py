"""The IAM evaluations a test session made, printed per role at the end of the run (see ``tests/conftest.py``)."""

from __future__ import annotations

from collections import defaultdict

from deploy.cloudformation import iam_actions
from deploy.cloudformation.iam_evaluation import Decision, RoleEvaluation

EVALUATIONS: list[RoleEvaluation] = []
POLICY_CHECKS: list[str] = []


def record(evaluation: RoleEvaluation) -> RoleEvaluation:
    """Keep ``evaluation`` for the session's summary and print its own counts."""
    EVALUATIONS.append(evaluation)
    print(evaluation.summary())
    return evaluation


def record_policy_check(statements: int, actions: int, wildcard_actions: int, star_resources: int,
                        findings: int) -> None:
    """The template's static check: how many statements and actions, ``*`` actions, ``*`` resources."""
    POLICY_CHECKS.append(f"template: {statements} identity-policy statements, {actions} actions: {wildcard_actions} "
                         f"'*' or whole-service actions; {star_resources} statements on Resource '*' (actions "
                         f"without a resource type, or a listed exception); {findings} policy-check findings")


def summary_lines() -> list[str]:
    """One line per role: distinct requests and actions checked, denied, and what ran on ``Resource: "*"``."""
    by_role: dict[str, dict[tuple[str, str], Decision]] = defaultdict(dict)
    for evaluation in EVALUATIONS:
        for decision in evaluation.decisions:
            by_role[evaluation.role].setdefault((decision.request.action, decision.request.resource), decision)
    lines = []
    for role, decisions in sorted(by_role.items()):
        actions = {action for action, _ in decisions}
        on_star = {action for action, resource in decisions if resource == "*"}
        denied = sum(not d.allowed for d in decisions.values())
        assumed = sum(bool(d.allowed and d.assumed_conditions) for d in decisions.values())
        lines.append(f"{role}: {len(decisions)} distinct requests, {len(actions)} actions: {denied} denied; "
                     f"{len(on_star)} on Resource '*' "
                     f"({sum(not iam_actions.has_resource_type(a) for a in on_star)} without a resource type); "
                     f"{assumed} allowed under conditions assumed to hold")
    return POLICY_CHECKS[-1:] + lines
