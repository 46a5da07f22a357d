"""The KS shift test's p-value and the Bonferroni level."""

from __future__ import annotations

import math

import pytest
from shift_tests import bonferroni_level, ks_p_value


def exact_two_sample_p_value(distance: float, n: int, m: int) -> float:
    """P(D >= distance) by counting lattice paths that stay inside the band (no ties)."""
    inside = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        for j in range(m + 1):
            if abs(i / n - j / m) >= distance - 1e-12:
                continue
            if i == 0 and j == 0:
                inside[i][j] = 1.0
                continue
            total = i + j
            from_left = inside[i - 1][j] * i / total if i else 0.0
            from_below = inside[i][j - 1] * j / total if j else 0.0
            inside[i][j] = from_left + from_below
    return 1 - inside[n][m]


@pytest.mark.parametrize(("distance", "n", "m"), [(0.38, 104, 25), (0.31, 104, 50), (0.28, 104, 100)])
def test_p_value_is_within_five_percent_of_the_exact_one_near_the_tested_levels(distance, n, m) -> None:
    exact = exact_two_sample_p_value(distance, n, m)
    assert 1e-4 < exact < 0.01
    assert math.isclose(ks_p_value(distance, n, m), exact, rel_tol=0.05)


def test_a_zero_distance_is_no_evidence() -> None:
    assert ks_p_value(0.0, 104, 100) == 1.0


def test_a_larger_distance_is_stronger_evidence() -> None:
    assert ks_p_value(0.5, 104, 100) < ks_p_value(0.3, 104, 100) < ks_p_value(0.1, 104, 100)


def test_the_same_distance_is_stronger_evidence_in_a_larger_window() -> None:
    assert ks_p_value(0.3, 104, 500) < ks_p_value(0.3, 104, 25)


def test_bonferroni_splits_alpha_over_the_tests() -> None:
    assert bonferroni_level(0.01, 5) == pytest.approx(0.002)
