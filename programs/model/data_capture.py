"""SageMaker Data Capture JSONL records for images scored offline."""

from __future__ import annotations

import base64
import uuid
from typing import Any

DEFAULT_INFERENCE_TIME = "2000-01-01T00:00:00Z"


def capture_event_id(relative_path: str) -> str:
    """A deterministic event id from the image's path inside the captured split."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, relative_path))


def capture_record(
    image_bytes: bytes,
    content_type: str,
    response_body: str,
    response_content_type: str,
    event_id: str,
    inference_time: str = DEFAULT_INFERENCE_TIME,
) -> dict[str, Any]:
    """One Data Capture line: the request (base64) and the JSON response, as an endpoint records them."""
    return {
        "captureData": {
            "endpointInput": {
                "observedContentType": content_type,
                "mode": "INPUT",
                "data": base64.b64encode(image_bytes).decode("ascii"),
                "encoding": "BASE64",
            },
            "endpointOutput": {
                "observedContentType": response_content_type,
                "mode": "OUTPUT",
                "data": response_body,
                "encoding": "JSON",
            },
        },
        "eventMetadata": {"eventId": event_id, "inferenceTime": inference_time},
        "eventVersion": "0",
    }
