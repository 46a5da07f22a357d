"""The one way a photo becomes the model's 32x32 RGB input: ingest, training, evaluation and serving share it.

Ingest and the model are shipped separately (the ingest job's code; the training job's source archive and
the model's ``code/`` folder), so this one file appears in both program folders as a symbolic link,
``programs/ingest/photo_square.py`` and ``programs/model/photo_square.py``. ``include/code_bundle.py``
follows the links, so each bundle carries these bytes as a module of its own, and ``train.py`` packs them
into model.tar.gz (``model_artifacts.SERVING_MODULES``).

Hostile photos are refused cheaply, by the header, before any pixel is decoded: too many pixels, a side
longer than ``MAX_IMAGE_SIDE`` or proportions thinner than ``MAX_ASPECT_RATIO``. What is decoded is never
enlarged: the centre square is cut from the decoded photo in strips, each strip converted to RGB and
box-reduced on its own, and only the small result (at most ``REDUCING_GAP`` times the output) is resampled.
Memory therefore stays within the decoded photo plus one strip, whatever the photo's shape or mode.

Conversion to RGB: 16-bit greyscale is scaled to 8 bits (not clipped), palette and greyscale are
expanded, and transparent pixels (alpha, or a palette/tRNS transparent colour) are laid over white.
EXIF orientation is applied to the result.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, UnidentifiedImageError

IMAGE_SIZE = 32
MAX_IMAGE_PIXELS = 40_000_000
MAX_IMAGE_SIDE = 16_384
MAX_ASPECT_RATIO = 20.0
REDUCING_GAP = 3
STRIP_PIXELS = 1 << 20
WHITE = (255, 255, 255)
SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
EXIF_ORIENTATION_TAG = 0x0112
ORIENTATIONS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class PhotoRefused(ValueError):
    """A photo refused before or while decoding; the message says why and what to do."""


@dataclass(frozen=True)
class PhotoLimits:
    """What a photo's header may declare."""

    max_pixels: int = MAX_IMAGE_PIXELS
    max_side: int = MAX_IMAGE_SIDE
    max_aspect_ratio: float = MAX_ASPECT_RATIO


def check_dimensions(width: int, height: int, limits: PhotoLimits = PhotoLimits()) -> None:
    """Refuse declared dimensions that are empty, too many pixels, too long a side or too thin."""
    if width <= 0 or height <= 0:
        raise PhotoRefused(f"declares an empty {width}x{height} image; re-export the photo")
    if width * height > limits.max_pixels:
        raise PhotoRefused(f"{width}x{height} pixels ({width * height}), over the {limits.max_pixels}-pixel limit "
                           "(possible decompression bomb); shrink the photo")
    if max(width, height) > limits.max_side:
        raise PhotoRefused(f"{width}x{height} has a side over the {limits.max_side}-pixel limit; shrink the photo")
    if max(width, height) > limits.max_aspect_ratio * min(width, height):
        raise PhotoRefused(f"{width}x{height} is thinner than the {limits.max_aspect_ratio:g}:1 aspect-ratio limit; "
                           "crop it to the vehicle")


def decode_square(
    payload: bytes, formats: Sequence[str], limits: PhotoLimits = PhotoLimits(), size: int = IMAGE_SIZE
) -> tuple[Image.Image, str]:
    """The photo's ``size`` x ``size`` RGB model input and its format; :class:`PhotoRefused` otherwise."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(payload), formats=list(formats)) as image:
                check_dimensions(*image.size, limits)
                image_format = "JPEG" if image.format == "MPO" else str(image.format)
                if image_format == "JPEG":
                    _draft_for(image, size)
                orientation = image.getexif().get(EXIF_ORIENTATION_TAG)
                square = centre_square(image, size)
    except PhotoRefused:
        raise
    except UnidentifiedImageError:
        raise PhotoRefused(f"not a decodable image: not a {' or '.join(formats)} file; convert it") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise PhotoRefused(f"over the pixel limit (possible decompression bomb): {error}") from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as error:
        raise PhotoRefused(f"unreadable image ({type(error).__name__}: {error}); re-export it") from None
    if orientation in ORIENTATIONS:
        square = square.transpose(ORIENTATIONS[orientation])
    return square, image_format


def _draft_for(image: Image.Image, size: int) -> None:
    """Let the JPEG decoder scale down by DCT (1/2 .. 1/8) while the short side stays >= gap x size."""
    width, height = image.size
    short = min(width, height)
    wanted = size * REDUCING_GAP
    image.draft("RGB", (max(1, width * wanted // short), max(1, height * wanted // short)))


def centre_square(image: Image.Image, size: int = IMAGE_SIZE) -> Image.Image:
    """The centre square of ``image`` as ``size`` x ``size`` RGB, built without enlarging anything first.

    The square is box-reduced by an integer factor in strips of rows (each strip converted to RGB on its
    own), leaving at least ``REDUCING_GAP`` x ``size`` pixels a side, then resampled bicubically.
    """
    width, height = image.size
    side = min(width, height)
    factor = max(1, side // (size * REDUCING_GAP))
    side -= side % factor
    left, top = (width - side) // 2, (height - side) // 2
    reduced = Image.new("RGB", (side // factor, side // factor))
    strip_rows = max(factor, STRIP_PIXELS // side // factor * factor)
    for offset in range(0, side, strip_rows):
        rows = min(strip_rows, side - offset)
        strip = image.crop((left, top + offset, left + side, top + offset + rows))
        reduced.paste(as_rgb(strip).reduce(factor), (0, offset // factor))
    if reduced.size == (size, size):
        return reduced
    return reduced.resize((size, size), Image.Resampling.BICUBIC)


def as_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB: 16-bit scaled down, palette and greyscale expanded, transparency laid over white."""
    if image.mode == "RGB" and "transparency" not in image.info:
        return image
    if image.mode in SIXTEEN_BIT_MODES:
        levels = np.clip(np.asarray(image, dtype=np.uint32), 0, 65535)
        return Image.fromarray(((levels * 255 + 32767) // 65535).astype(np.uint8)).convert("RGB")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, WHITE)
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")
