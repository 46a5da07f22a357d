"""Drift report for one monitoring interval: PNG plots and an ``index.html`` that shows them.

Plots: the label-free estimated accuracy and the predicted class share over the previous intervals
and this one (hours without traffic left as gaps), the confidence histogram (current vs baseline,
with the confidence threshold), and the CDF of every numerical feature (current vs baseline, titled
with the L-infinity distance and the KS p-value; red where a drift violation is acted on, grey
where the configured action ignores it). The page lists every check with its test, threshold and
result, the violations with the action each leads to, and the analyzer's strip of the interval's
most-shifted photos.

CLI::

    python3 report.py --statistics S [--baseline-statistics B] [--violations V]
                      [--history H1 H2 ...] [--actions JSON] [--shifted-photos PNG] --output-dir D
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from features import DEFAULT_CONFIDENCE_THRESHOLD
from report_page import IGNORE, action_for, page
from report_plots import (
    COUNTED,
    IGNORED,
    plot_class_share,
    plot_confidence,
    plot_estimated_accuracy,
    plot_feature_cdfs,
)
from report_timeline import Interval, timeline

CONFIDENCE_PNG = "confidence_histogram.png"
ESTIMATE_PNG = "estimated_accuracy_over_time.png"
CLASS_SHARE_PNG = "class_share_over_time.png"
CDF_PNG = "feature_cdfs.png"
STRIP_PNG = "shifted_photos.png"
SUMMARY_FILE = "analysis_summary.json"


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


def _interval(statistics_path: Path) -> Interval:
    summary = _summary_beside(statistics_path)
    start = summary.get("start_time")
    label = str(start)[:16].replace("T", " ") if start else statistics_path.parent.name
    return Interval(label, _read(statistics_path), summary)


def feature_status(violations: Sequence[Mapping[str, str]], actions: Mapping[str, str] | None) -> dict[str, str]:
    """Per feature with a drift violation: ``counted`` if any is acted on, else ``ignored``."""
    status: dict[str, str] = {}
    for violation in violations:
        if violation.get("constraint_check_type") != "baseline_drift_check":
            continue
        name = violation["feature_name"]
        ignored = actions is not None and action_for(actions, "baseline_drift_check", name) == IGNORE
        if not ignored:
            status[name] = COUNTED
        else:
            status.setdefault(name, IGNORED)
    return status


def write_report(
    statistics: dict[str, Any],
    baseline: dict[str, Any] | None,
    violations: list[dict[str, str]],
    output_dir: Path,
    history: Sequence[Interval] = (),
    summary: dict[str, Any] | None = None,
    actions: Mapping[str, str] | None = None,
    shifted_photos: Path | None = None,
) -> Path:
    """Write the plots and ``index.html`` into ``output_dir``; return the HTML path.

    ``actions`` is the monitor's check -> action mapping (``monitor.actions``): with it, violations
    the mapping ignores are shown as ignored.
    """
    output_dir.mkdir(parents=True, exist_ok=True)
    summary = summary or {}
    threshold = float(summary.get("confidence_threshold") or DEFAULT_CONFIDENCE_THRESHOLD)
    current = Interval(str(summary.get("start_time") or "current")[:16].replace("T", " "), statistics, summary)
    slots = timeline([*history, current])
    estimate = summary.get("estimated_accuracy") or {}
    plot_estimated_accuracy(slots, estimate.get("floor"), estimate.get("baseline"), output_dir / ESTIMATE_PNG)
    plot_class_share(slots, baseline, output_dir / CLASS_SHARE_PNG)
    plot_confidence(statistics, baseline, threshold, output_dir / CONFIDENCE_PNG)
    plot_feature_cdfs(statistics, baseline, feature_status(violations, actions), summary.get("ks_p_values") or {},
                      output_dir / CDF_PNG)
    images = [
        (ESTIMATE_PNG, "Estimated accuracy over time (label-free; gaps: no traffic)"),
        (CLASS_SHARE_PNG, "Predicted class share over time (gaps: no traffic)"),
        (CONFIDENCE_PNG, "Prediction confidence, current vs baseline"),
        (CDF_PNG, "Feature CDFs, current vs baseline"),
    ]
    strip = None
    if shifted_photos is not None and shifted_photos.is_file():
        if shifted_photos.resolve() != (output_dir / STRIP_PNG).resolve():
            shutil.copyfile(shifted_photos, output_dir / STRIP_PNG)
        strip = STRIP_PNG
    index = output_dir / "index.html"
    index.write_text(page(statistics, violations, summary, actions, images, strip))
    return index


def _actions(raw: str | None) -> dict[str, str] | None:
    if not raw:
        return None
    try:
        actions = json.loads(raw)
    except ValueError as exc:
        raise SystemExit(f"error: --actions {raw!r} is not JSON: give e.g. '{{\"baseline_drift_check\": "
                         "\"retrain\"}'") from exc
    if not isinstance(actions, dict):
        raise SystemExit("error: --actions must be a JSON object of check type -> action")
    return {str(k): str(v) for k, v in actions.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="report.py", description="Plot a drift analysis as PNGs and index.html.")
    parser.add_argument("--statistics", required=True, type=Path, help="this interval's statistics.json")
    parser.add_argument("--baseline-statistics", type=Path, help="the baseline statistics.json")
    parser.add_argument("--violations", type=Path, help="this interval's constraint_violations.json")
    parser.add_argument("--history", type=Path, nargs="*", default=[], help="earlier intervals' statistics.json")
    parser.add_argument("--actions", help="the monitor's actions as JSON (check type[:feature] -> action)")
    parser.add_argument("--shifted-photos", type=Path, help="the analyzer's shifted_photos.png")
    parser.add_argument("--output-dir", required=True, type=Path)
    args = parser.parse_args(argv)
    violations = _read(args.violations).get("violations", []) if args.violations else []
    index = write_report(
        _read(args.statistics),
        _read(args.baseline_statistics) if args.baseline_statistics else None,
        violations,
        args.output_dir,
        [_interval(path) for path in args.history],
        _summary_beside(args.statistics),
        _actions(args.actions),
        args.shifted_photos,
    )
    print(f"report written to {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
