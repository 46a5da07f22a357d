"""The interval's most-shifted photos: the extremes of each tested feature, kept with their thumbnails.

While the window streams by, each tested feature keeps its ``k`` lowest and ``k`` highest values
with the model's 32x32 view of those photos (bounded memory: ``2 k`` thumbnails per feature). Once
the tests have run, the strip shows the extremes of the most significantly shifted feature on the
side it moved to (the darkest photos when brightness fell), so the report needs no extra reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from features import MODEL_INPUT_SIDE, SHIFT_TEST_FEATURES, Row, Thumbnail
from PIL import Image

STRIP_SIZE = 8
STRIP_SCALE = 3
STRIP_GAP = 4
STRIP_FILE = "shifted_photos.png"
SIDES = ("low", "high")


@dataclass
class _Kept:
    values: np.ndarray
    thumbnails: list[Thumbnail]


def _empty() -> _Kept:
    return _Kept(np.empty(0), [])


class Extremes:
    """The ``k`` lowest and highest values of each tested feature, with their photos."""

    def __init__(self, features: Sequence[str] = SHIFT_TEST_FEATURES, k: int = STRIP_SIZE) -> None:
        self.k = k
        self.kept = {(name, side): _empty() for name in features for side in SIDES}

    def add_batch(self, rows: Sequence[Row], thumbnails: Sequence[Thumbnail | None]) -> None:
        with_photo = [index for index, thumbnail in enumerate(thumbnails) if thumbnail is not None]
        if not with_photo:
            return
        photos = [thumbnails[index] for index in with_photo]
        for name, side in self.kept:
            column = np.array([rows[index].get(name) for index in with_photo], dtype=np.float64)
            self._keep(name, side, column, photos)  # type: ignore[arg-type]

    def _keep(self, name: str, side: str, values: np.ndarray, photos: list[Thumbnail]) -> None:
        kept = self.kept[(name, side)]
        all_values = np.concatenate([kept.values, values])
        all_photos = kept.thumbnails + photos
        known = np.flatnonzero(~np.isnan(all_values))
        order = known[np.argsort(all_values[known] if side == "low" else -all_values[known], kind="stable")]
        chosen = order[: self.k]
        self.kept[(name, side)] = _Kept(all_values[chosen], [all_photos[i] for i in chosen])

    def merge(self, other: Extremes) -> None:
        for (name, side), kept in other.kept.items():
            self._keep(name, side, kept.values, kept.thumbnails)

    def photos(self, name: str, side: str) -> list[tuple[float, Thumbnail]]:
        kept = self.kept[(name, side)]
        return list(zip(kept.values.tolist(), kept.thumbnails, strict=True))


def write_strip(path: Path, photos: Sequence[tuple[float, Thumbnail]]) -> Path | None:
    """The photos side by side, each enlarged ``STRIP_SCALE`` times (pixels kept sharp); None if empty."""
    if not photos:
        return None
    tile = MODEL_INPUT_SIDE * STRIP_SCALE
    strip = Image.new("RGB", (len(photos) * (tile + STRIP_GAP) - STRIP_GAP, tile), "white")
    for index, (_, thumbnail) in enumerate(photos):
        image = Image.frombytes("RGB", (MODEL_INPUT_SIDE, MODEL_INPUT_SIDE), thumbnail)
        strip.paste(image.resize((tile, tile), Image.Resampling.NEAREST), (index * (tile + STRIP_GAP), 0))
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp")
    strip.save(staging, format="PNG")
    staging.replace(path)
    return path
