"""The drift report's figures (PNG): confidence histogram, estimated accuracy and class share over time,
feature CDFs against the baseline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
from feature_statistics import category_shares, common_counts, features_by_name, numeric_sample
from features import CLASS_NAMES, ESTIMATE_FEATURE, INTEGRAL, STRING
from matplotlib.ticker import MaxNLocator, ScalarFormatter
from report_timeline import Slot
from sketch import WeightedSample, linf_distance

CURRENT_COLOR = "#d62728"
BASELINE_COLOR = "#1f77b4"
IGNORED_COLOR = "#7f7f7f"
GAP_COLOR = "#dddddd"
CLASS_COLORS = {"bicycle": "#2ca02c", "motorcycle": "#9467bd"}
COUNTED, IGNORED = "counted", "ignored"


def _weighted_histogram(sample: WeightedSample, edges: np.ndarray) -> np.ndarray:
    counts, _ = np.histogram(np.clip(sample.values, edges[0], edges[-1]), bins=edges, weights=sample.weights)
    return counts / sample.total if sample.total else counts


def _save(fig: Any, path: Path, dpi: int = 100) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)


def plot_confidence(current: dict, baseline: dict | None, threshold: float, path: Path) -> None:
    """Histogram of the top-class probability, as shares of each dataset."""
    fig, ax = plt.subplots(figsize=(7, 4))
    edges = np.linspace(0.5, 1.0, 26)
    for stats, label, color, filled in (
        (baseline, "baseline", BASELINE_COLOR, False),
        (current, "current", CURRENT_COLOR, True),
    ):
        feature = features_by_name(stats).get("confidence") if stats else None
        sample = numeric_sample(feature) if feature else None
        if sample is None or not sample.total:
            continue
        shares = _weighted_histogram(sample, edges)
        low = float(sample.cdf(np.array([np.nextafter(threshold, 0)]))[0])
        text = f"{label} (n={common_counts(feature)[0]}, {low:.1%} below threshold)"
        if filled:
            ax.bar(edges[:-1], shares, width=np.diff(edges), align="edge", color=color, alpha=0.5, label=text)
        else:
            ax.step(edges, np.append(shares, shares[-1]), where="post", color=color, linewidth=2, label=text)
    ax.axvline(threshold, color="black", linestyle="--", linewidth=1, label=f"confidence threshold {threshold}")
    ax.set(title="Prediction confidence: current vs baseline", xlabel="top-class probability",
           ylabel="share of predictions")
    ax.legend(loc="upper left", fontsize=8)
    _save(fig, path)


def interval_estimate(statistics: dict[str, Any], summary: Mapping[str, Any]) -> float | None:
    """The interval's estimated accuracy: the analyzer's summary, else the feature's mean."""
    reported = (summary.get("estimated_accuracy") or {}).get("value")
    if reported is not None:
        return float(reported)
    feature = features_by_name(statistics).get(ESTIMATE_FEATURE)
    mean = feature.get("numerical_statistics", {}).get("mean") if feature else None
    return None if mean is None else float(mean)


def _time_axis(ax: Any, slots: Sequence[Slot]) -> list[Any]:
    """X positions of the slots; real times where known (shading spans without traffic), else indices."""
    if slots and all(slot.start is not None for slot in slots):
        positions = [mdates.date2num(slot.start) for slot in slots]
        shaded = False
        for slot in slots:
            if not slot.has_traffic:
                ax.axvspan(mdates.date2num(slot.start), mdates.date2num(slot.end), color=GAP_COLOR, zorder=0,
                           label=None if shaded else "no traffic")
                shaded = True
        locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        ax.set_xlabel("interval start (UTC)")
        return positions
    positions = list(range(len(slots)))
    ax.set_xticks(positions, [slot.label for slot in slots], rotation=30, ha="right", fontsize=8)
    ax.set_xlabel("interval")
    return positions


def _slot_centres(slots: Sequence[Slot], positions: Sequence[Any]) -> list[Any]:
    if slots and all(slot.start is not None and slot.end is not None for slot in slots):
        return [mdates.date2num(slot.start + (slot.end - slot.start) / 2) for slot in slots]
    return list(positions)


def estimate_series(slots: Sequence[Slot]) -> list[float | None]:
    """Each slot's estimated accuracy; None where there was no traffic (a gap, never a zero)."""
    return [interval_estimate(slot.interval.statistics, slot.interval.summary)
            if slot.interval is not None and slot.has_traffic else None for slot in slots]


def share_series(slots: Sequence[Slot], class_name: str) -> list[float | None]:
    """Each slot's predicted share of ``class_name``; None where there was no traffic (a gap, never 0%)."""
    shares: list[float | None] = []
    for slot in slots:
        feature = (features_by_name(slot.interval.statistics).get("predicted_class")
                   if slot.interval is not None and slot.has_traffic else None)
        shares.append(category_shares(feature).get(class_name, 0.0) if feature and category_shares(feature)
                      else None)
    return shares


