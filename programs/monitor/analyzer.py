"""Drift analyzer entry point: SageMaker Data Capture in, Model Monitor report files out.

``baseline`` mode profiles capture records (the model's predictions on the validation split) and
writes ``statistics.json`` and suggested ``constraints.json`` (and, given the model, the photos'
``embeddings.npy``). ``analyze`` mode profiles one time
window, writes ``statistics.json``, ``constraint_violations.json``, ``analysis_summary.json``
(every check's test, threshold and result, the KS p-values, the estimated accuracy, the embedding
MMD test) and ``shifted_photos.png`` (the most-shifted photos of the interval), and reports completion in
``/opt/ml/output/message`` as Model Monitor does. The window is read by one worker process per
CPU. Exit code 0 with or without violations; 1 with a named error when the input cannot be used.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checks import CheckConfig, Evaluation, WindowNotes, evaluate
from cloudwatch import metric_lines, write_metrics
from constraints import suggest_constraints
from contract import ContractError, RunConfig, load_config
from embedding_drift import check_embedding_drift, write_baseline_embeddings
from embeddings import EmbeddingError
from feature_statistics import common_counts, features_by_name
from shifted_photos import STRIP_FILE, Extremes, write_strip
from window_profile import profile_window as profile_shards

STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"
VIOLATIONS_FILE = "constraint_violations.json"
SUMMARY_FILE = "analysis_summary.json"


class AnalyzerError(RuntimeError):
    """Input the analyzer cannot work with; the message names the input and the fix."""


@dataclass
class WindowProfile:
    statistics: dict[str, Any]
    notes: WindowNotes
    extremes: Extremes | None = None


def profile_window(config: RunConfig, keep_photos: bool = False) -> WindowProfile:
    """Stream the window's capture records into statistics (on every worker), counting malformed ones."""
    streamed = profile_shards(config.dataset_source, config.window, config.confidence_threshold,
                              keep_photos=keep_photos, workers=config.workers, shard_bytes=config.shard_bytes)
    notes = WindowNotes(streamed.malformed_records, streamed.decode_failures, config.confidence_threshold)
    return WindowProfile(streamed.profile.to_json(), notes, streamed.extremes)


