"""Fixtures for the local model server: tiny real handler artifacts and detached servers."""

from __future__ import annotations

import io
import json
import tarfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from PIL import Image

from include.runtime.local.model_server_control import (
    _is_running,
    _read_pid,
    deploy_model,
    ensure_server,
    stop_server,
)

INFERENCE_PY = '''
"""Mean-colour "classifier": a small real handler with the SageMaker PyTorch toolkit's functions."""
import io
import json
import os
import time

import numpy as np
from PIL import Image, UnidentifiedImageError

import net

SUPPORTED_CONTENT_TYPES = {"image/png", "image/jpeg", "application/x-image"}


class UnsupportedInputError(ValueError):
    def __init__(self, message, status_code):
        super().__init__(message)
        self.status_code = status_code


def model_fn(model_dir):
    __FAIL_IN_MODEL_FN__
    with open(os.path.join(model_dir, "model_config.json")) as config_file:
        return net.MeanColourNet(json.load(config_file))


def input_fn(body, content_type):
    if content_type not in SUPPORTED_CONTENT_TYPES:
        raise UnsupportedInputError(f"content type {content_type!r} is not supported: send image/png", 415)
    try:
        image = Image.open(io.BytesIO(body))
        image.load()
    except (UnidentifiedImageError, OSError) as error:
        raise UnsupportedInputError(f"body is not a decodable image: {error}", 400) from error
    return np.asarray(image.convert("RGB").resize((32, 32)), dtype=np.float32) / 255.0


def predict_fn(data, model):
    time.sleep(model.config.get("delay_seconds", 0))
    return model.predict(data)


def output_fn(prediction, accept):
    body = json.dumps([round(float(p), 6) for p in prediction], separators=(",", ":"))
    __OUTPUT_RETURN__
'''

NET_PY = '''
"""The model's network: the share of red in the image decides the first class."""
import numpy as np


class MeanColourNet:
    def __init__(self, config):
        self.config = config

    def predict(self, image):
        red = float(np.clip(image[..., 0].mean() * self.config["scale"], 0.0, 1.0))
        return __PROBABILITIES__
'''


def build_model_artifact(
    directory: Path,
    *,
    red_is_first_class: bool = True,
    fail_in_model_fn: bool = False,
    output_returns_tuple: bool = True,
    delay_seconds: float = 0.0,
) -> Path:
    """A SageMaker-style model.tar.gz: model_config.json, model.pt, code/inference.py, code/net.py."""
    probabilities = "[red, 1.0 - red]" if red_is_first_class else "[1.0 - red, red]"
    inference = INFERENCE_PY.replace(
        "__FAIL_IN_MODEL_FN__", "raise RuntimeError('weights are corrupt')" if fail_in_model_fn else "pass"
    ).replace("__OUTPUT_RETURN__", "return body, 'application/json'" if output_returns_tuple else "return body")
    files = {
        "model_config.json": json.dumps({"scale": 1.0, "delay_seconds": delay_seconds}),
        "model.pt": "not used by the mean-colour model",
        "code/inference.py": textwrap.dedent(inference),
        "code/net.py": NET_PY.replace("__PROBABILITIES__", probabilities),
    }
    directory.mkdir(parents=True, exist_ok=True)
    archive_path = directory / "model.tar.gz"
    with tarfile.open(archive_path, "w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return archive_path


def image_bytes(colour: tuple[int, int, int], image_format: str = "PNG", size: int = 32) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buffer, format=image_format)
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def fake_aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME",
    ):
        monkeypatch.delenv(name, raising=False)


def stop_and_confirm(state_dir: Path) -> None:
    """Stop the server recorded in ``state_dir`` by PID and check the process is gone."""
    pid = _read_pid(state_dir)
    stop_server(state_dir)
    assert pid is None or not _is_running(pid), f"model server pid {pid} still running"


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Start detached servers on free ports; every one is stopped by PID afterwards."""
    state_dirs: list[Path] = []

    def start(name: str = "state") -> str:
        state_dir = tmp_path / name
        state_dirs.append(state_dir)
        return ensure_server(state_dir, port=0)

    yield start
    for state_dir in state_dirs:
        stop_and_confirm(state_dir)


@pytest.fixture(scope="module")
def shared_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One server per test module, for tests that only invoke what the module deployed."""
    state_dir = tmp_path_factory.mktemp("shared-server") / "state"
    try:
        yield ensure_server(state_dir, port=0)
    finally:
        stop_and_confirm(state_dir)


@pytest.fixture(scope="module")
def shared_deployed_url(shared_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The module's shared server with the mean-colour model deployed as ``scones-endpoint``."""
    artifact = build_model_artifact(tmp_path_factory.mktemp("blue"))
    deploy_model(shared_server_url, "scones-endpoint", artifact, config_name="scones-config-1")
    return shared_server_url


@pytest.fixture
def server_url(start_server: Callable[..., str]) -> str:
    return start_server()


@pytest.fixture
def model_artifact(tmp_path: Path) -> Path:
    return build_model_artifact(tmp_path / "blue")


@pytest.fixture
def deployed_url(server_url: str, model_artifact: Path) -> str:
    deploy_model(server_url, "scones-endpoint", model_artifact, config_name="scones-config-1")
    return server_url


def runtime_client(url: str | None = None) -> Any:
    """A real boto3 SageMaker Runtime client (``url`` None: taken from the environment)."""
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


@pytest.fixture
def make_model_artifact(tmp_path: Path) -> Callable[..., Path]:
    """``make_model_artifact(name, **options)`` builds a model.tar.gz under tmp_path/name."""
    return lambda name, **options: build_model_artifact(tmp_path / name, **options)


@pytest.fixture
def make_image() -> Callable[..., bytes]:
    return image_bytes


@pytest.fixture
def make_runtime_client() -> Callable[..., Any]:
    return runtime_client
