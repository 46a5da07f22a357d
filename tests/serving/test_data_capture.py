"""Data Capture files: SageMaker's layout, names and record format, written safely under load."""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from include.runtime.local.data_capture import CaptureConfig, CaptureWriter
from include.runtime.local.model_server_control import deploy_model

ENDPOINT = "scones-endpoint"
FILE_NAME = re.compile(r"^\d{2}-\d{2}-\d{3}-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}\.jsonl$")
INFERENCE_TIME = datetime(2026, 1, 1, 10, 15, 2, 345000, tzinfo=UTC)


class StepClock:
    """A test clock that returns ``start`` plus ``step`` per call."""

    def __init__(self, start: datetime, step: timedelta = timedelta(0)) -> None:
        self.now, self.step = start, step

    def __call__(self) -> datetime:
        current, self.now = self.now, self.now + self.step
        return current


def write_png_record(writer: CaptureWriter, inference_id: str | None = None) -> Path:
    return writer.write(
        input_body=b"\x89PNG fake",
        input_content_type="image/png",
        output_body=b"[0.1,0.9]",
        output_content_type="application/json",
        inference_id=inference_id,
    )


def capture_files(destination: Path) -> list[Path]:
    return sorted(destination.rglob("*.jsonl"))


def test_record_matches_sagemaker_capture_format_field_for_field(tmp_path):
    writer = CaptureWriter(CaptureConfig(destination=tmp_path), ENDPOINT, "AllTraffic", clock=StepClock(INFERENCE_TIME))
    path = write_png_record(writer, inference_id="courier-42")
    record = json.loads(path.read_text())
    event_id = record["eventMetadata"].pop("eventId")
    assert uuid.UUID(event_id).version == 4
    assert record == {
        "captureData": {
            "endpointInput": {
                "observedContentType": "image/png",
                "mode": "INPUT",
                "data": base64.b64encode(b"\x89PNG fake").decode(),
                "encoding": "BASE64",
            },
            "endpointOutput": {
                "observedContentType": "application/json",
                "mode": "OUTPUT",
                "data": "[0.1,0.9]",
                "encoding": "JSON",
            },
        },
        "eventMetadata": {"inferenceTime": "2026-01-01T10:15:02Z", "inferenceId": "courier-42"},
        "eventVersion": "0",
    }


def test_record_without_inference_id_has_no_inference_id_key(tmp_path):
    writer = CaptureWriter(CaptureConfig(destination=tmp_path), ENDPOINT, "AllTraffic", clock=StepClock(INFERENCE_TIME))
    record = json.loads(write_png_record(writer).read_text())
    assert set(record["eventMetadata"]) == {"eventId", "inferenceTime"}


def test_file_lands_in_the_hourly_folder_with_a_sagemaker_style_name(tmp_path):
    writer = CaptureWriter(CaptureConfig(destination=tmp_path), ENDPOINT, "AllTraffic", clock=StepClock(INFERENCE_TIME))
    path = write_png_record(writer)
    assert path.parent == tmp_path / ENDPOINT / "AllTraffic" / "2026" / "01" / "01" / "10"
    assert FILE_NAME.match(path.name) and path.name.startswith("15-02-345-")


def test_inference_time_is_written_in_utc(tmp_path):
    local_noon = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    writer = CaptureWriter(CaptureConfig(destination=tmp_path), ENDPOINT, "AllTraffic", clock=StepClock(local_noon))
    path = write_png_record(writer)
    assert json.loads(path.read_text())["eventMetadata"]["inferenceTime"] == "2026-01-01T10:00:00Z"
    assert path.parent.name == "10"


def test_a_new_hour_starts_a_new_file_in_the_next_folder(tmp_path):
    clock = StepClock(datetime(2026, 1, 1, 10, 59, 59, tzinfo=UTC), step=timedelta(seconds=2))
    writer = CaptureWriter(CaptureConfig(destination=tmp_path), ENDPOINT, "AllTraffic", clock=clock)
    first, second = write_png_record(writer), write_png_record(writer)
    assert (first.parent.name, second.parent.name) == ("10", "11")


