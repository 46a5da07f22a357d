"""Tiny synthetic dataset partitions: bicycles as thin wheel outlines, motorcycles as solid bodies."""

from __future__ import annotations

import io
import random
from pathlib import Path

from PIL import Image, ImageDraw

CLASSES = ("bicycle", "motorcycle")
SPLITS = ("train", "validation", "test")


def draw_vehicle(class_name: str, rng: random.Random, size: tuple[int, int] = (32, 32)) -> Image.Image:
    """Bicycle: thin wheel rings and a line frame. Motorcycle: filled wheels and a solid body."""
    width, height = size
    background = tuple(rng.randint(150, 255) for _ in range(3))
    ink = tuple(rng.randint(0, 90) for _ in range(3))
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    radius = max(2, round(min(width, height) * rng.uniform(0.14, 0.2)))
    centre_y = round(height * rng.uniform(0.6, 0.7))
    left_x = round(width * rng.uniform(0.22, 0.3))
    right_x = round(width * rng.uniform(0.7, 0.78))
    for centre_x in (left_x, right_x):
        box = (centre_x - radius, centre_y - radius, centre_x + radius, centre_y + radius)
        if class_name == "bicycle":
            draw.ellipse(box, outline=ink, width=1)
        else:
            draw.ellipse(box, fill=ink)
    top_y = centre_y - round(radius * 1.8)
    if class_name == "bicycle":
        draw.line((left_x, centre_y, (left_x + right_x) // 2, top_y, right_x, centre_y), fill=ink, width=1)
    else:
        draw.rectangle((left_x, top_y, right_x, centre_y - radius // 2), fill=ink)
    return image


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def write_split(folder: Path, per_class: int, seed: int) -> Path:
    """Write `per_class` PNGs of each class under folder/bicycle and folder/motorcycle."""
    rng = random.Random(seed)
    for class_name in CLASSES:
        (folder / class_name).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            draw_vehicle(class_name, rng).save(folder / class_name / f"{class_name}_{index:05d}.png")
    return folder


def write_partition(root: Path, per_class: dict[str, int], seed: int = 0) -> Path:
    """A dataset partition with train/, validation/ and test/ split folders."""
    for offset, split in enumerate(SPLITS):
        write_split(root / split, per_class[split], seed * 10 + offset)
    return root
