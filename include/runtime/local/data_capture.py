"""SageMaker Data Capture writer for the local model server.

Records are appended as JSON lines under
``<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm>-<ss>-<mmm>-<uuid>.jsonl`` (UTC), the
layout SageMaker writes below the capture ``DestinationS3Uri``. A file holds one hour at most and
is rotated when it reaches ``max_file_bytes``. Each record is written with a single ``write()``
on an ``O_APPEND`` descriptor while holding the writer's lock, so lines never interleave and a
reader sees whole lines only (the line's final newline lands in the same system call).
"""

from __future__ import annotations

import base64
import json
import os
import random
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

Clock = Callable[[], datetime]

CAPTURE_MODES = ("Input", "Output")
DEFAULT_JSON_CONTENT_TYPES = ("application/json",)
DEFAULT_MAX_FILE_BYTES = 16 * 1024 * 1024


class CaptureConfigError(ValueError):
    """A data capture configuration that cannot be honoured."""


def utc_now() -> datetime:
    """The current time in UTC (the default capture clock)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class CaptureConfig:
    """What to capture and where: the local twin of SageMaker's ``DataCaptureConfig``."""

    destination: Path
    enabled: bool = True
    sampling_percentage: float = 100.0
    capture_input: bool = True
    capture_output: bool = True
    json_content_types: tuple[str, ...] = DEFAULT_JSON_CONTENT_TYPES
    csv_content_types: tuple[str, ...] = ()
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES

    @classmethod
    def from_request(cls, capture: Mapping[str, Any]) -> CaptureConfig:
        """Validate the admin API's ``capture`` object into a config."""
        destination = str(capture.get("destination") or "")
        if not destination:
            raise CaptureConfigError("capture.destination is required: give the local directory to write to")
        if destination.startswith("s3://"):
            raise CaptureConfigError(
                f"capture.destination {destination!r} is an S3 URI: pass the local directory it maps to "
                "(DATA_ROOT/BUCKET/KEY)"
            )
        sampling = capture.get("sampling_percentage", 100)
        if isinstance(sampling, bool) or not isinstance(sampling, int | float) or not 0 <= sampling <= 100:
            raise CaptureConfigError(f"capture.sampling_percentage must be a number from 0 to 100, got {sampling!r}")
        modes = _capture_modes(capture.get("capture_options", CAPTURE_MODES))
        max_file_bytes = capture.get("max_file_bytes", DEFAULT_MAX_FILE_BYTES)
        if not isinstance(max_file_bytes, int) or max_file_bytes <= 0:
            raise CaptureConfigError(f"capture.max_file_bytes must be a positive integer, got {max_file_bytes!r}")
        return cls(
            destination=Path(destination),
            enabled=bool(capture.get("enabled", True)),
            sampling_percentage=float(sampling),
            capture_input="Input" in modes,
            capture_output="Output" in modes,
            json_content_types=tuple(capture.get("json_content_types", DEFAULT_JSON_CONTENT_TYPES)),
            csv_content_types=tuple(capture.get("csv_content_types", ())),
            max_file_bytes=max_file_bytes,
        )

    def as_dict(self) -> dict[str, Any]:
        """The config in the admin API's shape (for describe responses)."""
        modes = [mode for mode, on in (("Input", self.capture_input), ("Output", self.capture_output)) if on]
        return {
            "enabled": self.enabled,
            "sampling_percentage": self.sampling_percentage,
            "destination": str(self.destination),
            "capture_options": modes,
        }


def _capture_modes(options: Iterable[Any]) -> set[str]:
    """Accept ``["Input", "Output"]`` or SageMaker's ``[{"CaptureMode": "Input"}, ...]``."""
    modes = {option.get("CaptureMode") if isinstance(option, Mapping) else option for option in options}
    unknown = modes - set(CAPTURE_MODES)
    if unknown or not modes:
        raise CaptureConfigError(
            f"capture.capture_options must list 'Input' and/or 'Output', got {sorted(map(str, modes))}"
        )
    return modes


