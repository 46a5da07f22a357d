"""Maximum mean discrepancy between two samples of embeddings, with a permutation p-value.

The statistic is the unbiased MMD² with a Gaussian (RBF) kernel whose bandwidth is the median
pairwise distance of the baseline sample (the median heuristic). Its p-value counts how often
relabelling the pooled sample at random gives an MMD² at least as large: ``(1 + hits) / (1 + P)``
for ``P`` permutations drawn from a seeded generator, so it is never below ``1 / (1 + P)`` and the
same inputs always give the same p-value. The kernel matrix is computed once; every batch of
permutations is one matrix product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PERMUTATION_BATCH = 64


@dataclass(frozen=True)
class MmdResult:
    mmd2: float
    p_value: float
    bandwidth: float
    permutations: int
    baseline_count: int
    window_count: int


def squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise squared Euclidean distances (rows of ``a`` by rows of ``b``), never negative."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    squared = (a64 * a64).sum(1)[:, None] + (b64 * b64).sum(1)[None, :] - 2.0 * a64 @ b64.T
    return np.maximum(squared, 0.0)


def median_bandwidth(baseline: np.ndarray) -> float:
    """The median distance between distinct baseline embeddings (1.0 when they all coincide)."""
    distances = squared_distances(baseline, baseline)[np.triu_indices(len(baseline), k=1)]
    positive = distances[distances > 0]
    return float(np.sqrt(np.median(positive))) if positive.size else 1.0


def _mmd2(kernel: np.ndarray, members: np.ndarray, n: int, m: int) -> np.ndarray:
    """Unbiased MMD² for each row of ``members`` (1 marks the first sample; ``kernel`` has a zero diagonal)."""
    others = 1.0 - members
    first = members @ kernel
    within_first = (first * members).sum(1)
    between = (first * others).sum(1)
    second = kernel.sum(0)[None, :] - first
    within_second = (second * others).sum(1)
    return within_first / (n * (n - 1)) + within_second / (m * (m - 1)) - 2.0 * between / (n * m)


def permutation_test(baseline: np.ndarray, window: np.ndarray, permutations: int, seed: int,
                     bandwidth: float | None = None) -> MmdResult:
    """MMD² of ``window`` against ``baseline`` and its permutation p-value (both samples need 2+ rows)."""
    n, m = len(baseline), len(window)
    if n < 2 or m < 2:
        raise ValueError(f"the MMD test needs at least 2 embeddings per sample, got {n} and {m}")
    if permutations < 1:
        raise ValueError(f"permutations {permutations} is not positive: give at least 1")
    width = median_bandwidth(baseline) if bandwidth is None else bandwidth
    pooled = np.concatenate([baseline, window]).astype(np.float64)
    kernel = np.exp(-squared_distances(pooled, pooled) / (2.0 * width * width))
    np.fill_diagonal(kernel, 0.0)
    observed_members = np.zeros((1, n + m))
    observed_members[0, :n] = 1.0
    observed = float(_mmd2(kernel, observed_members, n, m)[0])
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, permutations, PERMUTATION_BATCH):
        count = min(PERMUTATION_BATCH, permutations - start)
        members = np.zeros((count, n + m))
        for row in range(count):
            members[row, rng.permutation(n + m)[:n]] = 1.0
        # a tolerance so ties with the observed labelling count as hits despite rounding
        hits += int((_mmd2(kernel, members, n, m) >= observed - 1e-12).sum())
    return MmdResult(observed, (1 + hits) / (1 + permutations), width, permutations, n, m)
