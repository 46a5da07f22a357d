"""Photos and photo-like byte strings for the Lambda tests."""

from __future__ import annotations

import io
import json
import os
import struct
from typing import Any

from PIL import Image


def png_bytes(width: int = 32, height: int = 32) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes(width: int = 40, height: int = 24) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 30, 200)).save(buffer, format="JPEG")
    return buffer.getvalue()


def noisy_png_bytes(approximate_bytes: int) -> bytes:
    """An incompressible PNG of roughly ``approximate_bytes``."""
    side = int((approximate_bytes / 3) ** 0.5)
    buffer = io.BytesIO()
    noise = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    noise.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def png_header_declaring(width: int, height: int) -> bytes:
    """A PNG signature and IHDR chunk declaring ``width`` x ``height`` (no pixel data)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + b"\x00\x00\x00\x00"


def jpeg_header_declaring(width: int, height: int) -> bytes:
    """A JPEG with an APP0 segment and a baseline SOF0 declaring ``width`` x ``height``."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"


def wrapped(body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": 200, "body": body}


def json_roundtrip(value: Any) -> Any:
    return json.loads(json.dumps(value))
