"""Image decoding and resizing shared by serving, evaluation and channel reading.

Any photo becomes a 32x32 RGB image the same way ingest prepares photos: EXIF orientation
applied, converted to RGB, shorter side resized to 32 with bicubic resampling, centre crop.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
import torch
from PIL import Image, ImageOps

IMAGE_SIZE = 32
MAX_IMAGE_PIXELS = 40_000_000
MAX_IMAGE_BYTES = 20_000_000
DECODABLE_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF")


class UnsupportedInputError(ValueError):
    """The request body or file is not an image this model accepts (a client error, HTTP 4xx)."""


def decode_image(image_bytes: bytes, source: str = "request body") -> Image.Image:
    """Decode image bytes into a 32x32 RGB image, refusing non-images and decompression bombs."""
    if not image_bytes:
        raise UnsupportedInputError(f"{source} is empty: send the bytes of a PNG or JPEG image")
    if len(image_bytes) > MAX_IMAGE_BYTES:
        raise UnsupportedInputError(
            f"{source} is {len(image_bytes)} bytes, over the {MAX_IMAGE_BYTES}-byte limit: send a smaller image"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(image_bytes), formats=DECODABLE_FORMATS)
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise UnsupportedInputError(
                    f"{source} is {width}x{height} pixels, over the {MAX_IMAGE_PIXELS}-pixel limit: "
                    "send a smaller image"
                )
            image.load()
    except UnsupportedInputError:
        raise
    except (
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as error:
        raise UnsupportedInputError(
            f"{source} is not a decodable image ({type(error).__name__}: {error}); "
            f"send one of {', '.join(DECODABLE_FORMATS)}"
        ) from error
    return resize_and_crop(ImageOps.exif_transpose(image).convert("RGB"))


def resize_and_crop(image: Image.Image, size: int = IMAGE_SIZE) -> Image.Image:
    """Resize the shorter side to `size` (bicubic) and crop the centre `size` x `size` square."""
    width, height = image.size
    if (width, height) == (size, size):
        return image
    scale = size / min(width, height)
    resized_width = max(size, round(width * scale))
    resized_height = max(size, round(height * scale))
    resized = image.resize((resized_width, resized_height), Image.Resampling.BICUBIC)
    left = (resized_width - size) // 2
    top = (resized_height - size) // 2
    return resized.crop((left, top, left + size, top + size))


def image_to_uint8_tensor(image: Image.Image) -> torch.Tensor:
    """A 3 x H x W uint8 tensor of an RGB image."""
    return torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1).contiguous()


def normalise(images: torch.Tensor, mean: list[float], std: list[float]) -> torch.Tensor:
    """Scale uint8 (or 0-255 float) N x 3 x H x W images to [0, 1] and standardise per channel."""
    mean_tensor = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    std_tensor = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    return (images.float() / 255.0 - mean_tensor) / std_tensor
