"""Decode a JPEG or PNG within limits into the 32x32 RGB training image; encode PNG.

The decoding and resizing is ``photo_square`` (shipped beside this file), the same function the model's
serving handler uses, so an ingested photo and the same photo served become the same model input.
"""

from __future__ import annotations

import io

from ingest_errors import PhotoRejected
from photo_square import PhotoLimits, PhotoRefused, centre_square, decode_square
from PIL import Image

__all__ = ["ALLOWED_FORMATS", "EXTENSIONS", "centre_square", "decode_photo", "encode_png"]

ALLOWED_FORMATS = ("JPEG", "PNG")
EXTENSIONS = {"JPEG": "jpg", "PNG": "png"}


def decode_photo(payload: bytes, max_pixels: int) -> tuple[Image.Image, str]:
    """The photo's 32x32 RGB image and format (``JPEG``/``PNG``); :class:`PhotoRejected` otherwise."""
    try:
        return decode_square(payload, ALLOWED_FORMATS, PhotoLimits(max_pixels=max_pixels))
    except PhotoRefused as refused:
        raise PhotoRejected(str(refused)) from None


def encode_png(image: Image.Image) -> bytes:
    """Deterministic PNG bytes (no timestamps or text chunks)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=9)
    return buffer.getvalue()
