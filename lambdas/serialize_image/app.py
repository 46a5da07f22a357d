"""Serialize a courier's vehicle photo for the inference state machine.

Event: ``{"s3_bucket": "...", "s3_key": "..."}`` (a previous step's ``{"statusCode", "body"}``
wrapper is accepted too). The object is read with S3 ``GetObject`` and validated from its bytes
alone (stdlib only), before anything decodes it: it must be a PNG or JPEG by magic bytes, at most
``MAX_IMAGE_BYTES`` bytes, and its PNG ``IHDR`` / JPEG ``SOF`` header must declare at most
``MAX_IMAGE_PIXELS`` pixels, no side over ``MAX_IMAGE_SIDE`` and proportions no thinner than
``MAX_ASPECT_RATIO`` (a 35 KB PNG of 8 x 4,000,000 pixels is a memory bomb for any resizer).

Output: ``{"statusCode": 200, "body": {"s3_bucket", "s3_key", "image_data", "content_type",
"inferences": []}}`` where ``image_data`` is the base64 photo when its encoded size is at most
``INLINE_LIMIT_BYTES``, else ``""`` and the next step reads the photo from S3 by reference.

Environment: ``MAX_IMAGE_BYTES`` (default and ceiling 6 MiB, InvokeEndpoint's payload limit; serverless
endpoints take 4 MiB), ``MAX_IMAGE_PIXELS`` (default 40 MP), ``INLINE_LIMIT_BYTES`` (default 150000).
The side and aspect-ratio limits (``MAX_IMAGE_SIDE``, ``MAX_ASPECT_RATIO``) are not settings: they are
the model's own input contract (``programs/shared/photo_square.py``, which the endpoint enforces too).
The S3 client is created lazily on first use and reused while ``AWS_ENDPOINT_URL_S3`` is unchanged, so
the local runtime (and tests) may point the same code at a local endpoint after import.
"""

from __future__ import annotations

import base64
import functools
import os
import struct
from typing import Any

import boto3

INVOKE_ENDPOINT_PAYLOAD_LIMIT = 6 * 1024 * 1024
DEFAULT_MAX_IMAGE_BYTES = INVOKE_ENDPOINT_PAYLOAD_LIMIT
DEFAULT_MAX_IMAGE_PIXELS = 40_000_000
MAX_IMAGE_SIDE = 16_384
MAX_ASPECT_RATIO = 20.0
DEFAULT_INLINE_LIMIT_BYTES = 150_000

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"
# JPEG start-of-frame markers carrying the frame size (all SOFn except DHT, JPG and DAC).
JPEG_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
JPEG_STANDALONE_MARKERS = frozenset(range(0xD0, 0xDA)) | {0x01}


class MalformedEventError(ValueError):
    """The event lacks the photo's S3 location."""


class PhotoNotFoundError(LookupError):
    """No object at the event's S3 location."""


class NotAnImageError(ValueError):
    """The object is not a readable PNG or JPEG."""


class ImageTooLargeError(ValueError):
    """The photo exceeds the byte, pixel or side limit."""


class ImageTooThinError(ValueError):
    """The photo's proportions are thinner than the aspect-ratio limit."""


class ConfigurationError(ValueError):
    """An environment variable holds an invalid value."""


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bucket, key = photo_location(event)
    data = read_photo(bucket, key)
    content_type, _, _ = inspect_image(data, f"s3://{bucket}/{key}")
    encoded = base64.b64encode(data).decode("ascii")
    inline = len(encoded) <= _int_setting("INLINE_LIMIT_BYTES", DEFAULT_INLINE_LIMIT_BYTES)
    return {
        "statusCode": 200,
        "body": {
            "s3_bucket": bucket,
            "s3_key": key,
            "image_data": encoded if inline else "",
            "content_type": content_type,
            "inferences": [],
        },
    }


def photo_location(event: Any) -> tuple[str, str]:
    """The ``(bucket, key)`` the event names."""
    body = event.get("body", event) if isinstance(event, dict) else None
    if not isinstance(body, dict):
        raise MalformedEventError(
            f"event must be a JSON object with s3_bucket and s3_key, got {event!r:.200}"
        )
    bucket, key = body.get("s3_bucket"), body.get("s3_key")
    if not isinstance(bucket, str) or not bucket or not isinstance(key, str) or not key:
        raise MalformedEventError(
            f"event needs non-empty string fields s3_bucket and s3_key, got keys {sorted(body)}"
        )
    return bucket, key


