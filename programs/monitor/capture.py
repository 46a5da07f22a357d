"""Read SageMaker Data Capture JSONL for one time window.

Files live under ``<dataset_source>/.../yyyy/mm/dd/hh/*.jsonl``. Hour folders prune the walk;
each record's ``eventMetadata.inferenceTime`` decides membership of the window ``[start, end)``.
A line that is not a capture record is yielded as malformed, so it is counted, never fatal: it carries no
inference time, so it belongs to the moment its file was written (the ``mm-ss-mmm-*.jsonl`` name under its
hour folder; the hour's start when the name says nothing), and only the window holding that moment counts it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

HOUR = timedelta(hours=1)
_WRITTEN_AT = re.compile(r"^(\d{2})-(\d{2})-(\d{3})-")
"""SageMaker names a capture file by when it was written within its hour: ``mm-ss-mmm-<id>.jsonl``."""


@dataclass(frozen=True)
class TimeWindow:
    """A half-open UTC interval; a missing bound is unbounded."""

    start: datetime | None = None
    end: datetime | None = None

    @property
    def bounded(self) -> bool:
        return self.start is not None or self.end is not None

    def contains(self, moment: datetime) -> bool:
        return (self.start is None or moment >= self.start) and (self.end is None or moment < self.end)

    def overlaps(self, start: datetime, end: datetime) -> bool:
        """Whether ``[start, end)`` shares any instant with the window."""
        return (self.end is None or start < self.end) and (self.start is None or end > self.start)


def parse_time(text: str, name: str = "time") -> datetime:
    """An ISO 8601 timestamp as an aware UTC datetime (naive input is taken as UTC)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ValueError(f"{name} {text!r} is not an ISO 8601 timestamp: use e.g. 2026-01-01T10:00:00Z") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class CaptureEvent:
    """One parsed capture record; ``None`` fields were absent or unreadable."""

    image_bytes: bytes | None
    output_text: str | None
    inference_time: datetime | None
    complete: bool


MALFORMED = CaptureEvent(None, None, None, complete=False)


def hour_of(path: Path) -> datetime | None:
    """The UTC hour encoded by the ``yyyy/mm/dd/hh`` folders above a capture file."""
    parts = path.parts[-5:-1]
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        return None
    try:
        return datetime(int(parts[0]), int(parts[1]), int(parts[2]), int(parts[3]), tzinfo=UTC)
    except ValueError:
        return None


def capture_files(root: Path, window: TimeWindow) -> list[tuple[Path, datetime | None]]:
    """JSONL files whose hour folder is within one hour of the window (sorted for determinism)."""
    if not root.is_dir():
        raise FileNotFoundError(
            f"dataset_source {str(root)!r} is not a directory: point it at the folder holding the capture files"
        )
    margin = TimeWindow(window.start - HOUR if window.start else None, window.end + HOUR if window.end else None)
    files = []
    for path in sorted(root.rglob("*.jsonl")):
        if not path.is_file():
            continue
        hour = hour_of(path.relative_to(root))
        if hour is None or margin.overlaps(hour, hour + HOUR):
            files.append((path, hour))
    return files


_ASIDE_MARK = "\u0000scones:payload-set-aside\u0000"
_ASIDE_MARK_JSON = b"\\u0000scones:payload-set-aside\\u0000"
_ASIDE_MIN_BYTES = 1024
_JSON_SPACE = b" \t\r\n"


def _skip_space(line: bytes, index: int) -> int:
    while index < len(line) and line[index] in _JSON_SPACE:
        index += 1
    return index


def _set_payload_aside(line: bytes) -> tuple[bytes, bytes] | None:
    """The line with the value of its first long ``"data"`` string replaced by a mark, and that value's bytes.

    Parsing JSON scans every byte of a string, and a request image is nearly all of a capture line;
    so the image's base64 text is cut out (a plain slice: it holds no quote or backslash) and the rest
    parsed. ``None`` when the line does not allow it (the caller parses the whole line).
    """
    key = line.find(b'"data"')
    if key < 0:
        return None
    colon = _skip_space(line, key + 6)
    if colon >= len(line) or line[colon] != ord(":"):
        return None
    quote = _skip_space(line, colon + 1)
    if quote >= len(line) or line[quote] != ord('"'):
        return None
    end = line.find(b'"', quote + 1)
    value = line[quote + 1:end]
    if end < 0 or len(value) < _ASIDE_MIN_BYTES or b"\\" in value or not value.isascii():
        return None
    return line[:quote + 1] + _ASIDE_MARK_JSON + line[end:], value


