"""Hostile photos meet the serving decoder: refused by the header, or squared without enlarging anything."""

from __future__ import annotations

import photo_square
import pytest
from PIL import Image
from preprocessing import UnsupportedInputError, decode_image

from tests.support.hostile_photos import (
    clear_rgba_png,
    half_clear_grey_alpha_png,
    png_header,
    rotated_jpeg,
    sixteen_bit_png,
    solid_png,
    striped_png,
    transparent_palette_png,
)


@pytest.mark.parametrize(("width", "height"), [(8, 4_000_000), (16, 2_000_000), (4_000_000, 8)])
def test_thin_photos_under_the_pixel_limit_are_refused_from_the_header(width: int, height: int) -> None:
    # The header-only PNG has no pixel data: a refusal naming the side proves nothing was decoded.
    with pytest.raises(UnsupportedInputError, match=rf"{width}x{height} has a side over the 16384-pixel limit"):
        decode_image(png_header(width, height))


def test_photo_thinner_than_the_aspect_ratio_limit_is_refused() -> None:
    with pytest.raises(UnsupportedInputError, match=r"30x700 is thinner than the 20:1 aspect-ratio limit"):
        decode_image(solid_png(30, 700))


@pytest.mark.parametrize(("width", "height"), [(300, 6000), (6000, 300), (20, 400), (17, 11)])
def test_no_intermediate_image_is_larger_than_the_centre_square_or_the_output(
    width: int, height: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    created: list[tuple[int, int]] = []
    original_new, original_factory = Image.Image._new, Image.new

    def recording_new(self: Image.Image, im):
        created.append(im.size)
        return original_new(self, im)

    def recording_factory(mode, size, *args, **kwargs):
        created.append(tuple(size))
        return original_factory(mode, size, *args, **kwargs)

    photo = striped_png(width, height)
    monkeypatch.setattr(Image.Image, "_new", recording_new)
    monkeypatch.setattr(Image, "new", recording_factory)
    square = decode_image(photo)
    bound = max(min(width, height) ** 2, photo_square.IMAGE_SIZE**2)
    assert (square.size, square.mode) == ((32, 32), "RGB")
    assert created and max(w * h for w, h in created) <= bound


@pytest.mark.parametrize(("level", "expected"), [(65535, 255), (32768, 128), (0, 0)])
def test_sixteen_bit_greyscale_is_scaled_not_clipped(level: int, expected: int) -> None:
    assert decode_image(sixteen_bit_png(40, 40, level)).getpixel((16, 16)) == (expected,) * 3


@pytest.mark.parametrize("colour_type", [2, 4, 6])
def test_sixteen_bit_colour_and_alpha_keep_their_level(colour_type: int) -> None:
    assert decode_image(sixteen_bit_png(40, 40, 32768, colour_type)).getpixel((16, 16)) == (128, 128, 128)


def test_transparent_palette_colour_is_laid_over_white() -> None:
    square = decode_image(transparent_palette_png())
    assert (square.getpixel((1, 1)), square.getpixel((16, 16))) == ((255, 255, 255), (0, 0, 255))


def test_fully_transparent_rgba_is_white() -> None:
    assert decode_image(clear_rgba_png()).getpixel((16, 16)) == (255, 255, 255)


def test_half_transparent_black_greyscale_is_mid_grey() -> None:
    assert decode_image(half_clear_grey_alpha_png()).getpixel((16, 16)) in {(127, 127, 127), (128, 128, 128)}


def test_exif_orientation_is_applied() -> None:
    square = decode_image(rotated_jpeg(orientation=6))  # stored red-left/blue-right, shown red-top/blue-bottom
    top, bottom = square.getpixel((16, 2)), square.getpixel((16, 29))
    assert top[0] > 180 > top[2] and bottom[2] > 180 > bottom[0]
