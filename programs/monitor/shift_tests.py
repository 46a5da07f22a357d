"""Black-box shift tests: two-sample Kolmogorov-Smirnov p-values, Bonferroni-corrected across features.

After "Failing Loudly" (Rabanser et al., NeurIPS 2019): univariate KS tests on the classifier's
outputs and on the inputs' summary features, one per feature, the family held at ``alpha`` by
testing each at ``alpha / m``. The p-value is the Kolmogorov distribution's with Stephens'
small-sample correction (within a few per cent of the exact two-sample p-value for the window
and baseline sizes seen here; ties in the data only make it conservative).
"""

from __future__ import annotations

import math

DEFAULT_ALPHA = 0.005
_SERIES_TERMS = 100


def kolmogorov_survival(statistic: float) -> float:
    """P(K > statistic) for the Kolmogorov distribution."""
    if statistic <= 0:
        return 1.0
    if statistic < 1.18:  # the theta-function form converges fast for small arguments
        y = math.exp(-math.pi**2 / (8 * statistic * statistic))
        total = sum(y ** ((2 * j - 1) ** 2) for j in range(1, 6))
        return min(1.0, max(0.0, 1 - math.sqrt(2 * math.pi) / statistic * total))
    total = sum((-1) ** (j - 1) * math.exp(-2 * j * j * statistic * statistic) for j in range(1, _SERIES_TERMS))
    return min(1.0, max(0.0, 2 * total))


def ks_p_value(distance: float, baseline_count: int, current_count: int) -> float:
    """Two-sided p-value of a two-sample KS distance between samples of these sizes."""
    if baseline_count <= 0 or current_count <= 0:
        return 1.0
    effective = baseline_count * current_count / (baseline_count + current_count)
    root = math.sqrt(effective)
    return kolmogorov_survival((root + 0.12 + 0.11 / root) * distance)


def bonferroni_level(alpha: float, tests: int) -> float:
    """The per-test level that holds the family-wise false-alarm rate at ``alpha``."""
    return alpha / max(tests, 1)
