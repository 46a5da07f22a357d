"""The server hosts the project's own serving handler (programs/model) packed as train.py packs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from include.runtime.local.model_server_control import PROJECT_ROOT, deploy_model
from tests.support.hostile_photos import png_header

MODEL_SOURCE = PROJECT_ROOT / "programs" / "model"
ENDPOINT = "vehicle-classifier"
PACK_UNTRAINED_MODEL = """
import sys, tarfile
from pathlib import Path
from model_artifacts import build_network, save_model

model_dir = Path(sys.argv[1])
config = {"format_version": 1, "classes": ["bicycle", "motorcycle"], "image_size": 32, "dropout": 0.3,
          "architecture": "vehicle_net", "backbone": "scratch", "width": 0.5,
          "normalisation": {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}}
save_model(model_dir, build_network(config), config)
with tarfile.open(model_dir.parent / "model.tar.gz", "w:gz") as archive:
    for path in sorted(model_dir.rglob("*")):
        archive.add(path, arcname=str(path.relative_to(model_dir)), recursive=False)
"""

pytestmark = pytest.mark.skipif(
    not (MODEL_SOURCE / "inference.py").is_file(), reason="programs/model serving handler not present"
)


def pack_untrained_model(directory: Path) -> Path:
    environment = {**os.environ, "PYTHONPATH": str(MODEL_SOURCE)}
    subprocess.run(
        [sys.executable, "-c", PACK_UNTRAINED_MODEL, str(directory / "model")],
        env=environment,
        check=True,
        timeout=120,
    )
    return directory / "model.tar.gz"


@pytest.fixture(scope="module")
def vehicle_url(shared_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    deploy_model(shared_server_url, ENDPOINT, pack_untrained_model(tmp_path_factory.mktemp("vehicle")))
    return shared_server_url


def test_real_handler_returns_two_probabilities_summing_to_one(vehicle_url, make_image, make_runtime_client):
    response = make_runtime_client(vehicle_url).invoke_endpoint(
        EndpointName=ENDPOINT, ContentType="image/jpeg", Body=make_image((200, 40, 40), "JPEG", size=64)
    )
    probabilities = json.loads(response["Body"].read())
    assert len(probabilities) == 2 and abs(sum(probabilities) - 1.0) < 1e-5


def test_real_handler_refuses_a_text_body_as_415(vehicle_url, make_runtime_client):
    with pytest.raises(ClientError) as raised:
        make_runtime_client(vehicle_url).invoke_endpoint(
            EndpointName=ENDPOINT, ContentType="text/plain", Body=b"a motorcycle"
        )
    assert raised.value.response["OriginalStatusCode"] == 415


def test_real_handler_refuses_a_broken_png_as_400(vehicle_url, make_runtime_client):
    with pytest.raises(ClientError) as raised:
        make_runtime_client(vehicle_url).invoke_endpoint(
            EndpointName=ENDPOINT, ContentType="image/png", Body=b"\x89PNG\r\n\x1a\n truncated"
        )
    assert raised.value.response["OriginalStatusCode"] == 400


def test_real_handler_refuses_a_thin_photo_from_its_header_as_400(vehicle_url, make_runtime_client):
    with pytest.raises(ClientError) as raised:
        make_runtime_client(vehicle_url).invoke_endpoint(
            EndpointName=ENDPOINT, ContentType="image/png", Body=png_header(16, 2_000_000)
        )
    assert raised.value.response["OriginalStatusCode"] == 400
    assert "16x2000000 has a side over the 16384-pixel limit" in raised.value.response["OriginalMessage"]
