"""One execution of the inference state machine on this machine, against the Lambda handlers in ``lambdas/``.

The definition file is the one deployed to Step Functions, its ``${...Arn}`` placeholders filled
with Lambda ARNs that resolve to the handlers. Its Distributed Map reads the execution's photo
manifest from S3 on disk and writes its results there, as Step Functions writes them to S3.
Each handler module is loaded from its ``lambdas/<function>/app.py`` file as Lambda loads it, so
the code is byte-identical in both runtimes. The handlers reach S3 and SageMaker Runtime through
their ordinary boto3 clients: ``AWS_ENDPOINT_URL_S3`` points at a local S3 endpoint over the data root and
``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`` at the local model server. That keeps the handlers free of
any "am I local?" code, which a storage helper shipped in the Lambda package would need.

Finished executions are recorded under ``DATA_ROOT/.work/executions/<name>.json``; like Step
Functions, a name runs once and a later start with the same name gets the recorded execution.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from include.builders.deploy import lambda_capture_uri
from include.runtime.local.stepfunctions import MapProgress, load_definition, run_execution
from include.runtime.local.store import LocalObjectStore
from include.settings import PROJECT_ROOT, Settings

DEFINITION_FILE = PROJECT_ROOT / "include" / "statemachine" / "inference.asl.json"
LAMBDAS_ROOT = PROJECT_ROOT / "lambdas"
FUNCTIONS = {
    "SerializeImageFunctionArn": "serialize_image",
    "ClassifyImageFunctionArn": "classify_image",
    "FilterLowConfidenceFunctionArn": "filter_low_confidence",
}
LOCAL_ACCOUNT = "000000000000"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
# Step Functions execution names: 1-80 characters, none of whitespace, brackets, wildcards, these punctuation
# marks or control characters.
_EXECUTION_NAME = re.compile(r"^[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}$")

Handler = Callable[[Any, Any], Any]


class InvalidExecutionNameError(ValueError):
    """The execution name breaks Step Functions' naming rules."""


def check_execution_name(name: str) -> str:
    if not isinstance(name, str) or not _EXECUTION_NAME.match(name):
        raise InvalidExecutionNameError(
            f"execution name {name!r} is invalid: use 1-80 characters without spaces, brackets, wildcards or "
            "any of \" # % \\ ^ | ~ ` $ & , ; : /"
        )
    return name


def lambda_function_arn(settings: Settings, function: str) -> str:
    return f"arn:aws:lambda:{settings.region}:{LOCAL_ACCOUNT}:function:scones-{function.replace('_', '-')}"


def local_execution_arn(state_machine_arn: str, name: str) -> str:
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"


@functools.cache
def load_handler(function: str) -> Handler:
    """``lambda_handler`` of ``lambdas/<function>/app.py``, imported from the file under its own module name."""
    path = LAMBDAS_ROOT / function / "app.py"
    spec = importlib.util.spec_from_file_location(f"scones_lambda_{function}", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"Lambda handler {path} not found: is the project's lambdas/ folder complete?")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lambda_handler


def definition_and_resources(settings: Settings) -> tuple[dict[str, Any], dict[str, Handler]]:
    """The definition with its ARNs filled in, and each ARN's handler."""
    arns = {placeholder: lambda_function_arn(settings, function) for placeholder, function in FUNCTIONS.items()}
    resources = {arns[placeholder]: load_handler(function) for placeholder, function in FUNCTIONS.items()}
    return load_definition(DEFINITION_FILE, arns), resources


def handler_environment(settings: Settings, *, s3_url: str, runtime_url: str) -> dict[str, str]:
    """The environment the three Lambdas get in the deployed stack, pointed at the local endpoints."""
    environment = {
        "ENDPOINT_NAME": settings.deploy.endpoint_name,
        "CONFIDENCE_THRESHOLD": str(settings.confidence_threshold),
        "INLINE_LIMIT_BYTES": str(settings.inference.inline_limit_bytes),
        "MAX_IMAGE_BYTES": str(settings.inference.max_image_bytes),
        "MAX_IMAGE_PIXELS": str(settings.ingest.max_image_pixels),
        "CAPTURE_S3_URI": lambda_capture_uri(settings),
        "AWS_ENDPOINT_URL_S3": s3_url,
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": runtime_url,
        "AWS_DEFAULT_REGION": settings.region,
        "NO_PROXY": ",".join(filter(None, ["127.0.0.1", "localhost", os.environ.get("NO_PROXY", "")])),
    }
    if not os.environ.get("AWS_ACCESS_KEY_ID"):
        environment.update(FAKE_CREDENTIALS)
    return environment


@contextlib.contextmanager
def environment_set(values: Mapping[str, str]) -> Iterator[None]:
    """Set ``values`` in ``os.environ`` (an empty value unsets) and restore the previous values afterwards."""
    previous = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value:
                os.environ[name] = value
            else:
                os.environ.pop(name, None)
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class ExecutionRecords:
    """Finished executions by name, as JSON files under one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def get(self, name: str) -> dict | None:
        path = self.folder / f"{check_execution_name(name)}.json"
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None

    def put(self, outcome: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{check_execution_name(outcome['name'])}.json"
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(outcome, indent=2))
        os.replace(temporary, path)


class StoreObjects:
    """The interpreter's S3 access (ItemReader, ResultWriter) on S3 on disk."""

    def __init__(self, store: LocalObjectStore) -> None:
        self.store = store

    def get_object(self, bucket: str, key: str) -> bytes:
        return self.store.get_bytes(f"s3://{bucket}/{key}")

    def put_object(self, bucket: str, key: str, body: bytes) -> None:
        self.store.put_bytes(f"s3://{bucket}/{key}", body)


def _prepare_default_session() -> None:
    """Create one client of each kind the handlers use before the Map's threads do.

    boto3's default session builds its credential and endpoint machinery lazily, and doing that from
    several threads at once can fail; a first client, made here, builds it once.
    """
    import boto3

    for service in ("s3", "sagemaker-runtime"):
        boto3.client(service)


def run_inference_execution(
    settings: Settings, name: str, state_machine_input: Any, *, s3_url: str, runtime_url: str,
    progress: MapProgress | None = None,
) -> dict:
    """Run the state machine once; returns ``{"name", "executionArn", "status", "output", "error", "cause"}``."""
    check_execution_name(name)
    definition, resources = definition_and_resources(settings)
    with environment_set(handler_environment(settings, s3_url=s3_url, runtime_url=runtime_url)):
        _prepare_default_session()
        result = run_execution(definition, state_machine_input, resources, name=name,
                               objects=StoreObjects(LocalObjectStore(settings.data_root)),
                               state_machine_arn=settings.inference.state_machine_arn, progress=progress)
    return {
        "name": name,
        "executionArn": local_execution_arn(settings.inference.state_machine_arn, name),
        "status": result.status,
        "output": result.output,
        "error": result.error,
        "cause": result.cause,
    }
