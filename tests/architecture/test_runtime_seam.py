"""Nothing above the runtime seam knows which runtime it is in; each runtime fills every capability.

Above the seam: the DAG files, the plugin and everything in ``include/`` outside ``include/runtime/``
(``include/settings.py`` defines the setting and is exempt). There, no file may import a runtime's
implementation (``include.runtime.aws*``, ``include.runtime.local*``) or an AWS SDK, read ``.runtime``
off the settings, or compare anything with ``"aws"`` / ``"local"``. Developer tooling (``devtools/``)
may reach the local runtime directly.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from include.registry import ModelRegistry
from include.runtime import TABLES, current
from include.runtime.capabilities import (
    Alerts,
    EndpointDeployment,
    IntervalAnalysis,
    JobOperators,
    ObjectLinks,
    PhotoEvents,
    Retention,
    Runtime,
    ServedModels,
    StateMachineExecutions,
    Teardown,
)
from include.settings import PROJECT_ROOT
from include.storage import ObjectStore

SEAM = PROJECT_ROOT / "include" / "runtime"
EXEMPT = {PROJECT_ROOT / "include" / "settings.py"}
RUNTIME_PACKAGES = ("include.runtime.aws", "include.runtime.local")
AWS_SDKS = ("airflow.providers.amazon", "boto3", "botocore", "aiobotocore", "sagemaker")
RUNTIME_NAMES = {"aws", "local"}
CAPABILITIES = {
    "jobs": JobOperators,
    "endpoints": EndpointDeployment,
    "served_models": ServedModels,
    "executions": StateMachineExecutions,
    "photo_events": PhotoEvents,
    "interval_analysis": IntervalAnalysis,
    "registry": ModelRegistry,
    "object_store": ObjectStore,
    "object_links": ObjectLinks,
    "alerts": Alerts,
    "teardown": Teardown,
    "retention": Retention,
}


def above_the_seam() -> list[Path]:
    files = [*sorted((PROJECT_ROOT / "dags").glob("*.py")), *sorted((PROJECT_ROOT / "plugins").rglob("*.py"))]
    files += [path for path in sorted((PROJECT_ROOT / "include").rglob("*.py"))
              if SEAM not in path.parents and path not in EXEMPT]
    return files


def _imported_modules(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module:
        return [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
    return []


def seam_leaks(source: str) -> list[str]:
    """Every place in ``source`` that knows which runtime it is in, as ``line: what``."""
    leaks = []
    for node in ast.walk(ast.parse(source)):
        for module in _imported_modules(node):
            if module.startswith(RUNTIME_PACKAGES) or module.startswith(AWS_SDKS):
                leaks.append(f"{node.lineno}: imports {module}")
        if isinstance(node, ast.Attribute) and node.attr == "runtime" and not (
                isinstance(node.value, ast.Name) and node.value.id == "include"):
            leaks.append(f"{node.lineno}: reads .runtime")
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(isinstance(o, ast.Constant) and o.value in RUNTIME_NAMES for o in operands):
                leaks.append(f"{node.lineno}: compares with a runtime name")
    return sorted(leaks, key=lambda leak: (int(leak.split(":")[0]), leak))


def test_the_check_finds_each_kind_of_leak():
    leaky = (
        "from include.runtime.local.model_server_control import stop_server\n"
        "import include.runtime.aws.serving\n"
        "from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook\n"
        "if settings.runtime == 'aws':\n    pass\n"
        "mode = 'local' if flag else other\nif mode != 'local':\n    pass\n"
    )
    assert seam_leaks(leaky) == [
        "1: imports include.runtime.local.model_server_control",
        "1: imports include.runtime.local.model_server_control.stop_server",
        "2: imports include.runtime.aws.serving",
        "3: imports airflow.providers.amazon.aws.hooks.sagemaker",
        "3: imports airflow.providers.amazon.aws.hooks.sagemaker.SageMakerHook",
        "4: compares with a runtime name",
        "4: reads .runtime",
        "7: compares with a runtime name",
    ]
    assert seam_leaks("from include import runtime\nstore = runtime.object_store(settings)\n") == []


def test_nothing_above_the_seam_knows_its_runtime():
    files = above_the_seam()
    assert len(files) > 30, "the scan must cover the DAGs, the plugin and the library"
    leaks = {str(path.relative_to(PROJECT_ROOT)): found for path in files if (found := seam_leaks(path.read_text()))}
    assert leaks == {}, f"runtime knowledge above the seam (move it below include/runtime/): {leaks}"


@pytest.mark.parametrize("name", sorted(TABLES))
def test_each_runtime_fills_every_capability(name, settings):
    table = current(settings.model_copy(update={"runtime": name}))
    assert isinstance(table, Runtime) and table.name == name
    for capability, interface in CAPABILITIES.items():
        implementation = getattr(table, capability)(settings)
        assert isinstance(implementation, interface), f"{name}.{capability} is not a {interface.__name__}"


def test_the_aws_runtime_mirrors_the_local_one_capability_for_capability():
    modules = {name: {p.stem for p in (SEAM / name).glob("*.py")} for name in ("aws", "local")}
    capability_modules = {"jobs", "serving", "interval_analysis", "registry", "store", "object_links", "alerts",
                          "teardown", "retention", "photo_events"}
    assert capability_modules <= modules["aws"] and capability_modules <= modules["local"]
    # Beside the capabilities, only the module that builds the boto3 clients they share.
    assert modules["aws"] - {"__init__", "clients"} == capability_modules, "the aws runtime holds capabilities only"
