"""Drift report for one monitoring interval: PNG plots and an ``index.html`` that shows them.

Plots: the confidence histogram (current vs baseline, with the confidence threshold), the
predicted class share over the previous intervals and this one, and the CDF of every numerical
feature (current vs baseline, titled with the L-infinity distance, red where drift was flagged).

CLI::

    python3 report.py --statistics S [--baseline-statistics B] [--violations V]
                      [--history H1 H2 ...] --output-dir D
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from feature_statistics import category_shares, common_counts, features_by_name, numeric_sample
from features import CLASS_NAMES, DEFAULT_CONFIDENCE_THRESHOLD, STRING
from sketch import WeightedSample, linf_distance

CONFIDENCE_PNG = "confidence_histogram.png"
CLASS_SHARE_PNG = "class_share_over_time.png"
CDF_PNG = "feature_cdfs.png"
SUMMARY_FILE = "analysis_summary.json"
CURRENT_COLOR = "#d62728"
BASELINE_COLOR = "#1f77b4"
CLASS_COLORS = {"bicycle": "#2ca02c", "motorcycle": "#9467bd"}

Interval = tuple[str, dict[str, Any]]


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"error: {path} is not a readable JSON file ({exc}): check the path") from exc


def _summary_beside(statistics_path: Path) -> dict[str, Any]:
    path = statistics_path.with_name(SUMMARY_FILE)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _interval_label(statistics_path: Path) -> str:
    start = _summary_beside(statistics_path).get("start_time")
    return str(start)[:16].replace("T", " ") if start else statistics_path.parent.name


def _weighted_histogram(sample: WeightedSample, edges: np.ndarray) -> np.ndarray:
    counts, _ = np.histogram(np.clip(sample.values, edges[0], edges[-1]), bins=edges, weights=sample.weights)
    return counts / sample.total if sample.total else counts


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
    ax.set(
        title="Prediction confidence: current vs baseline",
        xlabel="top-class probability",
        ylabel="share of predictions",
    )
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_class_share(intervals: Sequence[Interval], baseline: dict | None, path: Path) -> None:
    """Predicted class share per interval, with the baseline share as dashed lines."""
    fig, ax = plt.subplots(figsize=(max(7, 0.6 * len(intervals)), 4))
    labels = [label for label, _ in intervals]
    positions = np.arange(len(intervals))
    for name in CLASS_NAMES:
        shares = []
        for _, stats in intervals:
            feature = features_by_name(stats).get("predicted_class")
            shares.append(category_shares(feature).get(name, 0.0) if feature else np.nan)
        ax.plot(positions, shares, marker="o", color=CLASS_COLORS[name], label=name)
        if baseline:
            feature = features_by_name(baseline).get("predicted_class")
            if feature:
                ax.axhline(
                    category_shares(feature).get(name, 0.0),
                    color=CLASS_COLORS[name],
                    linestyle="--",
                    linewidth=1,
                    label=f"{name} (baseline)",
                )
    ax.set_xticks(positions, labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set(title="Predicted class share over time", xlabel="interval", ylabel="share of predictions")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _step_cdf(ax: Any, sample: WeightedSample, color: str, label: str) -> None:
    """Step CDF from 0 to 1, padded on both sides so a constant feature still shows its jump."""
    points = np.unique(sample.values)
    pad = max((points[-1] - points[0]) * 0.05, abs(points[-1]) * 0.02, 1e-3)
    xs = np.concatenate([[points[0] - pad], points, [points[-1] + pad]])
    ys = np.concatenate([[0.0], sample.cdf(points), [1.0]])
    ax.step(xs, ys, where="post", color=color, label=label)


def plot_feature_cdfs(current: dict, baseline: dict | None, flagged: set[str], path: Path) -> None:
    """One small CDF panel per numerical feature."""
    current_features = features_by_name(current)
    baseline_features = features_by_name(baseline) if baseline else {}
    names = [
        n for n, f in current_features.items() if f.get("inferred_type") != STRING and "string_statistics" not in f
    ]
    columns = 3
    rows = max(1, -(-len(names) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        now = numeric_sample(current_features[name])
        before = numeric_sample(baseline_features[name]) if name in baseline_features else None
        if before is not None and before.total:
            _step_cdf(ax, before, BASELINE_COLOR, "baseline")
        if now is not None and now.total:
            _step_cdf(ax, now, CURRENT_COLOR, "current")
        title = name
        if now is not None and before is not None and now.total and before.total:
            title += f"  L\u221e={linf_distance(before, now):.3f}"
        ax.set_title(
            title,
            color=CURRENT_COLOR if name in flagged else "black",
            fontsize=10,
            fontweight="bold" if name in flagged else "normal",
        )
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("cumulative share", fontsize=8)
        ax.tick_params(labelsize=8)
        ax.legend(fontsize=7, loc="lower right")
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.suptitle("Feature CDFs: current vs baseline (red title = baseline drift violation)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _html(current: dict, violations: list[dict], summary: dict, images: Sequence[tuple[str, str]]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(v.get('feature_name', ''))}</td>"
        f"<td>{html.escape(v.get('constraint_check_type', ''))}</td>"
        f"<td>{html.escape(v.get('description', ''))}</td></tr>"
        for v in violations
    )
    facts = {
        "Window": f"{summary.get('start_time') or '-'} to {summary.get('end_time') or '-'}",
        "Records": current.get("dataset", {}).get("item_count", 0),
        "Malformed records": summary.get("malformed_records", "-"),
        "Undecodable images": summary.get("decode_failures", "-"),
        "Violations": len(violations),
    }
    fact_rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in facts.items())
    figures = "".join(
        f'<figure><img src="{html.escape(name)}" alt="{html.escape(caption)}"><figcaption>'
        f"{html.escape(caption)}</figcaption></figure>"
        for name, caption in images
    )
    table = (
        f"<table><tr><th>Feature</th><th>Check</th><th>Description</th></tr>{rows}</table>"
        if violations
        else "<p>No violations.</p>"
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Scones drift report</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1.5em}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}img{max-width:100%}</style></head><body>"
        f"<h1>Drift report</h1><table>{fact_rows}</table><h2>Violations ({len(violations)})</h2>{table}"
        f"<h2>Plots</h2>{figures}</body></html>"
    )


def write_report(
    statistics: dict[str, Any],
    baseline: dict[str, Any] | None,
    violations: list[dict[str, str]],
    output_dir: Path,
    history: Sequence[Interval] = (),
    summary: dict[str, Any] | None = None,
) -> Path:
    """Write the plots and ``index.html`` into ``output_dir``; return the HTML path."""
    output_dir.mkdir(parents=True, exist_ok=True)
    summary = summary or {}
    threshold = float(summary.get("confidence_threshold") or DEFAULT_CONFIDENCE_THRESHOLD)
    current_label = str(summary.get("start_time") or "current")[:16].replace("T", " ")
    flagged = {v["feature_name"] for v in violations if v.get("constraint_check_type") == "baseline_drift_check"}
    plot_confidence(statistics, baseline, threshold, output_dir / CONFIDENCE_PNG)
    plot_class_share([*history, (current_label, statistics)], baseline, output_dir / CLASS_SHARE_PNG)
    plot_feature_cdfs(statistics, baseline, flagged, output_dir / CDF_PNG)
    images = [
        (CONFIDENCE_PNG, "Prediction confidence, current vs baseline"),
        (CLASS_SHARE_PNG, "Predicted class share over time"),
        (CDF_PNG, "Feature CDFs, current vs baseline"),
    ]
    index = output_dir / "index.html"
    index.write_text(_html(statistics, violations, summary, images))
    return index


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="report.py", description="Plot a drift analysis as PNGs and index.html.")
    parser.add_argument("--statistics", required=True, type=Path, help="this interval's statistics.json")
    parser.add_argument("--baseline-statistics", type=Path, help="the baseline statistics.json")
    parser.add_argument("--violations", type=Path, help="this interval's constraint_violations.json")
    parser.add_argument("--history", type=Path, nargs="*", default=[], help="earlier intervals' statistics.json")
    parser.add_argument("--output-dir", required=True, type=Path)
    args = parser.parse_args(argv)
    violations = _read(args.violations).get("violations", []) if args.violations else []
    history = [(_interval_label(path), _read(path)) for path in args.history]
    index = write_report(
        _read(args.statistics),
        _read(args.baseline_statistics) if args.baseline_statistics else None,
        violations,
        args.output_dir,
        history,
        _summary_beside(args.statistics),
    )
    print(f"report written to {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
