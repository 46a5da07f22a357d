"""Photos that have hurt image pipelines: thin, 16-bit, palette with transparency, alpha, rotated by EXIF.

Plain functions returning encoded bytes, so the Lambda, serving, ingest and parity tests use the same ones.
"""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header(width: int, height: int, bit_depth: int = 8, colour_type: int = 2) -> bytes:
    """A PNG's signature and IHDR declaring ``width`` x ``height`` and one empty IDAT: what a header reader sees."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return PNG_SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"")) + _chunk(b"IEND", b"")


def sixteen_bit_png(width: int, height: int, level: int, colour_type: int = 0) -> bytes:
    """A 16-bit PNG (grey 0, RGB 2, grey+alpha 4, RGBA 6) with every sample at ``level`` (alpha opaque)."""
    channels = PNG_CHANNELS[colour_type]
    pixel = [level] * channels
    if colour_type in (4, 6):
        pixel[-1] = 65535
    row = b"\x00" + struct.pack(f">{width * channels}H", *(pixel * width))
    ihdr = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    return PNG_SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(row * height)) + _chunk(b"IEND", b"")


def encoded(image: Image.Image, image_format: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def solid_png(width: int, height: int, colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    return encoded(Image.new("RGB", (width, height), colour))


def transparent_palette_png(size: int = 48) -> bytes:
    """A palette PNG whose index 0 (black) is fully transparent, with an opaque blue centre."""
    image = Image.new("P", (size, size), 0)
    image.putpalette([0, 0, 0, 0, 0, 255])
    image.paste(1, (size // 4, size // 4, 3 * size // 4, 3 * size // 4))
    return encoded(image, transparency=0)


def clear_rgba_png(size: int = 60) -> bytes:
    """A fully transparent black RGBA PNG."""
    return encoded(Image.new("RGBA", (size, size), (0, 0, 0, 0)))


def half_clear_grey_alpha_png(size: int = 40) -> bytes:
    """A black greyscale+alpha PNG at half opacity."""
    return encoded(Image.new("LA", (size, size), (0, 128)))


def rotated_jpeg(orientation: int = 6) -> bytes:
    """A 64x40 JPEG, red left half and blue right half, tagged with an EXIF orientation."""
    image = Image.new("RGB", (64, 40), (220, 20, 20))
    image.paste((20, 20, 220), (32, 0, 64, 40))
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encoded(image, "JPEG", exif=exif, quality=95)


def striped_png(width: int, height: int) -> bytes:
    """An RGB PNG with vertical stripes, so resampling differences show."""
    image = Image.new("RGB", (width, height))
    for x in range(0, width, 4):
        image.paste((x * 7 % 256, 255 - x % 256, 90), (x, 0, min(width, x + 2), height))
    return encoded(image)
