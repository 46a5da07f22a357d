"""The analyzer's run configuration: Model Monitor's BYOC environment, overridden by CLI args.

Environment (set by Model Monitor for a custom container): ``dataset_source``, ``output_path``,
``baseline_statistics``, ``baseline_constraints``, ``start_time``, ``end_time``,
``dataset_format``, ``sagemaker_endpoint_name`` (or ``endpoint_name``),
``publish_cloudwatch_metrics``, and ``analyzer_mode`` (``analyze`` or ``baseline``). The
confidence threshold comes from ``confidence_threshold`` or the project setting's override
``SCONES_CONFIDENCE_THRESHOLD``; the KS tests' family-wise level from ``ks_alpha`` and the
estimated accuracy's floor from ``min_estimated_accuracy``; the completion message path from
``SCONES_MESSAGE_PATH`` (default ``/opt/ml/output/message``); the metrics folder from
``SCONES_METRICS_DIR``; the number of worker processes from ``SCONES_ANALYZER_WORKERS`` (default:
every CPU the process may use) and the shard size from ``SCONES_ANALYZER_SHARD_BYTES``.

Embedding drift runs when a model is given: ``embedding_model_uri`` (the serving model's
``model.tar.gz`` or its folder, a path or an ``s3://`` URI), in analyze mode with
``baseline_embeddings_uri`` (the baseline's ``embeddings.npy``); its test from ``mmd_alpha``,
``mmd_permutations``, ``mmd_min_records``, ``mmd_window_records``, ``mmd_baseline_records`` and
``mmd_seed``.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from accuracy_estimate import DEFAULT_MIN_ESTIMATED_ACCURACY
from capture import TimeWindow, parse_time
from constraints import DEFAULT_COMPARISON_THRESHOLD
from embedding_drift import (
    DEFAULT_BASELINE_RECORDS,
    DEFAULT_MIN_RECORDS,
    DEFAULT_MMD_ALPHA,
    DEFAULT_PERMUTATIONS,
    DEFAULT_SEED,
    DEFAULT_WINDOW_RECORDS,
    EmbeddingConfig,
)
from features import DEFAULT_CONFIDENCE_THRESHOLD
from shift_tests import DEFAULT_ALPHA
from window_profile import DEFAULT_SHARD_BYTES

DEFAULT_DATASET_SOURCE = "/opt/ml/processing/input/endpoint"
DEFAULT_OUTPUT_PATH = "/opt/ml/processing/resultdata"
DEFAULT_MESSAGE_PATH = "/opt/ml/output/message"
DEFAULT_METRICS_DIR = "/opt/ml/output/metrics/cloudwatch"
CAPTURE_FORMAT = "sagemakerCaptureJson"
MODES = ("analyze", "baseline")


class ContractError(ValueError):
    """A setting the analyzer cannot run with."""


@dataclass(frozen=True)
class RunConfig:
    mode: str
    dataset_source: Path
    output_path: Path
    baseline_statistics: Path | None
    baseline_constraints: Path | None
    window: TimeWindow
    confidence_threshold: float
    comparison_threshold: float
    categorical_comparison_threshold: float
    endpoint_name: str
    message_path: Path
    metrics_dir: Path | None
    ks_alpha: float = DEFAULT_ALPHA
    min_estimated_accuracy: float = DEFAULT_MIN_ESTIMATED_ACCURACY
    workers: int = 1
    shard_bytes: int = DEFAULT_SHARD_BYTES
    embedding: EmbeddingConfig | None = None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="analyzer.py",
        description="Drift analyzer for SageMaker Data Capture: writes Model Monitor report files.",
    )
    parser.add_argument("--mode", choices=MODES, help="analyze a window (default) or baseline a dataset")
    parser.add_argument("--dataset-source", help="folder holding the capture JSONL files")
    parser.add_argument("--output-path", help="folder for statistics.json, constraints.json, violations")
    parser.add_argument("--baseline-statistics", help="baseline statistics.json (analyze mode)")
    parser.add_argument("--baseline-constraints", help="baseline constraints.json (analyze mode)")
    parser.add_argument("--start-time", help="window start, ISO 8601 (inclusive)")
    parser.add_argument("--end-time", help="window end, ISO 8601 (exclusive)")
    parser.add_argument("--confidence-threshold", type=float)
    parser.add_argument("--comparison-threshold", type=float, help="numerical drift threshold (baseline mode)")
    parser.add_argument("--categorical-comparison-threshold", type=float, help="class-share drift threshold")
    parser.add_argument("--endpoint-name")
    parser.add_argument("--ks-alpha", type=float, help="family-wise level of the KS shift tests")
    parser.add_argument("--min-estimated-accuracy", type=float, help="floor of the label-free accuracy estimate")
    parser.add_argument("--workers", type=int, help="worker processes (default: every CPU available)")
    parser.add_argument("--embedding-model", help="the serving model (model.tar.gz or its folder): embedding drift")
    parser.add_argument("--baseline-embeddings", help="the baseline's embeddings.npy (analyze mode)")
    parser.add_argument("--mmd-alpha", type=float, help="level of the embedding MMD permutation test")
    parser.add_argument("--mmd-permutations", type=int, help="permutations of the MMD test")
    parser.add_argument("--mmd-min-records", type=int, help="fewest window photos the MMD test runs on")
    parser.add_argument("--mmd-window-records", type=int, help="most window photos embedded (a seeded sample)")
    parser.add_argument("--mmd-baseline-records", type=int, help="most baseline photos embedded (baseline mode)")
    parser.add_argument("--mmd-seed", type=int, help="seed of the photo samples and the permutations")
    return parser


def _threshold(name: str, raw: object, default: float) -> float:
    if raw in (None, ""):
        return default
    try:
        value = float(raw)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ContractError(f"{name} {raw!r} is not a number: give a value between 0 and 1") from exc
    if not 0 < value < 1:
        raise ContractError(f"{name} {value} is out of range: give a value between 0 and 1 (exclusive)")
    return value


def _positive_int(name: str, raw: object, default: int) -> int:
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw))
    except ValueError as exc:
        raise ContractError(f"{name} {raw!r} is not a whole number: give a positive integer") from exc
    if value < 1:
        raise ContractError(f"{name} {value} is not positive: give a positive integer")
    return value


def _seed(raw: object) -> int:
    if raw in (None, ""):
        return DEFAULT_SEED
    try:
        value = int(str(raw))
    except ValueError as exc:
        raise ContractError(f"mmd_seed {raw!r} is not a whole number: give a non-negative integer") from exc
    if value < 0:
        raise ContractError(f"mmd_seed {value} is negative: give a non-negative integer")
    return value


def available_cpus() -> int:
    """The CPUs this process may run on (a Processing job's instance: all of its vCPUs)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _check_dataset_format(raw: str) -> None:
    if not raw:
        return
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        raise ContractError(f"dataset_format {raw!r} is not JSON: expected {{{CAPTURE_FORMAT!r}: {{...}}}}") from exc
    if not isinstance(parsed, dict) or CAPTURE_FORMAT not in parsed:
        raise ContractError(
            f"dataset_format {raw!r} is not supported: this analyzer reads endpoint Data Capture ({CAPTURE_FORMAT})"
        )


def _mode(raw: str) -> str:
    if raw not in MODES:
        raise ContractError(f"analyzer_mode {raw!r} is not one of {MODES}: use 'analyze' or 'baseline'")
    return raw


def _optional_path(raw: str | None) -> Path | None:
    return Path(raw) if raw else None


def load_config(argv: Sequence[str], environ: Mapping[str, str]) -> RunConfig:
    """Merge environment and arguments (arguments win) and validate."""
    args = _parser().parse_args(list(argv))

    def pick(arg: object, *names: str, default: str = "") -> str:
        if arg not in (None, ""):
            return str(arg)
        return next((environ[n] for n in names if environ.get(n)), default)

    _check_dataset_format(environ.get("dataset_format", ""))
    start, end = pick(args.start_time, "start_time"), pick(args.end_time, "end_time")
    window = TimeWindow(
        parse_time(start, "start_time") if start else None, parse_time(end, "end_time") if end else None
    )
    if window.start and window.end and window.end <= window.start:
        raise ContractError(f"end_time {end} is not after start_time {start}: give a non-empty window")
    comparison = _threshold(
        "comparison_threshold",
        pick(args.comparison_threshold, "comparison_threshold"),
        DEFAULT_COMPARISON_THRESHOLD,
    )
    publish = environ.get("publish_cloudwatch_metrics", "Disabled") == "Enabled"
    model = pick(args.embedding_model, "embedding_model_uri")
    embedding = EmbeddingConfig(
        model=model,
        baseline_embeddings=pick(args.baseline_embeddings, "baseline_embeddings_uri") or None,
        alpha=_threshold("mmd_alpha", pick(args.mmd_alpha, "mmd_alpha"), DEFAULT_MMD_ALPHA),
        permutations=_positive_int("mmd_permutations", pick(args.mmd_permutations, "mmd_permutations"),
                                   DEFAULT_PERMUTATIONS),
        min_records=_positive_int("mmd_min_records", pick(args.mmd_min_records, "mmd_min_records"),
                                  DEFAULT_MIN_RECORDS),
        window_records=_positive_int("mmd_window_records", pick(args.mmd_window_records, "mmd_window_records"),
                                     DEFAULT_WINDOW_RECORDS),
        baseline_records=_positive_int("mmd_baseline_records",
                                       pick(args.mmd_baseline_records, "mmd_baseline_records"),
                                       DEFAULT_BASELINE_RECORDS),
        seed=_seed(pick(args.mmd_seed, "mmd_seed")),
    ) if model else None
    return RunConfig(
        mode=_mode(pick(args.mode, "analyzer_mode", default="analyze")),
        dataset_source=Path(pick(args.dataset_source, "dataset_source", default=DEFAULT_DATASET_SOURCE)),
        output_path=Path(pick(args.output_path, "output_path", default=DEFAULT_OUTPUT_PATH)),
        baseline_statistics=_optional_path(pick(args.baseline_statistics, "baseline_statistics")),
        baseline_constraints=_optional_path(pick(args.baseline_constraints, "baseline_constraints")),
        window=window,
        confidence_threshold=_threshold(
            "confidence_threshold",
            pick(args.confidence_threshold, "confidence_threshold", "SCONES_CONFIDENCE_THRESHOLD"),
            DEFAULT_CONFIDENCE_THRESHOLD,
        ),
        comparison_threshold=comparison,
        categorical_comparison_threshold=_threshold(
            "categorical_comparison_threshold",
            pick(args.categorical_comparison_threshold, "categorical_comparison_threshold"),
            comparison,
        ),
        endpoint_name=pick(args.endpoint_name, "sagemaker_endpoint_name", "endpoint_name"),
        message_path=Path(environ.get("SCONES_MESSAGE_PATH") or DEFAULT_MESSAGE_PATH),
        metrics_dir=Path(environ.get("SCONES_METRICS_DIR") or DEFAULT_METRICS_DIR) if publish else None,
        ks_alpha=_threshold("ks_alpha", pick(args.ks_alpha, "ks_alpha"), DEFAULT_ALPHA),
        min_estimated_accuracy=_threshold(
            "min_estimated_accuracy",
            pick(args.min_estimated_accuracy, "min_estimated_accuracy"),
            DEFAULT_MIN_ESTIMATED_ACCURACY,
        ),
        workers=_positive_int("workers", pick(args.workers, "SCONES_ANALYZER_WORKERS"), available_cpus()),
        shard_bytes=_positive_int("SCONES_ANALYZER_SHARD_BYTES", environ.get("SCONES_ANALYZER_SHARD_BYTES"),
                                  DEFAULT_SHARD_BYTES),
        embedding=embedding,
    )