def test_files_rotate_when_they_reach_the_size_limit(tmp_path):
    config = CaptureConfig(destination=tmp_path, max_file_bytes=600)
    writer = CaptureWriter(config, ENDPOINT, "AllTraffic", clock=StepClock(INFERENCE_TIME, timedelta(milliseconds=1)))
    for _ in range(6):
        write_png_record(writer)
    files = capture_files(tmp_path)
    assert len(files) > 1
    assert sum(len(path.read_text().splitlines()) for path in files) == 6


def test_non_json_output_is_captured_as_base64(tmp_path):
    writer = CaptureWriter(CaptureConfig(destination=tmp_path), ENDPOINT, "AllTraffic", clock=StepClock(INFERENCE_TIME))
    path = writer.write(
        input_body=b"a",
        input_content_type="image/png",
        output_body=b"bicycle",
        output_content_type="text/plain",
    )
    output = json.loads(path.read_text())["captureData"]["endpointOutput"]
    assert (output["encoding"], output["data"]) == ("BASE64", base64.b64encode(b"bicycle").decode())


def test_input_only_capture_omits_the_output(tmp_path):
    config = CaptureConfig.from_request({"destination": str(tmp_path), "capture_options": ["Input"]})
    writer = CaptureWriter(config, ENDPOINT, "AllTraffic", clock=StepClock(INFERENCE_TIME))
    assert list(json.loads(write_png_record(writer).read_text())["captureData"]) == ["endpointInput"]


def test_concurrent_writers_leave_only_whole_lines(tmp_path):
    writer = CaptureWriter(CaptureConfig(destination=tmp_path), ENDPOINT, "AllTraffic")
    big_input = bytes(range(256)) * 64

    def write_many() -> None:
        for _ in range(50):
            writer.write(
                input_body=big_input,
                input_content_type="image/png",
                output_body=b"[0.5,0.5]",
                output_content_type="application/json",
            )

    threads = [threading.Thread(target=write_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = [line for path in capture_files(tmp_path) for line in path.read_bytes().split(b"\n") if line]
    assert len(lines) == 400
    assert all(
        base64.b64decode(json.loads(line)["captureData"]["endpointInput"]["data"]) == big_input for line in lines
    )


def test_server_captures_a_boto3_invocation_with_its_inference_id(
    server_url, model_artifact, tmp_path, make_image, make_runtime_client
):
    destination = tmp_path / "datacapture"
    deploy_model(
        server_url,
        ENDPOINT,
        model_artifact,
        capture={"enabled": True, "sampling_percentage": 100, "destination": str(destination)},
    )
    image = make_image((255, 0, 0))
    make_runtime_client(server_url).invoke_endpoint(
        EndpointName=ENDPOINT, ContentType="image/png", Body=image, InferenceId="courier-7"
    )
    [path] = capture_files(destination)
    record = json.loads(path.read_text())
    assert path.relative_to(destination).parts[:2] == (ENDPOINT, "AllTraffic")
    assert base64.b64decode(record["captureData"]["endpointInput"]["data"]) == image
    assert record["captureData"]["endpointOutput"]["data"] == "[1.0,0.0]"
    assert record["eventMetadata"]["inferenceId"] == "courier-7"


def test_sampling_zero_percent_writes_nothing(server_url, model_artifact, tmp_path, make_image, make_runtime_client):
    destination = tmp_path / "datacapture"
    deploy_model(
        server_url,
        ENDPOINT,
        model_artifact,
        capture={"enabled": True, "sampling_percentage": 0, "destination": str(destination)},
    )
    client = make_runtime_client(server_url)
    for _ in range(5):
        client.invoke_endpoint(EndpointName=ENDPOINT, ContentType="image/png", Body=make_image((0, 0, 255)))
    assert capture_files(destination) == []


def test_failed_invocations_are_not_captured(server_url, model_artifact, tmp_path):
    import urllib.error
    import urllib.request

    destination = tmp_path / "datacapture"
    deploy_model(server_url, ENDPOINT, model_artifact, capture={"destination": str(destination)})
    request = urllib.request.Request(f"{server_url}/invocations", data=b"nope", headers={"Content-Type": "image/png"})
    try:
        urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as error:
        assert error.code == 400
    assert capture_files(destination) == []