def _gaps_as_nan(values: Sequence[float | None]) -> list[float]:
    return [np.nan if value is None else value for value in values]


def plot_estimated_accuracy(slots: Sequence[Slot], floor: float | None, baseline_estimate: float | None,
                            path: Path) -> None:
    """The label-free accuracy estimate per interval, with the floor that raises a violation."""
    fig, ax = plt.subplots(figsize=(8, 3.6))
    positions = _slot_centres(slots, _time_axis(ax, slots))
    values = estimate_series(slots)
    ax.plot(positions, _gaps_as_nan(values), marker="o", color=CURRENT_COLOR, label="estimated accuracy")
    if floor is not None:
        ax.axhline(floor, color="black", linestyle="--", linewidth=1, label=f"floor {floor}")
    if baseline_estimate is not None:
        ax.axhline(baseline_estimate, color=BASELINE_COLOR, linestyle=":", linewidth=1,
                   label=f"baseline estimate {baseline_estimate:.3f}")
    lowest = min([v for v in values if v is not None] + [floor or 1.0, 0.45])
    ax.set_ylim(max(0.0, lowest - 0.05), 1.0)
    ax.set(title="Estimated accuracy over time (label-free)", ylabel="estimated accuracy")
    ax.legend(fontsize=8, loc="lower left")
    _save(fig, path)


def plot_class_share(slots: Sequence[Slot], baseline: dict | None, path: Path) -> None:
    """Predicted class share per interval, with the baseline share as dashed lines and gaps left empty."""
    fig, ax = plt.subplots(figsize=(8, 3.6))
    positions = _slot_centres(slots, _time_axis(ax, slots))
    for name in CLASS_NAMES:
        ax.plot(positions, _gaps_as_nan(share_series(slots, name)), marker="o", color=CLASS_COLORS[name], label=name)
        feature = features_by_name(baseline).get("predicted_class") if baseline else None
        if feature:
            ax.axhline(category_shares(feature).get(name, 0.0), color=CLASS_COLORS[name], linestyle="--",
                       linewidth=1, label=f"{name} (baseline)")
    ax.set_ylim(0, 1)
    ax.set(title="Predicted class share over time", ylabel="share of predictions")
    ax.legend(fontsize=8, ncol=3, loc="upper left")
    _save(fig, path)


def _step_cdf(ax: Any, sample: WeightedSample, color: str, label: str, integral: bool) -> None:
    """Step CDF from 0 to 1, padded on both sides so a constant feature still shows its jump."""
    points = np.unique(sample.values)
    pad = 1.0 if integral else max((points[-1] - points[0]) * 0.05, abs(points[-1]) * 0.02, 1e-3)
    xs = np.concatenate([[points[0] - pad], points, [points[-1] + pad]])
    ys = np.concatenate([[0.0], sample.cdf(points), [1.0]])
    ax.step(xs, ys, where="post", color=color, label=label)


def _readable_x(ax: Any, integral: bool) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=integral, min_n_ticks=1))
    formatter = ScalarFormatter(useOffset=False)
    formatter.set_scientific(False)
    ax.xaxis.set_major_formatter(formatter)
    ax.tick_params(labelsize=8)


def plot_feature_cdfs(current: dict, baseline: dict | None, status: Mapping[str, str],
                      p_values: Mapping[str, float], path: Path) -> None:
    """One CDF panel per numerical feature; red title: counted drift violation, grey: ignored."""
    current_features = features_by_name(current)
    baseline_features = features_by_name(baseline) if baseline else {}
    names = [n for n, f in current_features.items() if f.get("inferred_type") != STRING
             and "string_statistics" not in f]
    columns = 3
    rows = max(1, -(-len(names) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        integral = current_features[name].get("inferred_type") == INTEGRAL
        now = numeric_sample(current_features[name])
        before = numeric_sample(baseline_features[name]) if name in baseline_features else None
        if before is not None and before.total:
            _step_cdf(ax, before, BASELINE_COLOR, "baseline", integral)
        if now is not None and now.total:
            _step_cdf(ax, now, CURRENT_COLOR, "current", integral)
        title = name
        if now is not None and before is not None and now.total and before.total:
            title += f"\nL\u221e={linf_distance(before, now):.3f}"
        if name in p_values:
            title += f"  KS p={p_values[name]:.2g}"
        if status.get(name) == IGNORED:
            title += "  (ignored)"
        ax.set_title(title, fontsize=9, color={COUNTED: CURRENT_COLOR, IGNORED: IGNORED_COLOR}.get(
            status.get(name, ""), "black"), fontweight="bold" if status.get(name) == COUNTED else "normal")
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("cumulative share", fontsize=8)
        _readable_x(ax, integral)
        ax.legend(fontsize=7, loc="lower right")
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.suptitle("Feature CDFs: current vs baseline (red title: drift violation acted on; grey: ignored)")
    _save(fig, path, dpi=90)
