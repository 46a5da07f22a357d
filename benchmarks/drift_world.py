"""The drift benchmark's world: a trained model, its drift baseline, and captured traffic of every kind.

Everything goes through the product's own parts: the synthetic archive is ingested by the ingest
program, the model is trained by a local training job and scored by the evaluation program (whose
validation predictions, in Data Capture format, become the baseline through the analyzer's baseline
mode), and every courier photo is classified by the model server's handler and recorded by the local
endpoint's Data Capture writer. The model and the captured traffic are cached under
``.data/benchmarks/drift/<digest>/`` (the digest covers the model and generator code and the scale),
the baseline is rebuilt every run because it depends on the analyzer.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from devtools.synthetic import DRIFTS, write_cifar_archive, write_courier_photos  # noqa: E402
from include.builders.training import training_job_request, upload_training_source  # noqa: E402
from include.code_bundle import PROGRAM_DIRS, source_digest  # noqa: E402
from include.runtime.local.data_capture import CaptureConfig, CaptureWriter  # noqa: E402
from include.runtime.local.job_records import LocalJobRegistry  # noqa: E402
from include.runtime.local.model_handler import (  # noqa: E402
    ModelHandler,
    extract_model_artifact,
    isolated_code_imports,
)
from include.runtime.local.store import LocalObjectStore  # noqa: E402
from include.runtime.local.training import run_training_job  # noqa: E402
from include.settings import load_settings  # noqa: E402
from include.storage import upload_directory  # noqa: E402

INGEST = PROGRAM_DIRS["ingest"] / "ingest.py"
EVALUATE = PROGRAM_DIRS["model"] / "evaluate.py"
ANALYZER = PROGRAM_DIRS["monitor"] / "analyzer.py"
CACHE_ROOT = PROJECT_ROOT / ".data" / "benchmarks" / "drift"
CLEAN = "clean"
KINDS = (CLEAN, *DRIFTS)
RUN_KEY = "drift-bench"
ENDPOINT, VARIANT = "scones-drift-bench", "AllTraffic"
CAPTURE_START = datetime(2026, 1, 1, tzinfo=UTC)
CHUNK = 250  # photos per generation task
BATCH = 50  # photos per model call


@dataclass(frozen=True)
class Scale:
    """How big the world is; the benchmark's README states what this scales down."""

    epochs: int = 8
    clean_records: int = 8_000
    drift_records: int = 1_200
    photo_sides: tuple[int, int] = (96, 160)
    workers: int = 2


@dataclass(frozen=True)
class World:
    root: Path
    model_dir: Path
    baseline: Path
    evaluation: dict
    capture: dict[str, Path]
    truths: dict[str, dict[str, str]]
    built_seconds: float
    reused: bool


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def _digest(scale: Scale) -> str:
    digest = hashlib.sha256(json.dumps(asdict(scale), sort_keys=True).encode())
    digest.update(source_digest(PROGRAM_DIRS["model"]).encode())
    digest.update(source_digest(PROGRAM_DIRS["ingest"]).encode())
    digest.update(source_digest(PROJECT_ROOT / "devtools" / "synthetic").encode())
    return digest.hexdigest()[:12]


def _train_model(root: Path, epochs: int) -> Path:
    """Archive -> ingest program -> local training job; returns the extracted model folder."""
    work = root / "training"
    shutil.rmtree(work, ignore_errors=True)
    archive_dir, partition = work / "archive", root / "partition"
    md5 = write_cifar_archive(archive_dir / "cifar-100-python.tar.gz", seed=0)
    shutil.rmtree(partition, ignore_errors=True)
    subprocess.run(
        [sys.executable, str(INGEST), "--archive-dir", str(archive_dir), "--archive-md5", md5,
         "--labelled-dir", str(work / "no-labelled"), "--output-dir", str(partition), "--run-key", RUN_KEY],
        check=True, stdout=subprocess.DEVNULL,
    )
    settings = load_settings(environ={"SCONES_DATA_ROOT": str(work / "data"), "SCONES_TRAINING__EPOCHS": str(epochs)})
    store = LocalObjectStore(settings.data_root)
    upload_directory(store, partition, settings.s3_uri(settings.prefixes.datasets, RUN_KEY))
    request = training_job_request(
        settings, run_key=RUN_KEY, job_name="scones-drift-bench", source_uri=upload_training_source(settings, store),
        partition_uri=settings.s3_uri(settings.prefixes.datasets, RUN_KEY) + "/",
        hyperparameters=settings.training.hyperparameters(),
        output_uri=settings.s3_uri(settings.prefixes.models, RUN_KEY) + "/",
    )
    description = run_training_job(request, store=store, registry=LocalJobRegistry(work / "jobs", "training"),
                                   log=lambda _: None)
    archive = root / "model.tar.gz"
    store.download_file(description["ModelArtifacts"]["S3ModelArtifacts"], archive)
    model_dir = root / "model"
    shutil.rmtree(model_dir, ignore_errors=True)
    extract_model_artifact(archive, model_dir)
    shutil.rmtree(work)
    return model_dir


def _evaluate(root: Path) -> dict:
    """The evaluation program: test metrics, and the validation split's predictions as Data Capture."""
    output = root / "evaluation"
    subprocess.run(
        [sys.executable, str(EVALUATE), "--model-dir", str(root), "--test-dir", str(root / "partition" / "test"),
         "--output-dir", str(output), "--capture-dir", str(root / "partition" / "validation"),
         "--capture-output", str(output / "capture" / "validation_capture.jsonl")],
        check=True, stdout=subprocess.DEVNULL,
    )
    return json.loads((output / "evaluation.json").read_text())


