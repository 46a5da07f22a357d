"""A capture line parses to the same event whether or not its image payload is set aside before JSON parsing."""

from __future__ import annotations

import json

import pytest
from capture import parse_line

from .traffic import START, capture_record, png_bytes


def record(**changes) -> dict:
    document = capture_record(png_bytes(120, seed=1, size=(48, 48)), [0.2, 0.8], START)
    for path, value in changes.items():
        payload, key = path.split("__")
        document["captureData"][payload][key] = value
    return document


def variants() -> dict[str, bytes]:
    document = record()
    image = document["captureData"]["endpointInput"]["data"]
    output_first = {"captureData": {"endpointOutput": document["captureData"]["endpointOutput"],
                                    "endpointInput": document["captureData"]["endpointInput"]},
                    "eventMetadata": document["eventMetadata"], "eventVersion": "0"}
    return {
        "spaced": json.dumps(document).encode(),
        "compact": json.dumps(document, separators=(",", ":")).encode(),
        "escaped slashes": json.dumps(document).replace("/", "\\/").encode(),
        "output first": json.dumps(output_first).encode(),
        "broken base64": json.dumps(record(endpointInput__data="!!" + image[2:])).encode(),
        "short payload": json.dumps(record(endpointInput__data="aGVsbG8=")).encode(),
        "text payload": json.dumps(record(endpointInput__encoding="JSON",
                                          endpointInput__data="x" * 2000)).encode(),
    }


@pytest.mark.parametrize("name", list(variants()))
def test_fast_and_full_parsing_agree(name: str) -> None:
    line = variants()[name]
    assert parse_line(line) == parse_line(line.decode())  # text lines are always parsed whole


def test_the_image_comes_through_intact() -> None:
    document = record()
    event = parse_line(json.dumps(document).encode())
    assert event.image_bytes == png_bytes(120, seed=1, size=(48, 48))
    assert event.complete
