"""One Data Capture test vector through all three writers, read back by the drift analyzer's reader.

The same invocation (one courier photo, the model's JSON answer, one inference time) is captured by
the local model server (as a real-time endpoint does), by the classify Lambda (serverless endpoints,
through S3) and by the evaluation program (the baseline's capture of the validation split). The
analyzer must read the three records back as the same event, and the records must carry the same
capture data.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import boto3
import pytest

from include.code_bundle import PROGRAM_DIRS
from include.runtime.local.data_capture import CaptureConfig, CaptureWriter
from include.runtime.local.s3_server import start_s3_server, stop_s3_server
from lambdas.classify_image import app as classify_image
from tests.lambdas.photo_samples import png_bytes

INFERENCE_TIME = datetime(2026, 3, 1, 10, 15, 30, tzinfo=UTC)
RESPONSE_BODY = "[0.25,0.75]"
ENDPOINT, VARIANT, BUCKET = "scones-vehicle-classifier", "AllTraffic", "scones-capture"


def program_module(program: str, module: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"vector_{program}_{module}", PROGRAM_DIRS[program] / f"{module}.py")
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = loaded  # dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(loaded)
    return loaded


@pytest.fixture(scope="module")
def photo() -> bytes:
    return png_bytes(48, 32)


def model_server_writes(photo: bytes, root: Path) -> Path:
    config = CaptureConfig.from_request({"destination": str(root / "server"), "capture_options": ["Input", "Output"]})
    writer = CaptureWriter(config=config, endpoint_name=ENDPOINT, variant_name=VARIANT, clock=lambda: INFERENCE_TIME)
    try:
        writer.write(input_body=photo, input_content_type="image/png", output_body=RESPONSE_BODY.encode(),
                     output_content_type="application/json")
    finally:
        writer.close()
    return root / "server" / ENDPOINT / VARIANT


def lambda_writes(photo: bytes, root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data_root = root / "s3"
    (data_root / BUCKET).mkdir(parents=True)
    server, thread, url = start_s3_server(data_root)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", url)
    classify_image._cached_client.cache_clear()
    try:
        uri = classify_image.write_capture_record(f"s3://{BUCKET}/datacapture/{ENDPOINT}/{VARIANT}", "image/png",
                                                  photo, RESPONSE_BODY, INFERENCE_TIME)
        assert boto3.client("s3", endpoint_url=url).head_object(Bucket=BUCKET, Key=uri.split("/", 3)[3])
    finally:
        stop_s3_server(server, thread)
        classify_image._cached_client.cache_clear()
    return data_root / BUCKET / "datacapture" / ENDPOINT / VARIANT


def evaluation_writes(photo: bytes, root: Path) -> Path:
    data_capture = program_module("model", "data_capture")
    record = data_capture.capture_record(photo, "image/png", RESPONSE_BODY, "application/json",
                                         data_capture.capture_event_id("validation/bicycle/0001.png"),
                                         INFERENCE_TIME.strftime("%Y-%m-%dT%H:%M:%SZ"))
    folder = root / "evaluation" / f"{INFERENCE_TIME:%Y/%m/%d/%H}"
    folder.mkdir(parents=True)
    (folder / "capture.jsonl").write_text(json.dumps(record, separators=(",", ":")) + "\n")
    return root / "evaluation"


def only_record(folder: Path) -> dict:
    [path] = sorted(folder.rglob("*.jsonl"))
    assert path.relative_to(folder).parts[:4] == ("2026", "03", "01", "10"), "SageMaker's yyyy/mm/dd/hh layout"
    [line] = path.read_text().splitlines()
    return json.loads(line)


def test_all_three_capture_writers_read_back_as_the_same_event(photo, tmp_path, monkeypatch):
    folders = {
        "model server": model_server_writes(photo, tmp_path),
        "classify Lambda": lambda_writes(photo, tmp_path, monkeypatch),
        "evaluation program": evaluation_writes(photo, tmp_path),
    }
    capture = program_module("monitor", "capture")
    window = capture.TimeWindow(datetime(2026, 3, 1, 10, tzinfo=UTC), datetime(2026, 3, 1, 11, tzinfo=UTC))
    events = {writer: list(capture.read_events(capture.capture_files(folder, window), window))
              for writer, folder in folders.items()}
    expected = capture.CaptureEvent(photo, RESPONSE_BODY, INFERENCE_TIME, complete=True)
    assert events == {writer: [expected] for writer in folders}

    records = {writer: only_record(folder) for writer, folder in folders.items()}
    shapes = {writer: (r["captureData"], r["eventMetadata"]["inferenceTime"], r["eventVersion"])
              for writer, r in records.items()}
    assert len(set(map(json.dumps, shapes.values()))) == 1, shapes