def build_baseline(root: Path, confidence_threshold: float) -> Path:
    """The analyzer's baseline mode over the validation capture, as the training DAG's baseline job runs it."""
    baseline = root / "baseline"
    shutil.rmtree(baseline, ignore_errors=True)
    subprocess.run(
        [sys.executable, str(ANALYZER), "--mode", "baseline", "--dataset-source", str(root / "evaluation" / "capture"),
         "--output-path", str(baseline), "--confidence-threshold", str(confidence_threshold)],
        check=True, stdout=subprocess.DEVNULL, env={**os.environ, "SCONES_MESSAGE_PATH": str(root / "message")},
    )
    return baseline


_HANDLER: ModelHandler | None = None


def _handler(model_dir: Path) -> ModelHandler:
    global _HANDLER
    if _HANDLER is None:
        with isolated_code_imports(model_dir / "code"):
            _HANDLER = ModelHandler.load(model_dir)
    return _HANDLER


def _content_type(name: str) -> str:
    return "image/jpeg" if name.endswith(".jpg") else "image/png"


def _classify(handler: ModelHandler, bodies: list[tuple[bytes, str]]) -> list[tuple[bytes, str]]:
    """The handler's own input_fn, predict_fn and output_fn, with the model run once per batch
    (as the evaluation program does): the same outputs as one request at a time, faster."""
    import torch

    module = handler.module
    inputs = torch.cat([module.input_fn(body, content_type) for body, content_type in bodies])
    probabilities = module.predict_fn(inputs, handler.model)
    answers = []
    for row in probabilities:
        body, content_type = module.output_fn(row.unsqueeze(0), "application/json")
        answers.append((body.encode() if isinstance(body, str) else body, content_type))
    return answers


def _capture_chunk(task: tuple[Path, Path, str, int, int, tuple[int, int]]) -> dict[str, str]:
    """Render one chunk of photos, classify them with the model server's handler, capture each request."""
    model_dir, destination, kind, chunk, count, sides = task
    handler = _handler(model_dir)
    drift = None if kind == CLEAN else kind
    clock_start = CAPTURE_START + timedelta(hours=chunk)
    ticks = iter(range(10**9))
    writer = CaptureWriter(CaptureConfig(destination), ENDPOINT, VARIANT,
                           clock=lambda: clock_start + timedelta(seconds=next(ticks)))
    with tempfile.TemporaryDirectory(prefix="drift-photos-") as folder:
        written = write_courier_photos(folder, count=count, seed=1000 + chunk, drift=drift, size_range=sides)
        requests = [((Path(folder) / name).read_bytes(), _content_type(name)) for name, _ in written]
        for start in range(0, len(requests), BATCH):
            batch = requests[start:start + BATCH]
            for (name, _), (body, content_type), (answer, answer_type) in zip(
                written[start:start + BATCH], batch, _classify(handler, batch), strict=True
            ):
                writer.write(input_body=body, input_content_type=content_type, output_body=answer,
                             output_content_type=answer_type, inference_id=f"{chunk}/{name}")
    writer.close()
    return {f"{chunk}/{name}": truth for name, truth in written}


def _chunks(total: int) -> Iterator[tuple[int, int]]:
    for index, start in enumerate(range(0, total, CHUNK)):
        yield index, min(CHUNK, total - start)


def _capture_traffic(root: Path, model_dir: Path, scale: Scale) -> None:
    tasks = []
    for kind in KINDS:
        total = scale.clean_records if kind == CLEAN else scale.drift_records
        destination = root / "capture" / kind
        shutil.rmtree(destination, ignore_errors=True)
        tasks += [(model_dir, destination, kind, chunk, count, scale.photo_sides) for chunk, count in _chunks(total)]
    truths: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}
    context = multiprocessing.get_context("fork")
    with context.Pool(scale.workers) as pool:
        for task, labels in zip(tasks, pool.imap(_capture_chunk, tasks), strict=True):
            truths[task[2]].update(labels)
    (root / "truths.json").write_text(json.dumps(truths))


def build_world(scale: Scale, confidence_threshold: float) -> World:
    """The cached model and traffic for this scale (made when missing), and a fresh baseline."""
    root = CACHE_ROOT / _digest(scale)
    ready = root / "ready"
    started = time.perf_counter()
    reused = ready.exists()
    if not reused:
        root.mkdir(parents=True, exist_ok=True)
        say(f"training the model ({scale.epochs} epochs) under {root}")
        model_dir = _train_model(root, scale.epochs)
        say(f"model trained in {time.perf_counter() - started:.0f} s; evaluating")
        _evaluate(root)
        say(f"capturing {scale.clean_records} clean and {scale.drift_records} x {len(DRIFTS)} drifted requests")
        _capture_traffic(root, model_dir, scale)
        ready.write_text(json.dumps({"built_seconds": round(time.perf_counter() - started, 1)}))
        say(f"world built in {time.perf_counter() - started:.0f} s")
    else:
        say(f"reusing the cached model and captured traffic under {root} "
            f"(built in {json.loads(ready.read_text())['built_seconds']} s)")
    baseline = build_baseline(root, confidence_threshold)
    return World(
        root=root,
        model_dir=root / "model",
        baseline=baseline,
        evaluation=json.loads((root / "evaluation" / "evaluation.json").read_text()),
        capture={kind: root / "capture" / kind for kind in KINDS},
        truths=json.loads((root / "truths.json").read_text()),
        built_seconds=json.loads(ready.read_text())["built_seconds"],
        reused=reused,
    )
