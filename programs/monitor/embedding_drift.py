"""Embedding drift: the window's photos as the serving model sees them, against the baseline's.

The check (feature ``embedding_mmd``) reports as ``baseline_drift_check`` like the others, so the same
ignore/alert/retrain mapping applies. It embeds a seeded sample of at most ``window_records`` of the
window's photos with the serving model (penultimate layer), and fires when the MMD permutation test's
p-value is below ``alpha``. A window with fewer than ``min_records`` decodable photos is reported as
not enough data, never as a violation. The baseline job writes the baseline's embeddings with
:func:`write_baseline_embeddings`.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from capture import TimeWindow
from embeddings import EMBEDDINGS_FILE, Embedder, fetch_input, model_folder, read_embeddings, sample, window_images
from evaluation import Evaluation
from mmd import permutation_test

EMBEDDING_FEATURE = "embedding_mmd"
MMD_TEST = "MMD permutation test"
DEFAULT_MMD_ALPHA = 0.005
DEFAULT_PERMUTATIONS = 399
DEFAULT_MIN_RECORDS = 30
DEFAULT_WINDOW_RECORDS = 500
DEFAULT_BASELINE_RECORDS = 500
DEFAULT_SEED = 0


@dataclass(frozen=True)
class EmbeddingConfig:
    """Where the serving model and the baseline's embeddings are (paths or ``s3://`` URIs), and the test's knobs."""

    model: str
    baseline_embeddings: str | None = None
    alpha: float = DEFAULT_MMD_ALPHA
    permutations: int = DEFAULT_PERMUTATIONS
    min_records: int = DEFAULT_MIN_RECORDS
    window_records: int = DEFAULT_WINDOW_RECORDS
    baseline_records: int = DEFAULT_BASELINE_RECORDS
    seed: int = DEFAULT_SEED


def _embed(config: EmbeddingConfig, dataset_source: Path, window: TimeWindow, limit: int, work: Path,
           threads: int) -> tuple[np.ndarray, int, int]:
    images, seen = sample(window_images(dataset_source, window), limit, config.seed)
    embedder = Embedder(model_folder(fetch_input(config.model, work), work), threads)
    embeddings, undecodable = embedder.embed(images)
    return embeddings, seen, undecodable


def write_baseline_embeddings(config: EmbeddingConfig, dataset_source: Path, output_path: Path,
                              threads: int) -> dict[str, Any]:
    """Embed a seeded sample of the baseline's photos into ``output_path/embeddings.npy`` (write aside, rename)."""
    with tempfile.TemporaryDirectory(prefix="scones-embed-") as work:
        embeddings, seen, undecodable = _embed(config, dataset_source, TimeWindow(), config.baseline_records,
                                               Path(work), threads)
    output_path.mkdir(parents=True, exist_ok=True)
    staging = output_path / f".{EMBEDDINGS_FILE}.tmp.npy"
    np.save(staging, embeddings)
    os.replace(staging, output_path / EMBEDDINGS_FILE)
    return {"records": len(embeddings), "dimensions": int(embeddings.shape[1]) if embeddings.ndim == 2 else 0,
            "sampled_from": seen, "undecodable": undecodable}


def check_embedding_drift(evaluation: Evaluation, config: EmbeddingConfig, dataset_source: Path,
                          window: TimeWindow, threads: int) -> dict[str, Any]:
    """Run the MMD test on the window and record it in ``evaluation``; returns the summary's entry."""
    if not config.baseline_embeddings:
        reason = "no baseline embeddings given: re-baseline with monitor.embedding_drift on to check it"
        evaluation.unchecked[EMBEDDING_FEATURE] = reason
        return {"status": "not checked", "reason": reason}
    with tempfile.TemporaryDirectory(prefix="scones-embed-") as work:
        baseline = read_embeddings(fetch_input(config.baseline_embeddings, Path(work)))
        current, seen, undecodable = _embed(config, dataset_source, window, config.window_records, Path(work),
                                            threads)
    entry: dict[str, Any] = {"window_records": len(current), "sampled_from": seen, "undecodable": undecodable,
                             "baseline_records": len(baseline), "alpha": config.alpha,
                             "min_records": config.min_records}
    if len(current) < config.min_records or len(baseline) < 2:
        reason = (f"not enough data: {len(current)} decodable photos in the window ({len(baseline)} in the "
                  f"baseline), the MMD test needs at least {config.min_records}")
        evaluation.unchecked[EMBEDDING_FEATURE] = reason
        return {**entry, "status": "not enough data", "reason": reason}
    if current.shape[1] != baseline.shape[1]:
        reason = (f"the baseline embeddings have {baseline.shape[1]} dimensions, the serving model's "
                  f"{current.shape[1]}: re-baseline the serving model")
        evaluation.unchecked[EMBEDDING_FEATURE] = reason
        return {**entry, "status": "not checked", "reason": reason}
    result = permutation_test(baseline, current, config.permutations, config.seed)
    fired = result.p_value < config.alpha
    evaluation.record(EMBEDDING_FEATURE, MMD_TEST, result.p_value, config.alpha,
                      f"fires when p < {config.alpha} ({result.permutations} permutations)", fired,
                      mmd2=result.mmd2, bandwidth=result.bandwidth, permutations=result.permutations,
                      window_records=result.window_count, baseline_records=result.baseline_count)
    if fired:
        evaluation.add(EMBEDDING_FEATURE, "baseline_drift_check",
                       f"Embedding drift: the MMD permutation test p-value: {result.p_value:.3g} is below alpha: "
                       f"{config.alpha} (MMD² {result.mmd2:.4g} over {result.window_count} window and "
                       f"{result.baseline_count} baseline photos, {result.permutations} permutations)")
    return {**entry, "status": "violated" if fired else "passed", "p_value": result.p_value, "mmd2": result.mmd2,
            "bandwidth": result.bandwidth, "permutations": result.permutations}
