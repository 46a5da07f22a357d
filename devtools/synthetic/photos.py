"""Write synthetic "courier photos": larger JPEG/PNG vehicle photos with their true labels."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from devtools.synthetic.drifts import (
    CLASS_MIX_MOTORCYCLE_SHARE,
    JPEG_QUALITY,
    LOW_RESOLUTION_SIDE,
    OOD_VEHICLES,
    check_drift,
    drift_code,
)
from devtools.synthetic.scenes import THUMBNAIL_RENDER_SIDE, add_sensor_noise, render_scene

COURIER_CLASSES: tuple[str, ...] = ("bicycle", "motorcycle")
LABELS_FILE = "labels.json"
SYNTHETIC_MARK = "synthetic"
_EXTENSIONS = {"jpeg": "jpg", "png": "png"}


def _check_options(count: int, size_range: tuple[int, int], fmt_mix: Sequence[str]) -> None:
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    low, high = size_range
    if not 16 <= low <= high:
        raise ValueError(f"size_range {size_range} must satisfy 16 <= min <= max")
    unknown = [fmt for fmt in fmt_mix if fmt not in _EXTENSIONS]
    if unknown or not fmt_mix:
        raise ValueError(f"fmt_mix {tuple(fmt_mix)} must be a non-empty mix of {', '.join(_EXTENSIONS)}")


def _vehicle_kind(rng: np.random.Generator, drift: str | None) -> str:
    if drift == "ood_vehicles":
        return OOD_VEHICLES[int(rng.integers(len(OOD_VEHICLES)))]
    if drift == "class_mix":
        return "motorcycle" if rng.random() < CLASS_MIX_MOTORCYCLE_SHARE else "bicycle"
    return COURIER_CLASSES[int(rng.integers(len(COURIER_CLASSES)))]


def _low_resolution(rng: np.random.Generator, image: Image.Image) -> Image.Image:
    """The same scene from a low-resolution camera: the shorter side shrunk to a few dozen pixels."""
    width, height = image.size
    scale = int(rng.integers(LOW_RESOLUTION_SIDE[0], LOW_RESOLUTION_SIDE[1] + 1)) / min(width, height)
    return image.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.BOX)


def _jpeg_quality(rng: np.random.Generator, drift: str | None) -> int:
    if drift == "heavy_jpeg":
        return int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1))
    return int(rng.integers(70, 96))


def _save(image: Image.Image, path: Path, fmt: str, quality: int) -> None:
    if fmt == "jpeg":
        image.save(path, format="JPEG", quality=quality, comment=SYNTHETIC_MARK.encode())
    else:
        info = PngImagePlugin.PngInfo()
        info.add_text("Comment", SYNTHETIC_MARK)
        image.save(path, format="PNG", pnginfo=info)


def _merge_labels(directory: Path, labels: dict[str, str]) -> None:
    labels_path = directory / LABELS_FILE
    merged = json.loads(labels_path.read_text()) if labels_path.exists() else {}
    merged.update(labels)
    temporary = labels_path.with_name(f".{LABELS_FILE}.partial")
    temporary.write_text(json.dumps(dict(sorted(merged.items())), indent=2) + "\n")
    os.replace(temporary, labels_path)


def write_courier_photos(directory: str | os.PathLike[str], *, count: int, seed: int = 0,
                         drift: str | None = None, size_range: tuple[int, int] = (96, 640),
                         fmt_mix: Sequence[str] = ("jpeg", "png")) -> list[tuple[str, str]]:
    """Write ``count`` photos into ``directory`` and return ``(filename, true_class)`` pairs.

    The truths are also merged into ``directory/labels.json`` (filename -> class; with the
    ``ood_vehicles`` drift the class is the vehicle drawn, e.g. ``bus``). Names carry the seed and
    drift, so batches with different seeds or drifts can share a folder. ``heavy_jpeg`` saves every
    photo as JPEG whatever ``fmt_mix`` says.
    """
    check_drift(drift)
    _check_options(count, size_range, fmt_mix)
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    code = drift_code(drift)
    written: list[tuple[str, str]] = []
    for index in range(count):
        rng = np.random.default_rng([seed, 7, index, code])
        kind = _vehicle_kind(rng, drift)
        width, height = (int(v) for v in rng.integers(size_range[0], size_range[1] + 1, size=2))
        fmt = fmt_mix[int(rng.integers(len(fmt_mix)))]
        if drift == "heavy_jpeg":
            fmt = "jpeg"
        noise_scale = min(width, height) / THUMBNAIL_RENDER_SIDE
        image = add_sensor_noise(rng, render_scene(rng, kind, width, height, drift), drift, scale=noise_scale)
        if drift == "low_resolution":
            image = _low_resolution(rng, image)
        name = f"courier-{drift or 'base'}-{seed}-{index:05d}.{_EXTENSIONS[fmt]}"
        _save(image, folder / name, fmt, _jpeg_quality(rng, drift))
        written.append((name, kind))
    _merge_labels(folder, dict(written))
    return written
