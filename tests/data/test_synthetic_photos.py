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


def test_every_drift_kind_is_drawn_and_labelled(tmp_path: Path) -> None:
    from devtools.synthetic import DRIFTS, SEVERITY

    for drift in DRIFTS:
        written = write_courier_photos(tmp_path / drift, count=2, seed=5, drift=drift, size_range=(64, 96))
        assert len(written) == 2 and drift in SEVERITY
        assert all((tmp_path / drift / name).is_file() for name, _ in written)


def test_class_mix_drift_draws_mostly_motorcycles(tmp_path: Path) -> None:
    written = write_courier_photos(tmp_path, count=40, seed=6, drift="class_mix", size_range=(64, 64))
    assert sum(kind == "motorcycle" for _, kind in written) >= 30


def test_out_of_distribution_vehicles_are_labelled_with_what_was_drawn(tmp_path: Path) -> None:
    written = write_courier_photos(tmp_path, count=12, seed=6, drift="ood_vehicles", size_range=(64, 64))
    assert {kind for _, kind in written} <= {"bus", "pickup_truck", "tractor"}


def test_heavy_jpeg_photos_are_low_quality_jpegs(tmp_path: Path) -> None:
    name, _ = write_courier_photos(tmp_path, count=1, seed=6, drift="heavy_jpeg", size_range=(96, 96),
                                   fmt_mix=("png",))[0]
    normal, _ = write_courier_photos(tmp_path, count=1, seed=6, size_range=(96, 96), fmt_mix=("jpeg",))[0]
    assert name.endswith(".jpg")
    assert (tmp_path / name).stat().st_size < (tmp_path / normal).stat().st_size


def test_low_resolution_photos_are_smaller_than_the_model_input(tmp_path: Path) -> None:
    for name, _ in write_courier_photos(tmp_path, count=3, seed=6, drift="low_resolution", size_range=(96, 160)):
        with Image.open(tmp_path / name) as image:
            assert min(image.size) < 32
