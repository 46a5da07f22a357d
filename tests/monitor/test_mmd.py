"""The MMD permutation test: unbiased, seeded, and its p-value bounded by the number of permutations."""

from __future__ import annotations

import numpy as np
from mmd import median_bandwidth, permutation_test


def _samples(shift: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(80, 8)), rng.normal(loc=shift, size=(60, 8))


def test_the_same_inputs_and_seed_give_the_same_p_value() -> None:
    baseline, window = _samples(0.0)
    assert permutation_test(baseline, window, 99, seed=3) == permutation_test(baseline, window, 99, seed=3)


def test_the_p_value_is_never_below_one_over_permutations_plus_one() -> None:
    baseline, window = _samples(3.0)
    result = permutation_test(baseline, window, 49, seed=0)
    assert result.p_value == 1 / 50


def test_samples_of_one_distribution_are_not_significant() -> None:
    baseline, window = _samples(0.0, seed=5)
    assert permutation_test(baseline, window, 199, seed=0).p_value > 0.05


def test_unbiased_mmd2_of_one_distribution_centres_on_zero() -> None:
    values = [permutation_test(*_samples(0.0, seed), 1, seed=0).mmd2 for seed in range(20)]
    assert abs(np.mean(values)) < 3 * np.std(values) / np.sqrt(len(values))


def test_the_bandwidth_is_the_median_distance_of_the_baseline() -> None:
    points = np.array([[0.0], [1.0], [3.0]])  # distances 1, 2, 3
    assert median_bandwidth(points) == 2.0
