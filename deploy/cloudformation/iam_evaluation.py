"""Evaluate requests (an action on a resource) against a role's identity policies in the template.

The evaluation follows IAM's rules for one principal's identity policies: an explicit ``Deny`` wins, else
some ``Allow`` must match the action (``Action`` / ``NotAction`` patterns, case-insensitive) and the resource
(``Resource`` / ``NotResource`` patterns, case-sensitive), else the request is denied. An action with no
resource type in IAM's action table is requested on ``"*"``, so only a ``Resource: "*"`` statement allows it.

What it does not cover: ``Condition`` blocks are evaluated only for the keys a request states
(``iam:PassedToService``, ``kms:ViaService``); any other condition is assumed to hold and counted. Resource
policies (bucket, key, topic, repository policies), KMS grants, permission boundaries, session policies,
service control policies, trust policies and AWS managed policies are not evaluated.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from deploy.cloudformation import iam_actions
from deploy.cloudformation.stack_model import StackModel


class PolicyModelError(ValueError):
    """A role's permissions cannot be read from the template (e.g. an AWS managed policy)."""


@dataclass(frozen=True)
class Request:
    """One authorization IAM makes: ``action`` on ``resource`` (an ARN, or ``"*"``), by ``origin``."""

    action: str
    resource: str
    origin: str = field(default="", compare=False)
    context: tuple[tuple[str, str], ...] = ()
    """Condition keys the request states, e.g. ``(("iam:PassedToService", "sagemaker.amazonaws.com"),)``."""

    def __post_init__(self) -> None:
        if not iam_actions.known(self.action):
            raise iam_actions.UnknownActionError(f"{self.action} ({self.origin}) is not an IAM action")
        if not iam_actions.has_resource_type(self.action) and self.resource != "*":
            raise ValueError(f"{self.action} has no resource type: IAM authorizes it on '*', not {self.resource}")

    def __str__(self) -> str:
        return f"{self.action} on {self.resource}" + (f" ({self.origin})" if self.origin else "")


@dataclass(frozen=True)
class Decision:
    request: Request
    allowed: bool
    reason: str
    assumed_conditions: tuple[str, ...] = ()


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@functools.lru_cache(maxsize=4096)
def _pattern(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, 0 if case_sensitive else re.IGNORECASE)


def _glob(pattern: str, value: str, case_sensitive: bool) -> bool:
    """IAM's wildcards: ``*`` any run of characters (colons and slashes included), ``?`` one character."""
    return _pattern(pattern, case_sensitive).fullmatch(value) is not None


def _matches_action(statement: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(_glob(p, action, False) for p in _as_list(statement["NotAction"]))
    return any(_glob(p, action, False) for p in _as_list(statement.get("Action", [])))


def _matches_resource(statement: Mapping[str, Any], resource: str) -> bool:
    if "NotResource" in statement:
        return not any(_glob(p, resource, True) for p in _as_list(statement["NotResource"]))
    return any(_glob(p, resource, True) for p in _as_list(statement.get("Resource", [])))


_STRING_OPERATORS = {
    "StringEquals": lambda pattern, value: pattern == value,
    "StringLike": lambda pattern, value: fnmatch.fnmatchcase(value, pattern),
    "StringNotEquals": lambda pattern, value: pattern != value,
    "ArnEquals": lambda pattern, value: pattern == value,
    "ArnLike": lambda pattern, value: fnmatch.fnmatchcase(value, pattern),
}


def _condition(statement: Mapping[str, Any], context: Mapping[str, str]) -> tuple[bool, tuple[str, ...]]:
    """Whether the statement's condition holds for ``context``, and the keys assumed to hold (not in it)."""
    assumed: list[str] = []
    for operator, tests in (statement.get("Condition") or {}).items():
        for key, patterns in tests.items():
            if key not in context or operator not in _STRING_OPERATORS:
                assumed.append(f"{operator} {key}")
                continue
            compare = _STRING_OPERATORS[operator]
            if not any(compare(str(p), context[key]) for p in _as_list(patterns)):
                return False, ()
    return True, tuple(assumed)


def decide(statements: Iterable[Mapping[str, Any]], request: Request) -> Decision:
    """IAM's decision for ``request`` under ``statements`` (the principal's identity policies, resolved)."""
    allow: Decision | None = None
    for statement in statements:
        if not (_matches_action(statement, request.action) and _matches_resource(statement, request.resource)):
            continue
        holds, assumed = _condition(statement, dict(request.context))
        if not holds:
            continue
        sid = statement.get("Sid", "(no Sid)")
        if statement.get("Effect") == "Deny":
            return Decision(request, False, f"explicitly denied by {sid}", assumed)
        if statement.get("Effect") == "Allow" and allow is None:
            allow = Decision(request, True, f"allowed by {sid}", assumed)
    return allow or Decision(request, False, "no statement allows it")


def role_statements(stack: StackModel, role: str) -> list[dict[str, Any]]:
    """Every identity-policy statement of ``role`` (a logical id), resolved: inline policies and the template's
    ``AWS::IAM::Policy`` / ``AWS::IAM::ManagedPolicy`` resources attached to it."""
    properties = stack.properties(role)
    if properties.get("ManagedPolicyArns"):
        raise PolicyModelError(f"{role} attaches managed policies {properties['ManagedPolicyArns']}: their "
                               "statements are not in the template, so they cannot be evaluated; inline them")
    documents = [policy["PolicyDocument"] for policy in properties.get("Policies", [])]
    role_name = stack.ref(role)
    for logical_id, resource in stack.template["Resources"].items():
        if resource.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and stack.creates(logical_id):
            attached = stack.properties(logical_id)
            if role_name in attached.get("Roles", []):
                documents.append(attached["PolicyDocument"])
    return [statement for document in documents for statement in _as_list(document["Statement"])]


@dataclass(frozen=True)
class RoleEvaluation:
    """The decisions for everything one role is asked to do."""

    role: str
    decisions: list[Decision]

    @property
    def denied(self) -> list[Decision]:
        return [d for d in self.decisions if not d.allowed]

    def summary(self) -> str:
        actions = {d.request.action for d in self.decisions}
        on_star = {d.request.action for d in self.decisions if d.request.resource == "*"}
        assumed = sum(1 for d in self.decisions if d.allowed and d.assumed_conditions)
        return (f"IAM {self.role}: {len(self.decisions)} requests, {len(actions)} distinct actions: "
                f"{len(self.denied)} denied; {len(on_star)} actions on Resource '*' "
                f"({sum(not iam_actions.has_resource_type(a) for a in on_star)} of them without a resource type); "
                f"{assumed} allowed under conditions assumed to hold")

    def denial_report(self) -> str:
        return "\n".join(f"denied: {d.request}: {d.reason}" for d in self.denied)


def evaluate_role(stack: StackModel, role: str, requests: Iterable[Request]) -> RoleEvaluation:
    statements = role_statements(stack, role)
    unique = list(dict.fromkeys(requests))
    return RoleEvaluation(role, [decide(statements, request) for request in unique])