def write_json(path: Path, document: Any) -> None:
    """Write aside, then publish by rename, so readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp")
    staging.write_text(json.dumps(document, indent=2))
    os.replace(staging, path)


def read_json(path: Path, name: str) -> dict[str, Any]:
    """A baseline document; a missing or unreadable file is a named error."""
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise AnalyzerError(f"{name} file {str(path)!r} does not exist: run the baseline job first") from exc
    except (OSError, ValueError) as exc:
        raise AnalyzerError(f"{name} file {str(path)!r} is not readable JSON ({exc}): re-run the baseline") from exc
    if not isinstance(document, dict) or not isinstance(document.get("features"), list):
        raise AnalyzerError(f"{name} file {str(path)!r} has no 'features' list: give a Model Monitor {name} file")
    return document


def completion_message(violation_count: int) -> str:
    if violation_count:
        return f"CompletedWithViolations: Job completed successfully with {violation_count} violations."
    return "Completed: Job completed successfully with no violations."


def write_message(path: Path, message: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(message)
    except OSError as exc:
        print(f"could not write the completion message to {path}: {exc}", file=sys.stderr)


def run_baseline(config: RunConfig) -> int:
    window = profile_window(config)
    if window.statistics["dataset"]["item_count"] == 0:
        raise AnalyzerError(
            f"no capture records under {str(config.dataset_source)!r}: the baseline needs the model's "
            "predictions on the validation split in Data Capture format"
        )
    constraints = suggest_constraints(
        window.statistics, config.comparison_threshold, config.categorical_comparison_threshold
    )
    write_json(config.output_path / STATISTICS_FILE, window.statistics)
    write_json(config.output_path / CONSTRAINTS_FILE, constraints)
    if config.embedding is not None:
        written = write_baseline_embeddings(config.embedding, config.dataset_source, config.output_path,
                                            config.workers)
        print(f"baseline embeddings: {written['records']} x {written['dimensions']} "
              f"(a sample of {written['sampled_from']} photos, {written['undecodable']} undecodable)")
    print(
        f"baseline: {window.statistics['dataset']['item_count']} records, "
        f"malformed_records: {window.notes.malformed_records}, "
        f"decode_failures: {window.notes.decode_failures}"
    )
    return 0


def _baseline_documents(config: RunConfig) -> tuple[dict | None, dict | None]:
    baseline = read_json(config.baseline_statistics, "baseline_statistics") if config.baseline_statistics else None
    if config.baseline_constraints:
        constraints = read_json(config.baseline_constraints, "baseline_constraints")
    elif baseline is not None:
        constraints = suggest_constraints(
            baseline, config.comparison_threshold, config.categorical_comparison_threshold
        )
    else:
        constraints = None
    return baseline, constraints


def _most_shifted(window: WindowProfile, baseline: dict | None, evaluation: Evaluation) -> dict[str, Any] | None:
    """The tested feature with the smallest KS p-value, the side it moved to, and its extreme photos."""
    if window.extremes is None or baseline is None or not evaluation.p_values:
        return None
    name = min(evaluation.p_values, key=lambda feature: (evaluation.p_values[feature], feature))
    now = features_by_name(window.statistics)[name]["numerical_statistics"].get("mean")
    before = features_by_name(baseline).get(name, {}).get("numerical_statistics", {}).get("mean")
    if now is None or before is None:
        return None
    side = "low" if now < before else "high"
    return {"feature": name, "side": side, "p_value": evaluation.p_values[name], "baseline_mean": before,
            "window_mean": now, "photos": window.extremes.photos(name, side)}


def _write_strip(config: RunConfig, shifted: dict[str, Any] | None) -> dict[str, Any] | None:
    if shifted is None:
        return None
    path = write_strip(config.output_path / STRIP_FILE, shifted.pop("photos"))
    if path is None:
        return None
    return {**shifted, "file": path.name}


def _summary(config: RunConfig, window: WindowProfile, evaluation: Evaluation,
             shifted: dict[str, Any] | None, embedding: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "endpoint_name": config.endpoint_name,
        "start_time": config.window.start.isoformat() if config.window.start else None,
        "end_time": config.window.end.isoformat() if config.window.end else None,
        "item_count": window.statistics["dataset"]["item_count"],
        "no_traffic": window.statistics["dataset"]["item_count"] == 0,
        "malformed_records": window.notes.malformed_records,
        "decode_failures": window.notes.decode_failures,
        "confidence_threshold": config.confidence_threshold,
        "drift_distances": evaluation.drift_distances,
        "ks_p_values": evaluation.p_values,
        "ks_alpha": config.ks_alpha,
        "estimated_accuracy": evaluation.estimated_accuracy,
        "checks": evaluation.checks,
        "unchecked_features": evaluation.unchecked,
        "embedding_drift": embedding,
        "shifted_photos": shifted,
        "violation_count": len(evaluation.violations),
    }


def run_analysis(config: RunConfig, environ: Mapping[str, str]) -> int:
    baseline, constraints = _baseline_documents(config)
    window = profile_window(config, keep_photos=baseline is not None)
    evaluation = Evaluation()
    if constraints is not None:
        evaluation = evaluate(window.statistics, constraints, baseline, window.notes,
                              CheckConfig(config.ks_alpha, config.min_estimated_accuracy))
    embedding = None
    if config.embedding is not None and constraints is not None and window.statistics["dataset"]["item_count"]:
        embedding = check_embedding_drift(evaluation, config.embedding, config.dataset_source, config.window,
                                          config.workers)
    shifted = _write_strip(config, _most_shifted(window, baseline, evaluation))
    write_json(config.output_path / STATISTICS_FILE, window.statistics)
    write_json(config.output_path / VIOLATIONS_FILE, {"violations": evaluation.violations})
    write_json(config.output_path / SUMMARY_FILE, _summary(config, window, evaluation, shifted, embedding))
    if config.metrics_dir is not None:
        completeness = {}
        for name, feature in features_by_name(window.statistics).items():
            present, missing = common_counts(feature)
            if present + missing:
                completeness[name] = present / (present + missing)
        estimate = (evaluation.estimated_accuracy or {}).get("value")
        write_metrics(config.metrics_dir, metric_lines(evaluation.drift_distances, completeness, environ,
                                                       evaluation.p_values, estimate))
    item_count = window.statistics["dataset"]["item_count"]
    if item_count == 0:
        print("no traffic: no capture records in the window")
    elif constraints is None:
        print("no baseline statistics or constraints given: wrote statistics only")
    print(
        f"records: {item_count}, malformed_records: {window.notes.malformed_records}, "
        f"decode_failures: {window.notes.decode_failures}, violations: {len(evaluation.violations)}"
    )
    if evaluation.p_values:
        print("KS p-values: " + ", ".join(f"{name} {p:.3g}" for name, p in sorted(evaluation.p_values.items())))
    if embedding is not None:
        detail = f"p-value {embedding['p_value']:.3g}" if "p_value" in embedding else embedding.get("reason", "")
        print(f"embedding MMD: {embedding['status']}: {detail}")
    if evaluation.estimated_accuracy:
        estimate = evaluation.estimated_accuracy
        print(f"estimated accuracy: {estimate['value']:.3f} ({estimate['method']}, floor {estimate['floor']})")
    for violation in evaluation.violations:
        print(f"  {violation['constraint_check_type']} {violation['feature_name']}: {violation['description']}")
    write_message(config.message_path, completion_message(len(evaluation.violations)))
    return 0


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    message_path = Path(environ.get("SCONES_MESSAGE_PATH") or "/opt/ml/output/message")
    try:
        config = load_config(sys.argv[1:] if argv is None else argv, environ)
        message_path = config.message_path
        if config.mode == "baseline":
            code = run_baseline(config)
            write_message(message_path, completion_message(0))
            return code
        return run_analysis(config, environ)
    except (AnalyzerError, ContractError, EmbeddingError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        write_message(message_path, f"Failed: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
