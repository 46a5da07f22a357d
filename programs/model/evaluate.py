"""SageMaker Processing program: score a trained model (and the champion) on the test split.

Writes evaluation.json (metrics, confusion matrix, champion metrics) and model_quality.json
(Model Monitor's binary classification statistics) into --output-dir; with --capture-output,
also writes Data Capture JSONL of the model's predictions on --capture-dir, made through the
serving handler's own functions.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from channel_data import CLASSES, ChannelError, list_channel_images
from classification_metrics import classification_metrics, confusion_report
from data_capture import DEFAULT_INFERENCE_TIME, capture_event_id, capture_record
from inference import UnsupportedInputError, VehicleClassifier, input_fn, model_fn, output_fn, predict_fn
from model_archive import find_model
from model_artifacts import ModelArtifactError, weights_sha256
from model_quality import model_quality_statistics

PNG_CONTENT_TYPE = "image/png"
JSON_CONTENT_TYPE = "application/json"
BATCH_SIZE = 256
EVALUATION_FILE = "evaluation.json"
MODEL_QUALITY_FILE = "model_quality.json"


def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", type=Path, default=Path("/opt/ml/processing/model"))
    parser.add_argument("--test-dir", type=Path, default=Path("/opt/ml/processing/test"))
    parser.add_argument("--champion-dir", type=Path, default=None)
    parser.add_argument("--output-dir", type=Path, default=Path("/opt/ml/processing/evaluation"))
    parser.add_argument("--capture-dir", type=Path, default=None)
    parser.add_argument("--capture-output", type=Path, default=None)
    parser.add_argument("--capture-time", default=DEFAULT_INFERENCE_TIME)
    return parser.parse_args(argv)


def scored_batches(
    classifier: VehicleClassifier, channel: str, split_dir: Path
) -> Iterator[tuple[list[Path], list[bytes], torch.Tensor, list[int]]]:
    """(paths, image bytes, probabilities, labels) per batch, through input_fn and predict_fn."""
    labelled_paths = list_channel_images(channel, split_dir)
    for start in range(0, len(labelled_paths), BATCH_SIZE):
        batch = labelled_paths[start : start + BATCH_SIZE]
        image_bytes = [path.read_bytes() for path, _ in batch]
        try:
            inputs = [input_fn(body, PNG_CONTENT_TYPE) for body in image_bytes]
        except UnsupportedInputError as error:
            raise ChannelError(f"channel '{channel}' at {split_dir} has an unreadable image: {error}") from error
        probabilities = predict_fn(torch.cat(inputs), classifier)
        yield [path for path, _ in batch], image_bytes, probabilities, [label for _, label in batch]


def score_split(classifier: VehicleClassifier, channel: str, split_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities (N x 2) and true labels (N) of every image of a split."""
    probability_batches, labels = [], []
    for _, _, probabilities, batch_labels in scored_batches(classifier, channel, split_dir):
        probability_batches.append(probabilities.numpy().astype(np.float64))
        labels.extend(batch_labels)
    return np.concatenate(probability_batches), np.asarray(labels, dtype=np.int64)


def write_capture(classifier: VehicleClassifier, capture_dir: Path, output: Path, inference_time: str) -> int:
    """Write one Data Capture line per image of capture_dir; returns the line count."""
    output.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with output.open("w") as capture_file:
        for paths, image_bytes, probabilities, _ in scored_batches(classifier, "capture", capture_dir):
            for path, body, row in zip(paths, image_bytes, probabilities, strict=True):
                response_body, response_type = output_fn(row.unsqueeze(0), JSON_CONTENT_TYPE)
                event_id = capture_event_id(path.relative_to(capture_dir).as_posix())
                record = capture_record(body, PNG_CONTENT_TYPE, response_body, response_type, event_id, inference_time)
                capture_file.write(json.dumps(record, separators=(",", ":")) + "\n")
                count += 1
    return count


def evaluate(arguments: argparse.Namespace, work_dir: Path) -> dict[str, Any]:
    """Score the candidate (and champion), write the reports, return evaluation.json's content."""
    model_path = find_model(arguments.model_dir, work_dir / "candidate")
    if model_path is None:
        raise ModelArtifactError(
            f"no model.tar.gz or model.pt under {arguments.model_dir}: pass the training job's model artifact"
        )
    classifier = model_fn(str(model_path))
    classes = classifier.config.get("classes", CLASSES)
    probabilities, labels = score_split(classifier, "test", arguments.test_dir)
    report: dict[str, Any] = {
        "metrics": classification_metrics(probabilities, labels, classes),
        "confusion_matrix": confusion_report(probabilities, labels, classes),
        "model": {"weights_sha256": weights_sha256(classifier.network.state_dict())},
        "champion": None,
    }
    champion_path = find_model(arguments.champion_dir, work_dir / "champion") if arguments.champion_dir else None
    if champion_path is not None:
        champion = model_fn(str(champion_path))
        champion_probabilities, champion_labels = score_split(champion, "test", arguments.test_dir)
        report["champion"] = classification_metrics(champion_probabilities, champion_labels, classes)
    elif arguments.champion_dir:
        print(f"no champion model under {arguments.champion_dir}; reporting the candidate alone", flush=True)

    arguments.output_dir.mkdir(parents=True, exist_ok=True)
    (arguments.output_dir / EVALUATION_FILE).write_text(json.dumps(report, indent=2) + "\n")
    quality = model_quality_statistics(probabilities, labels, classes)
    (arguments.output_dir / MODEL_QUALITY_FILE).write_text(json.dumps(quality, indent=2) + "\n")
    if arguments.capture_output is not None:
        capture_dir = arguments.capture_dir or arguments.test_dir
        count = write_capture(classifier, capture_dir, arguments.capture_output, arguments.capture_time)
        print(f"wrote {count} capture records to {arguments.capture_output}", flush=True)
    return report


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory(prefix="evaluate-") as work_dir:
            report = evaluate(arguments, Path(work_dir))
    except (ChannelError, ModelArtifactError) as error:
        print(f"{type(error).__name__}: {error}", file=sys.stderr, flush=True)
        return 1
    metrics, champion = report["metrics"], report["champion"]
    champion_accuracy = f"{champion['accuracy']:.4f}" if champion else "none"
    print(
        f"test_accuracy={metrics['accuracy']:.4f} test_ece={metrics['ece']:.4f} "
        f"test_log_loss={metrics['log_loss']:.4f} champion_accuracy={champion_accuracy}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
