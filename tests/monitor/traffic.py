"""Synthetic endpoint traffic in SageMaker Data Capture format, for the analyzer's tests."""

from __future__ import annotations

import base64
import functools
import io
import json
import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image

ENDPOINT = "scones-endpoint"
VARIANT = "AllTraffic"
START = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


def png_bytes(level: int, seed: int, size: tuple[int, int] = (32, 32)) -> bytes:
    """A noisy colour PNG whose mean intensity is about ``level`` (0-255)."""
    rng = np.random.default_rng(seed)
    pixels = np.clip(rng.normal(level, 25, size=(size[1], size[0], 3)), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


@functools.cache
def image_pool(brightness: tuple[int, int], count: int = 48, size: tuple[int, int] = (32, 32)) -> tuple[bytes, ...]:
    """``count`` PNGs of ``size`` with mean intensities spread evenly over ``brightness``."""
    low, high = brightness
    return tuple(png_bytes(round(low + (high - low) * (i + 0.5) / count), seed=i, size=size) for i in range(count))


@dataclass(frozen=True)
class Profile:
    """How a stream of traffic looks: image brightness, class mix and model confidence."""

    brightness: tuple[int, int] = (90, 170)
    motorcycle_share: float = 0.5
    confidence: tuple[float, float] = (0.94, 1.0)
    low_confidence_share: float = 0.05
    size: tuple[int, int] = (32, 32)


def capture_record(image: bytes, probabilities: list[float], when: datetime, output_base64: bool = False) -> dict:
    output = json.dumps(probabilities)
    endpoint_output = {"observedContentType": "application/json", "mode": "OUTPUT", "data": output, "encoding": "JSON"}
    if output_base64:
        endpoint_output.update(data=base64.b64encode(output.encode()).decode(), encoding="BASE64")
    return {
        "captureData": {
            "endpointInput": {
                "observedContentType": "image/png",
                "mode": "INPUT",
                "data": base64.b64encode(image).decode(),
                "encoding": "BASE64",
            },
            "endpointOutput": endpoint_output,
        },
        "eventMetadata": {"eventId": str(uuid.uuid4()), "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%SZ")},
        "eventVersion": "0",
    }


def traffic(
    count: int, profile: Profile | None = None, start: datetime = START, spacing_seconds: float = 1.0, seed: int = 0
) -> list[tuple[datetime, str]]:
    """``count`` capture lines following ``profile``, one every ``spacing_seconds``."""
    profile = profile or Profile()
    rng = random.Random(seed)
    images = image_pool(profile.brightness, size=profile.size)
    lines = []
    for index in range(count):
        if rng.random() < profile.low_confidence_share:
            confidence = rng.uniform(0.5, 0.9)
        else:
            confidence = rng.uniform(*profile.confidence)
        motorcycle = rng.random() < profile.motorcycle_share
        probabilities = [1 - confidence, confidence] if motorcycle else [confidence, 1 - confidence]
        when = start + timedelta(seconds=index * spacing_seconds)
        lines.append((when, json.dumps(capture_record(rng.choice(images), probabilities, when))))
    return lines


def write_capture(root: Path, lines: Iterable[tuple[datetime, str]], name: str = "capture") -> Path:
    """Append lines under ``root/endpoint/variant/yyyy/mm/dd/hh/<name>.jsonl`` by their hour."""
    for when, line in lines:
        folder = root / ENDPOINT / VARIANT / when.strftime("%Y/%m/%d/%H")
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / f"{name}.jsonl").open("a") as handle:
            handle.write(line + "\n")
    return root
