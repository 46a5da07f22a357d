"""Image decoding for serving, evaluation and channel reading: the model's 32x32 view of any photo.

The decoding and resizing itself is ``photo_square`` (shipped beside this file), the same function ingest
uses, so a photo served here and the same photo ingested for training become the same model input.
"""

from __future__ import annotations

import numpy as np
import torch
from photo_square import IMAGE_SIZE, MAX_IMAGE_PIXELS, PhotoRefused, decode_square
from PIL import Image

__all__ = ["IMAGE_SIZE", "MAX_IMAGE_PIXELS", "UnsupportedInputError", "decode_image", "image_to_uint8_tensor",
           "normalise"]

MAX_IMAGE_BYTES = 20_000_000
DECODABLE_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF")


class UnsupportedInputError(ValueError):
    """The request body or file is not an image this model accepts (a client error, HTTP 4xx)."""


def decode_image(image_bytes: bytes, source: str = "request body") -> Image.Image:
    """Decode image bytes into a 32x32 RGB image, refusing non-images, decompression bombs and thin images."""
    if not image_bytes:
        raise UnsupportedInputError(f"{source} is empty: send the bytes of a PNG or JPEG image")
    if len(image_bytes) > MAX_IMAGE_BYTES:
        raise UnsupportedInputError(
            f"{source} is {len(image_bytes)} bytes, over the {MAX_IMAGE_BYTES}-byte limit: send a smaller image"
        )
    try:
        image, _ = decode_square(image_bytes, DECODABLE_FORMATS)
    except PhotoRefused as refused:
        raise UnsupportedInputError(f"{source} refused: {refused}") from None
    return image


def image_to_uint8_tensor(image: Image.Image) -> torch.Tensor:
    """A 3 x H x W uint8 tensor of an RGB image."""
    return torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1).contiguous()


def normalise(images: torch.Tensor, mean: list[float], std: list[float]) -> torch.Tensor:
    """Scale uint8 (or 0-255 float) N x 3 x H x W images to [0, 1] and standardise per channel."""
    mean_tensor = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    std_tensor = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return (images.float() / 255.0 - mean_tensor) / std_tensor
