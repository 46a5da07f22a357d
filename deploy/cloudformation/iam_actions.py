"""IAM's action table as cfn-lint ships it: every action of every service and the resource types it acts on.

An action with no resource type (``sagemaker:ListMonitoringExecutions``, ``ecr:GetAuthorizationToken``) is
authorized on ``Resource: "*"`` only: a statement scoped to ARNs never allows it. The table is cfn-lint's
``data/AdditionalSpecs/Policies.json`` (generated from AWS's Service Authorization Reference), read from the
installed cfn-lint, so it follows the version the lock pins.
"""

from __future__ import annotations

import fnmatch
import functools
import importlib.util
import json
from pathlib import Path

TABLE_FILE = "Policies.json"


class UnknownActionError(KeyError):
    """An action IAM does not have (a typo, or a service prefix that is not IAM's)."""


def table_path() -> Path:
    """cfn-lint's table, found without importing cfn-lint (its import loads the whole linter)."""
    spec = importlib.util.find_spec("cfnlint")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("cfn-lint is not installed: `make` installs it from requirements/lock.txt")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "AdditionalSpecs" / TABLE_FILE


@functools.cache
def _table() -> dict[str, dict]:
    return json.loads(table_path().read_text())


def _split(action: str) -> tuple[str, str]:
    service, _, name = action.partition(":")
    if not service or not name:
        raise UnknownActionError(f"{action!r} is not service:Action")
    return service.lower(), name.lower()


def known(action: str) -> bool:
    """Whether IAM has ``action`` (an exact name, no wildcard)."""
    service, name = _split(action)
    return name in _table().get(service, {}).get("Actions", {})


def resource_types(action: str) -> list[str]:
    """The resource types ``action`` acts on; empty when it has none (then only ``Resource: "*"`` allows it)."""
    service, name = _split(action)
    actions = _table().get(service, {}).get("Actions", {})
    if name not in actions:
        raise UnknownActionError(f"{action} is not in IAM's action table (cfn-lint {TABLE_FILE})")
    return list(actions[name].get("Resources", []))


def has_resource_type(action: str) -> bool:
    return bool(resource_types(action))


def expand(pattern: str) -> list[str]:
    """The actions an action pattern (``kms:GenerateDataKey*``) grants, as ``service:action`` in lower case."""
    service, name = _split(pattern)
    actions = _table().get(service, {}).get("Actions", {})
    return [f"{service}:{candidate}" for candidate in actions if fnmatch.fnmatchcase(candidate, name)]
