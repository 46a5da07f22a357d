"""Photos for the browser: what kind of image the bytes are, and a small PNG thumbnail of them."""

from __future__ import annotations

import io

SIGNATURES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


class NotAPhotoError(ValueError):
    """The bytes are not a PNG or JPEG image, or too large to decode safely."""


def image_type(data: bytes) -> str:
    """``image/png`` or ``image/jpeg`` from the file's signature (never from its name)."""
    for signature, content_type in SIGNATURES.items():
        if data.startswith(signature):
            return content_type
    raise NotAPhotoError("not a PNG or JPEG photo")


def thumbnail(data: bytes, longest_side: int, max_pixels: int) -> bytes:
    """A PNG no larger than ``longest_side`` on either side; refuses images over ``max_pixels`` before decoding."""
    from PIL import Image, UnidentifiedImageError

    image_type(data)
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > max_pixels:
                raise NotAPhotoError(f"{image.width}x{image.height} pixels is over {max_pixels}")
            image.thumbnail((longest_side, longest_side))
            out = io.BytesIO()
            image.convert("RGB").save(out, format="PNG")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise NotAPhotoError(f"the photo cannot be decoded: {error}") from error
    return out.getvalue()
