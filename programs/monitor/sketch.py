"""A KLL quantile sketch: bounded memory, serialised as Model Monitor's ``kll`` sketch.

Level ``h`` holds items of weight ``2**h``. Compaction sorts a full level and promotes every
other item (deterministically alternating offsets), so the total weight always equals the number
of values added and memory stays at roughly ``k / (1 - c)`` items whatever the window size.
Sketches merge (level by level, then compaction), so shards of a window can be profiled apart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

DEFAULT_K = 2048
DEFAULT_C = 0.64
_BUFFER_SIZE = 4096


class KllSketch:
    """Streaming quantile summary of one numerical feature."""

    def __init__(self, k: int = DEFAULT_K, c: float = DEFAULT_C) -> None:
        self.k = k
        self.c = c
        self._levels: list[np.ndarray] = [np.empty(0)]
        self._pending: list[float] = []
        self._offset_flip = 0

    def add(self, value: float) -> None:
        """Add one value (buffered; compaction runs on full buffers)."""
        self._pending.append(value)
        if len(self._pending) >= _BUFFER_SIZE:
            self._flush()

    def add_many(self, values: np.ndarray) -> None:
        """Add an array of values at once."""
        if len(values):
            self._pending.extend(np.asarray(values, dtype=np.float64).tolist())
            if len(self._pending) >= _BUFFER_SIZE:
                self._flush()

    def merge(self, other: KllSketch) -> None:
        """Fold ``other`` (a sketch of other values) into this one."""
        self._flush()
        other_levels = other.levels()
        while len(self._levels) < len(other_levels):
            self._levels.append(np.empty(0))
        for height, items in enumerate(other_levels):
            self._levels[height] = np.concatenate([self._levels[height], items])
        self._compress()

    def _capacity(self, level: int) -> int:
        depth = len(self._levels) - level - 1
        return max(2, math.ceil(self.k * self.c**depth))

    def _flush(self) -> None:
        if not self._pending:
            return
        self._levels[0] = np.concatenate([self._levels[0], np.asarray(self._pending, dtype=np.float64)])
        self._pending = []
        self._compress()

    def _compress(self) -> None:
        level = 0
        while level < len(self._levels):
            items = self._levels[level]
            if len(items) >= self._capacity(level):
                if level + 1 == len(self._levels):
                    self._levels.append(np.empty(0))
                items = np.sort(items)
                even = len(items) - len(items) % 2
                offset = self._offset_flip
                self._offset_flip ^= 1
                promoted = items[offset:even:2]
                self._levels[level] = items[even:]
                self._levels[level + 1] = np.concatenate([self._levels[level + 1], promoted])
            level += 1

    def levels(self) -> list[np.ndarray]:
        """The compactor levels, lowest (weight 1) first."""
        self._flush()
        return [np.sort(level) for level in self._levels]

    def to_json(self) -> dict:
        """Model Monitor's ``kll.sketch`` object."""
        return {
            "parameters": {"c": self.c, "k": float(self.k)},
            "data": [[float(v) for v in level] for level in self.levels()],
        }


class WeightedSample:
    """Values with weights: an empirical distribution recovered from a sketch or from buckets."""

    def __init__(self, values: np.ndarray, weights: np.ndarray) -> None:
        order = np.argsort(values, kind="stable")
        self.values = np.asarray(values, dtype=np.float64)[order]
        self.weights = np.asarray(weights, dtype=np.float64)[order]
        self.total = float(self.weights.sum())
        self._cumulative = np.cumsum(self.weights)

    @classmethod
    def from_levels(cls, levels: Sequence[Sequence[float]]) -> WeightedSample:
        """Level ``h`` items weigh ``2**h``."""
        values = [np.asarray(level, dtype=np.float64) for level in levels]
        weights = [np.full(len(level), 2.0**height) for height, level in enumerate(values)]
        if not values:
            return cls(np.empty(0), np.empty(0))
        return cls(np.concatenate(values), np.concatenate(weights))

    def __len__(self) -> int:
        return len(self.values)

    def cdf(self, points: np.ndarray) -> np.ndarray:
        """Share of the weight at or below each point."""
        if self.total <= 0:
            return np.zeros(len(points))
        index = np.searchsorted(self.values, points, side="right")
        cumulative = np.concatenate([[0.0], self._cumulative])
        return cumulative[index] / self.total

    def histogram(self, lower: float, upper: float, bins: int) -> list[tuple[float, float, float]]:
        """Equal-width buckets over [lower, upper] with the weight in each (last bucket closed)."""
        if upper <= lower:
            return [(lower, upper, self.total)]
        edges = np.linspace(lower, upper, bins + 1)
        counts, _ = np.histogram(np.clip(self.values, lower, upper), bins=edges, weights=self.weights)
        return [(float(edges[i]), float(edges[i + 1]), float(counts[i])) for i in range(bins)]


def linf_distance(first: WeightedSample, second: WeightedSample) -> float:
    """Largest gap between two empirical CDFs, evaluated on the union of their support points."""
    if first.total <= 0 or second.total <= 0:
        return 0.0
    points = np.union1d(first.values, second.values)
    return float(np.max(np.abs(first.cdf(points) - second.cdf(points))))
