"""Synthetic courier photos: sizes, formats, labels and the synthetic mark."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from devtools.synthetic import write_courier_photos


def test_photos_and_labels_json_agree(tmp_path: Path) -> None:
    written = write_courier_photos(tmp_path, count=6, seed=1, size_range=(64, 128))
    assert json.loads((tmp_path / "labels.json").read_text()) == dict(written)
    assert {kind for _, kind in written} <= {"bicycle", "motorcycle"}
    assert all((tmp_path / name).is_file() for name, _ in written)


def test_photo_sizes_stay_in_range(tmp_path: Path) -> None:
    for name, _ in write_courier_photos(tmp_path, count=5, seed=2, size_range=(50, 90)):
        with Image.open(tmp_path / name) as image:
            assert all(50 <= side <= 90 for side in image.size)


def test_jpeg_and_png_carry_the_synthetic_mark(tmp_path: Path) -> None:
    jpeg = write_courier_photos(tmp_path, count=1, size_range=(64, 64), fmt_mix=("jpeg",))[0][0]
    png = write_courier_photos(tmp_path, count=1, seed=1, size_range=(64, 64), fmt_mix=("png",))[0][0]
    with Image.open(tmp_path / jpeg) as image:
        assert image.format == "JPEG" and image.info["comment"] == b"synthetic"
    with Image.open(tmp_path / png) as image:
        assert image.format == "PNG" and image.text["Comment"] == "synthetic"


def test_batches_with_other_seeds_merge_into_labels_json(tmp_path: Path) -> None:
    first = write_courier_photos(tmp_path, count=2, seed=1, size_range=(64, 64))
    second = write_courier_photos(tmp_path, count=2, seed=2, size_range=(64, 64), drift="night")
    assert json.loads((tmp_path / "labels.json").read_text()) == dict(first + second)


def test_same_seed_gives_identical_photos(tmp_path: Path) -> None:
    names = [n for n, _ in write_courier_photos(tmp_path / "a", count=3, seed=4, size_range=(64, 96))]
    write_courier_photos(tmp_path / "b", count=3, seed=4, size_range=(64, 96))
    assert all((tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes() for n in names)
