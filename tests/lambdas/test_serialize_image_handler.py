"""serialize_image: reads the photo from S3, validates it from its bytes, inlines it when small."""

from __future__ import annotations

import base64
import importlib.util
import sys
from pathlib import Path

import pytest

from lambdas.serialize_image import app
from tests.lambdas.local_aws import BUCKET, LocalS3
from tests.lambdas.photo_samples import (
    jpeg_bytes,
    jpeg_header_declaring,
    noisy_png_bytes,
    png_bytes,
    png_header_declaring,
)

PHOTO_SQUARE = Path(__file__).resolve().parents[2] / "programs" / "shared" / "photo_square.py"


def test_small_png_is_inlined_in_the_peers_shape(local_s3: LocalS3) -> None:
    photo = png_bytes()
    local_s3.put("photos/bike.png", photo)
    result = app.lambda_handler({"s3_bucket": BUCKET, "s3_key": "photos/bike.png"}, None)
    assert result == {
        "statusCode": 200,
        "body": {"s3_bucket": BUCKET, "s3_key": "photos/bike.png", "image_data": base64.b64encode(photo).decode(),
                 "content_type": "image/png", "inferences": []},
    }


def test_wrapped_event_is_accepted(local_s3: LocalS3) -> None:
    local_s3.put("photos/bike.jpg", jpeg_bytes())
    result = app.lambda_handler({"statusCode": 200, "body": {"s3_bucket": BUCKET, "s3_key": "photos/bike.jpg"}}, None)
    assert result["body"]["content_type"] == "image/jpeg"


def test_photo_over_the_inline_limit_is_passed_by_reference(local_s3: LocalS3, monkeypatch) -> None:
    monkeypatch.setenv("INLINE_LIMIT_BYTES", "100")
    local_s3.put("photos/bike.png", png_bytes(64, 64))
    body = app.lambda_handler({"s3_bucket": BUCKET, "s3_key": "photos/bike.png"}, None)["body"]
    assert body["image_data"] == ""
    assert (body["s3_bucket"], body["s3_key"]) == (BUCKET, "photos/bike.png")


@pytest.mark.parametrize("event", [{}, {"s3_bucket": BUCKET}, {"s3_key": "k"}, {"s3_bucket": "", "s3_key": "k"},
                                   {"body": "not an object"}, ["s3_bucket"]])
def test_event_without_a_location_is_malformed(event) -> None:
    with pytest.raises(app.MalformedEventError, match="s3_bucket and s3_key"):
        app.lambda_handler(event, None)


def test_missing_object_is_photo_not_found(local_s3: LocalS3) -> None:
    with pytest.raises(app.PhotoNotFoundError, match=r"absent\.png"):
        app.lambda_handler({"s3_bucket": BUCKET, "s3_key": "absent.png"}, None)


@pytest.mark.parametrize("data", [b"", b"GIF89a not ours", b"%PDF-1.7", b"\x89PNG\r\n\x1a\n\x00"])
def test_non_image_is_refused(local_s3: LocalS3, data: bytes) -> None:
    local_s3.put("photos/x.png", data)
    with pytest.raises(app.NotAnImageError, match=r"s3://scones-test/photos/x\.png"):
        app.lambda_handler({"s3_bucket": BUCKET, "s3_key": "photos/x.png"}, None)


def test_photo_over_the_byte_limit_is_too_large(local_s3: LocalS3, monkeypatch) -> None:
    monkeypatch.setenv("MAX_IMAGE_BYTES", "1000")
    local_s3.put("photos/big.png", noisy_png_bytes(5_000))
    with pytest.raises(app.ImageTooLargeError, match="MAX_IMAGE_BYTES=1000"):
        app.lambda_handler({"s3_bucket": BUCKET, "s3_key": "photos/big.png"}, None)


@pytest.mark.parametrize("header", [png_header_declaring(100_000, 100_000), jpeg_header_declaring(65_000, 65_000)])
def test_huge_declared_dimensions_are_too_large(local_s3: LocalS3, header: bytes) -> None:
    local_s3.put("photos/bomb", header)
    with pytest.raises(app.ImageTooLargeError, match="MAX_IMAGE_PIXELS=40000000"):
        app.lambda_handler({"s3_bucket": BUCKET, "s3_key": "photos/bomb"}, None)


@pytest.mark.parametrize(
    ("data", "expected"),
    [(png_bytes(33, 17), ("image/png", 33, 17)), (jpeg_bytes(41, 23), ("image/jpeg", 41, 23))],
)
def test_dimensions_are_read_from_the_header(data: bytes, expected) -> None:
    assert app.inspect_image(data, "photo") == expected


def test_jpeg_without_a_frame_header_is_not_an_image() -> None:
    with pytest.raises(app.NotAnImageError, match="SOF"):
        app.inspect_image(b"\xff\xd8\xff\xe0\x00\x04ab\xff\xd9", "photo")


def test_invalid_limit_setting_names_the_variable(local_s3: LocalS3, monkeypatch) -> None:
    monkeypatch.setenv("MAX_IMAGE_PIXELS", "lots")
    local_s3.put("photos/bike.png", png_bytes())
    with pytest.raises(app.ConfigurationError, match="MAX_IMAGE_PIXELS"):
        app.lambda_handler({"s3_bucket": BUCKET, "s3_key": "photos/bike.png"}, None)


@pytest.mark.parametrize(("width", "height"), [(8, 4_000_000), (16, 2_000_000), (4_000_000, 8)])
def test_thin_photo_under_the_pixel_limit_is_refused_by_its_side(local_s3: LocalS3, width: int, height: int) -> None:
    local_s3.put("photos/thin.png", png_header_declaring(width, height))
    with pytest.raises(app.ImageTooLargeError, match=rf"{width}x{height} pixels, a side over MAX_IMAGE_SIDE=16384"):
        app.lambda_handler({"s3_bucket": BUCKET, "s3_key": "photos/thin.png"}, None)


def test_photo_thinner_than_the_aspect_ratio_limit_is_too_thin(local_s3: LocalS3) -> None:
    local_s3.put("photos/strip.png", png_bytes(30, 700))
    with pytest.raises(app.ImageTooThinError, match="30x700 pixels, thinner than MAX_ASPECT_RATIO=20"):
        app.lambda_handler({"s3_bucket": BUCKET, "s3_key": "photos/strip.png"}, None)


def test_byte_limit_above_the_invoke_endpoint_payload_limit_is_a_configuration_error(monkeypatch) -> None:
    monkeypatch.setenv("MAX_IMAGE_BYTES", str(10 * 1024 * 1024))
    with pytest.raises(app.ConfigurationError, match=r"MAX_IMAGE_BYTES=10485760 is over InvokeEndpoint's 6291456"):
        app.inspect_image(png_bytes(), "photo")


def test_header_limits_are_the_models_own(monkeypatch) -> None:
    spec = importlib.util.spec_from_file_location("shared_photo_square", PHOTO_SQUARE)
    photo_square = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, photo_square)
    spec.loader.exec_module(photo_square)
    assert (app.DEFAULT_MAX_IMAGE_PIXELS, app.MAX_IMAGE_SIDE, app.MAX_ASPECT_RATIO) == (
        photo_square.MAX_IMAGE_PIXELS, photo_square.MAX_IMAGE_SIDE, photo_square.MAX_ASPECT_RATIO)