def _payload_data(payload: object, aside: bytes | None) -> tuple[str | bytes, bool] | None:
    """The payload's ``data`` (the set-aside bytes where the mark stands) and whether it is base64-encoded."""
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), str):
        return None
    data = aside if aside is not None and payload["data"] == _ASIDE_MARK else payload["data"]
    return data, str(payload.get("encoding", "")).upper() == "BASE64"


def _input_bytes(payload: object, aside: bytes | None) -> bytes | None:
    found = _payload_data(payload, aside)
    if found is None:
        return None
    data, is_base64 = found
    if not is_base64:
        return data if isinstance(data, bytes) else data.encode("utf-8")
    try:
        return binascii.a2b_base64(data)
    except (binascii.Error, ValueError):
        return b""


def _output_text(payload: object, aside: bytes | None) -> str | None:
    found = _payload_data(payload, aside)
    if found is None:
        return None
    data, is_base64 = found
    if not is_base64:
        return data.decode("ascii") if isinstance(data, bytes) else data
    try:
        return base64.b64decode(data).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def parse_line(line: str | bytes) -> CaptureEvent:
    """Parse one JSONL line into an event (``MALFORMED`` when it is not a capture record)."""
    cut = _set_payload_aside(line) if isinstance(line, bytes) else None
    aside = None
    try:
        if cut is not None:
            record, aside = json.loads(cut[0]), cut[1]
        else:
            record = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return MALFORMED
    if not isinstance(record, dict) or not isinstance(record.get("captureData"), dict):
        return MALFORMED
    capture = record["captureData"]
    image = _input_bytes(capture.get("endpointInput"), aside)
    output = _output_text(capture.get("endpointOutput"), aside)
    metadata = record.get("eventMetadata")
    inference_time = None
    if isinstance(metadata, dict) and isinstance(metadata.get("inferenceTime"), str):
        try:
            inference_time = parse_time(metadata["inferenceTime"])
        except ValueError:
            inference_time = None
    complete = image is not None and output is not None and inference_time is not None
    return CaptureEvent(image, output, inference_time, complete)


def _window_events(lines: Iterator[bytes], undated_in_window: bool, window: TimeWindow) -> Iterator[CaptureEvent]:
    for line in lines:
        if not line.strip():
            continue
        event = parse_line(line)
        if event.inference_time is not None:
            if window.contains(event.inference_time):
                yield event
        elif undated_in_window:
            yield event


def written_at(path: Path, hour: datetime) -> datetime:
    """When the file was written, from its name within its hour folder (the hour's start if the name says nothing)."""
    match = _WRITTEN_AT.match(path.name)
    if match is None or int(match[1]) > 59 or int(match[2]) > 59:
        return hour
    return hour + timedelta(minutes=int(match[1]), seconds=int(match[2]), milliseconds=int(match[3]))


def _undated_lines_in_window(path: Path, hour: datetime | None, window: TimeWindow) -> bool:
    """Whether the file's undated lines belong to this window: the one holding the moment the file was written."""
    return hour is None or window.contains(written_at(path, hour))


def read_events(files: list[tuple[Path, datetime | None]], window: TimeWindow) -> Iterator[CaptureEvent]:
    """Events in the window, plus undated lines of the files written inside the window."""
    for path, hour in files:
        with path.open("rb") as handle:
            yield from _window_events(iter(handle), _undated_lines_in_window(path, hour, window), window)


@dataclass(frozen=True)
class Shard:
    """The lines of one capture file that start in ``[start, end)`` (byte offsets)."""

    path: Path
    hour: datetime | None
    start: int
    end: int


def plan_shards(files: list[tuple[Path, datetime | None]], shard_bytes: int) -> list[Shard]:
    """Cut the window's files into pieces of about ``shard_bytes`` that workers can read apart."""
    shards = []
    for path, hour in files:
        size = path.stat().st_size
        for start in range(0, max(size, 1), shard_bytes):
            shards.append(Shard(path, hour, start, min(start + shard_bytes, size)))
    return shards


def _shard_lines(handle: BinaryIO, shard: Shard) -> Iterator[bytes]:
    """Whole lines starting inside the shard; a line crossing ``end`` belongs to this shard."""
    position = shard.start
    if shard.start > 0:
        handle.seek(shard.start - 1)
        position += len(handle.readline()) - 1  # finish the line the previous shard owns (or just its newline)
    for line in handle:
        if position >= shard.end:
            return
        position += len(line)
        yield line


def read_shard_events(shard: Shard, window: TimeWindow) -> Iterator[CaptureEvent]:
    """Events of one shard, with the same window rules as :func:`read_events`."""
    with shard.path.open("rb") as handle:
        yield from _window_events(_shard_lines(handle, shard), _undated_lines_in_window(shard.path, shard.hour, window),
                                  window)