def read_photo(bucket: str, key: str) -> bytes:
    """The object's bytes; a missing object raises :class:`PhotoNotFoundError`."""
    client = _s3_client()
    try:
        return client.get_object(Bucket=bucket, Key=key)["Body"].read()
    except client.exceptions.NoSuchKey:
        raise PhotoNotFoundError(f"no photo at s3://{bucket}/{key}: check s3_bucket and s3_key") from None


def inspect_image(data: bytes, name: str) -> tuple[str, int, int]:
    """Validate the photo; returns ``(content_type, width, height)``."""
    if not data:
        raise NotAnImageError(f"{name} is empty: upload a PNG or JPEG photo")
    max_bytes = _int_setting("MAX_IMAGE_BYTES", DEFAULT_MAX_IMAGE_BYTES)
    if max_bytes > INVOKE_ENDPOINT_PAYLOAD_LIMIT:
        raise ConfigurationError(
            f"MAX_IMAGE_BYTES={max_bytes} is over InvokeEndpoint's {INVOKE_ENDPOINT_PAYLOAD_LIMIT}-byte payload "
            "limit: every larger photo would fail at classify; set it to at most that (4194304 for serverless)"
        )
    if len(data) > max_bytes:
        raise ImageTooLargeError(
            f"{name} is {len(data)} bytes, over MAX_IMAGE_BYTES={max_bytes}: resize or recompress the photo"
        )
    if data.startswith(PNG_SIGNATURE):
        content_type, (width, height) = "image/png", _png_size(data, name)
    elif data.startswith(JPEG_SIGNATURE):
        content_type, (width, height) = "image/jpeg", _jpeg_size(data, name)
    else:
        raise NotAnImageError(f"{name} is not a PNG or JPEG (starts with {data[:8]!r}): upload a photo")
    check_dimensions(width, height, name)
    return content_type, width, height


def check_dimensions(width: int, height: int, name: str) -> None:
    """Refuse declared dimensions over the pixel or side limit, or thinner than the aspect-ratio limit."""
    max_pixels = _int_setting("MAX_IMAGE_PIXELS", DEFAULT_MAX_IMAGE_PIXELS)
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"{name} declares {width}x{height} pixels, over MAX_IMAGE_PIXELS={max_pixels}: resize the photo"
        )
    if max(width, height) > MAX_IMAGE_SIDE:
        raise ImageTooLargeError(
            f"{name} declares {width}x{height} pixels, a side over MAX_IMAGE_SIDE={MAX_IMAGE_SIDE}: resize the photo"
        )
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise ImageTooThinError(
            f"{name} declares {width}x{height} pixels, thinner than MAX_ASPECT_RATIO={MAX_ASPECT_RATIO:g}: "
            "crop the photo to the vehicle"
        )


def _png_size(data: bytes, name: str) -> tuple[int, int]:
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise NotAnImageError(f"{name} is a truncated PNG without an IHDR header: re-export the photo")
    width, height = struct.unpack(">II", data[16:24])
    if width == 0 or height == 0:
        raise NotAnImageError(f"{name} declares an empty {width}x{height} PNG: re-export the photo")
    return width, height


def _jpeg_size(data: bytes, name: str) -> tuple[int, int]:
    offset = 2
    while offset + 4 <= len(data):
        if data[offset] != 0xFF:
            break
        marker = data[offset + 1]
        if marker == 0xFF:
            offset += 1
            continue
        if marker in JPEG_STANDALONE_MARKERS:
            offset += 2
            continue
        (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
        if marker in JPEG_SOF_MARKERS and offset + 9 <= len(data):
            height, width = struct.unpack(">HH", data[offset + 5 : offset + 9])
            if width == 0 or height == 0:
                raise NotAnImageError(f"{name} declares an empty {width}x{height} JPEG: re-export the photo")
            return width, height
        if marker == 0xDA or length < 2:
            break
        offset += 2 + length
    raise NotAnImageError(f"{name} is a JPEG without a readable frame header (SOF): re-export the photo")


def _int_setting(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(
            f"{name}={raw!r} is not an integer: set it to a positive whole number"
        ) from None
    if value <= 0:
        raise ConfigurationError(f"{name}={raw!r} must be positive")
    return value


def _s3_client() -> Any:
    return _client_for("s3", os.environ.get("AWS_ENDPOINT_URL_S3", ""))


@functools.lru_cache(maxsize=4)
def _client_for(service: str, endpoint_url_setting: str) -> Any:
    return boto3.client(service)