def _base_content_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def encode_capture_data(body: bytes, content_type: str, mode: str, config: CaptureConfig) -> dict[str, str]:
    """One ``endpointInput``/``endpointOutput`` object: JSON or CSV as text, anything else as BASE64."""
    base_type = _base_content_type(content_type)
    if base_type in config.json_content_types or base_type in config.csv_content_types:
        try:
            text = body.decode("utf-8")
            encoding = "JSON" if base_type in config.json_content_types else "CSV"
            return {"observedContentType": content_type, "mode": mode, "data": text, "encoding": encoding}
        except UnicodeDecodeError:
            pass
    data = base64.b64encode(body).decode("ascii")
    return {"observedContentType": content_type, "mode": mode, "data": data, "encoding": "BASE64"}


def capture_record(
    *,
    config: CaptureConfig,
    inference_time: datetime,
    input_body: bytes,
    input_content_type: str,
    output_body: bytes,
    output_content_type: str,
    inference_id: str | None = None,
) -> dict[str, Any]:
    """A Data Capture record exactly as SageMaker writes it."""
    capture_data: dict[str, Any] = {}
    if config.capture_input:
        capture_data["endpointInput"] = encode_capture_data(input_body, input_content_type, "INPUT", config)
    if config.capture_output:
        capture_data["endpointOutput"] = encode_capture_data(output_body, output_content_type, "OUTPUT", config)
    metadata = {
        "eventId": str(uuid.uuid4()),
        "inferenceTime": inference_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if inference_id:
        metadata["inferenceId"] = inference_id
    return {"captureData": capture_data, "eventMetadata": metadata, "eventVersion": "0"}


@dataclass
class _OpenCaptureFile:
    path: Path
    hour: tuple[int, int, int, int]
    descriptor: int
    size: int = 0


@dataclass
class CaptureWriter:
    """Thread-safe appender of one endpoint variant's capture records."""

    config: CaptureConfig
    endpoint_name: str
    variant_name: str
    clock: Clock = utc_now
    sampler: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._current: _OpenCaptureFile | None = None
        self._closed = False

    @property
    def variant_directory(self) -> Path:
        return self.config.destination / self.endpoint_name / self.variant_name

    def should_capture(self) -> bool:
        """Decide, by the sampling percentage, whether this invocation is captured."""
        if not self.config.enabled or self.config.sampling_percentage <= 0:
            return False
        if self.config.sampling_percentage >= 100:
            return True
        with self._lock:
            return self.sampler.random() * 100 < self.config.sampling_percentage

    def write(
        self,
        *,
        input_body: bytes,
        input_content_type: str,
        output_body: bytes,
        output_content_type: str,
        inference_id: str | None = None,
    ) -> Path:
        """Append one record and return the file it went to."""
        inference_time = self.clock()
        record = capture_record(
            config=self.config,
            inference_time=inference_time,
            input_body=input_body,
            input_content_type=input_content_type,
            output_body=output_body,
            output_content_type=output_content_type,
            inference_id=inference_id,
        )
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8")
        with self._lock:
            capture_file = self._file_for(inference_time, len(line))
            try:
                _write_all(capture_file.descriptor, line)
                capture_file.size += len(line)
            finally:
                if self._closed:
                    self._close_current()
            return capture_file.path

    def close(self) -> None:
        """Close the open file; a later write (an in-flight request) opens and closes its own file."""
        with self._lock:
            self._closed = True
            self._close_current()

    def _file_for(self, inference_time: datetime, line_size: int) -> _OpenCaptureFile:
        utc_time = inference_time.astimezone(UTC)
        hour = (utc_time.year, utc_time.month, utc_time.day, utc_time.hour)
        current = self._current
        if current is not None and (
            current.hour != hour or (current.size and current.size + line_size > self.config.max_file_bytes)
        ):
            self._close_current()
            current = None
        if current is None:
            current = self._open_file(utc_time, hour)
            self._current = current
        return current

    def _open_file(self, utc_time: datetime, hour: tuple[int, int, int, int]) -> _OpenCaptureFile:
        directory = self.variant_directory.joinpath(*(f"{part:02d}" for part in hour))
        directory.mkdir(parents=True, exist_ok=True)
        millis = utc_time.microsecond // 1000
        name = f"{utc_time.minute:02d}-{utc_time.second:02d}-{millis:03d}-{uuid.uuid4()}.jsonl"
        path = directory / name
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        return _OpenCaptureFile(path=path, hour=hour, descriptor=descriptor)

    def _close_current(self) -> None:
        if self._current is not None:
            os.close(self._current.descriptor)
            self._current = None


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(descriptor, view)
        view = view[written:]
