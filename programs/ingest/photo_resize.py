"""Decode a JPEG or PNG within limits and make the 32x32 RGB training image; encode PNG."""

from __future__ import annotations

import io
import math
import warnings

from ingest_errors import PhotoRejected
from PIL import Image, ImageOps, UnidentifiedImageError

ALLOWED_FORMATS = ("JPEG", "PNG")
EXTENSIONS = {"JPEG": "jpg", "PNG": "png"}
SIZE = 32


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB; transparent pixels are laid over white."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def centre_square(image: Image.Image, size: int = SIZE) -> Image.Image:
    """Resize so the shorter side is ``size``, then crop the centre ``size`` x ``size``."""
    width, height = image.size
    scale = size / min(width, height)
    resized = image.resize((max(size, round(width * scale)), max(size, round(height * scale))),
                           Image.Resampling.LANCZOS, reducing_gap=3.0)
    left, top = (resized.width - size) // 2, (resized.height - size) // 2
    return resized.crop((left, top, left + size, top + size))


def decode_photo(payload: bytes, max_pixels: int) -> tuple[Image.Image, str]:
    """The photo's 32x32 RGB image and format (``JPEG``/``PNG``); :class:`PhotoRejected` otherwise."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(payload), formats=ALLOWED_FORMATS) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise PhotoRejected(f"{width}x{height} is {width * height} pixels, over "
                                        f"--max-image-pixels {max_pixels} (possible decompression bomb); "
                                        "shrink the photo")
                image_format = str(image.format)
                if image_format == "JPEG":
                    scale = SIZE / min(width, height)
                    image.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
                image.load()
                upright = ImageOps.exif_transpose(image)
                return centre_square(_to_rgb(upright)), image_format
    except PhotoRejected:
        raise
    except UnidentifiedImageError:
        raise PhotoRejected("not a JPEG or PNG image; convert it or remove it") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise PhotoRejected(f"over the pixel limit (possible decompression bomb): {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise PhotoRejected(f"unreadable image ({type(exc).__name__}: {exc}); re-export it") from None


def encode_png(image: Image.Image) -> bytes:
    """Deterministic PNG bytes (no timestamps or text chunks)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=9)
    return buffer.getvalue()
