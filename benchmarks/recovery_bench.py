"""Recovery after a night-time drift episode: the serving model vs its retraining, per seed.

Builds the demo's data with the demo's generators: the default synthetic CIFAR archive (seed 0) ingested
into the first partition, 500 labelled night-time courier photos (seed 2 + training seed) ingested with it
into the retraining partition, and 500 held-out night-time photos (seed 99, as the demo). Per training
seed it trains the serving model on the first partition with the settings' hyperparameters, then
retrains it from the serving model's weights (the training program's warm start: ``trained_on.json``
tells which images are new) for each variant, and prints accuracy on the held-out night photos (old vs
new) and on the first partition's clean test split (new minus old). Every training runs on one torch
thread through ``programs/model``'s own ``run_training``.

    nice -n 10 .venv/bin/python benchmarks/recovery_bench.py --seeds 1 2 3      # the settings' retraining
    nice -n 10 .venv/bin/python benchmarks/recovery_bench.py --seeds 1 --variants warm warm-low-light

Data and serving models are cached under ``--work`` (default ``.data/recovery-bench``); delete it to rebuild.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MODEL_PROGRAM = PROJECT_ROOT / "programs" / "model"
for folder in (PROJECT_ROOT, MODEL_PROGRAM):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import torch  # noqa: E402
from channel_data import CLASSES, load_channel  # noqa: E402
from hyperparameters import Hyperparameters, resolve_hyperparameters  # noqa: E402
from model_artifacts import load_model, save_model  # noqa: E402
from preprocessing import decode_image, image_to_uint8_tensor  # noqa: E402
from training_job import Retraining, run_training  # noqa: E402
from training_loop import evaluate_pass  # noqa: E402
from warm_start import image_digests, load_warm_start, write_trained_on  # noqa: E402

from devtools.synthetic import write_cifar_archive, write_courier_photos  # noqa: E402
from include.settings import load_settings  # noqa: E402

INGEST = PROJECT_ROOT / "programs" / "ingest" / "ingest.py"
LABELLED_DRIFTED = 500
HELD_OUT_DRIFTED = 500
HELD_OUT_SEED = 99
# Retraining variants: hyperparameters changed from the settings' (all but "scratch" start from the serving
# model's weights, at warm-start-learning-rate and with warm-start-patience; 0 there: learning-rate, patience).
VARIANTS: dict[str, dict] = {
    "scratch": {"new_data_share": 0.0},  # a retraining without warm start: from scratch, every image alike
    "first-hyperparameters": {"warm_start_learning_rate": 0.0, "warm_start_patience": 0, "new_data_share": 0.5},
    "warm": {"warm_start_learning_rate": 0.001, "epochs": 10, "warm_start_patience": 4, "new_data_share": 0.5},
    "warm-low-light": {"warm_start_learning_rate": 0.001, "epochs": 10, "warm_start_patience": 4,
                       "new_data_share": 0.5, "low_light": 0.5},
    "warm-long": {"warm_start_learning_rate": 0.001, "epochs": 20, "warm_start_patience": 4, "new_data_share": 0.5},
    "warm-0.6": {"warm_start_learning_rate": 0.001, "epochs": 15, "warm_start_patience": 6, "new_data_share": 0.6},
    "warm-0.6-long": {"warm_start_learning_rate": 0.001, "epochs": 25, "warm_start_patience": 6,
                      "new_data_share": 0.6},
    "warm-0.7": {"warm_start_learning_rate": 0.001, "epochs": 15, "warm_start_patience": 6, "new_data_share": 0.7},
    "settings": {},  # what scones_train does: the settings' hyperparameters, from the serving model's weights
}


def ingest(work: Path, labelled: Path, output: Path, md5: str) -> Path:
    if not (output / "manifest.json").is_file():
        shutil.rmtree(output, ignore_errors=True)
        subprocess.run([sys.executable, str(INGEST), "--archive-dir", str(work / "archive"), "--archive-md5", md5,
                        "--labelled-dir", str(labelled), "--output-dir", str(output), "--run-key", "bench"],
                       check=True, stdout=subprocess.DEVNULL)
    return output


def labelled_night_photos(folder: Path, seed: int) -> Path:
    """Night photos sorted into class folders, as the review queue's labels land."""
    if folder.is_dir():
        return folder
    with tempfile.TemporaryDirectory() as raw:
        write_courier_photos(raw, count=LABELLED_DRIFTED, seed=seed, drift="night")
        for name, label in json.loads((Path(raw) / "labels.json").read_text()).items():
            (folder / label).mkdir(parents=True, exist_ok=True)
            shutil.move(Path(raw) / name, folder / label / name)
    return folder


def held_out_night(work: Path) -> tuple[torch.Tensor, torch.Tensor]:
    cache = work / "held-out-night.pt"
    if not cache.is_file():
        with tempfile.TemporaryDirectory() as raw:
            write_courier_photos(raw, count=HELD_OUT_DRIFTED, seed=HELD_OUT_SEED, drift="night")
            labels = json.loads((Path(raw) / "labels.json").read_text())
            images = [image_to_uint8_tensor(decode_image((Path(raw) / name).read_bytes())) for name in sorted(labels)]
            classes = [CLASSES.index(labels[name]) for name in sorted(labels)]
        torch.save((torch.stack(images), torch.tensor(classes)), cache)
    return torch.load(cache)


def accuracy(network: torch.nn.Module, config: dict, data: tuple[torch.Tensor, torch.Tensor]) -> float:
    return evaluate_pass(network, *data, 256, config["normalisation"]).accuracy


def serving_model(base: Path, model_dir: Path, hyperparameters: Hyperparameters) -> tuple[torch.nn.Module, dict, float]:
    """The first model, trained on the clean partition (cached), with what it saw recorded."""
    seconds = 0.0
    if not (model_dir / "model.pt").is_file():
        started = time.perf_counter()
        outcome = run_training(hyperparameters, load_channel("train", base / "train"),
                               load_channel("validation", base / "validation"), None, {})
        seconds = time.perf_counter() - started
        save_model(model_dir, outcome.network, outcome.model_config)
        write_trained_on(model_dir, image_digests("train", base / "train"),
                         image_digests("validation", base / "validation"))
    network, config = load_model(model_dir)
    return network, config, seconds


def retrain(partition: Path, model_dir: Path, hyperparameters: Hyperparameters, warm: bool):
    started = time.perf_counter()
    train = load_channel("train", partition / "train")
    validation = load_channel("validation", partition / "validation")
    retraining = None
    if warm:
        with tempfile.TemporaryDirectory() as work_dir:
            warm_start = load_warm_start(model_dir, Path(work_dir), hyperparameters)
        assert warm_start is not None, "the serving model cannot start this retraining"
        retraining = Retraining(warm_start, warm_start.new_images(image_digests("train", partition / "train"), "train"),
                                warm_start.new_images(image_digests("validation", partition / "validation"),
                                                      "validation"))
    outcome = run_training(hyperparameters, train, validation, None, {}, retraining)
    new_images = int(retraining.new_in_train.sum()) if retraining else None
    return outcome, time.perf_counter() - started, new_images


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--variants", nargs="+", default=["settings"], choices=sorted(VARIANTS))
    parser.add_argument("--work", type=Path, default=PROJECT_ROOT / ".data" / "recovery-bench")
    arguments = parser.parse_args()
    torch.set_num_threads(1)
    work = arguments.work
    work.mkdir(parents=True, exist_ok=True)
    md5 = write_cifar_archive(work / "archive" / "cifar-100-python.tar.gz", seed=0)
    (work / "no-labels").mkdir(exist_ok=True)
    base = ingest(work, work / "no-labels", work / "partition-first", md5)
    clean_test = load_channel("test", base / "test")
    night = held_out_night(work)
    defaults = resolve_hyperparameters(
        [], {"SM_HPS": json.dumps(load_settings(environ={}).training.hyperparameters())})
    rows = []
    for seed in arguments.seeds:
        hyperparameters = replace(defaults, seed=seed, threads=1)
        labelled = labelled_night_photos(work / f"labelled-night-{seed}", seed=2 + seed)
        partition = ingest(work, labelled, work / f"partition-retrain-{seed}", md5)
        model_dir = work / f"serving-{seed}"
        network, config, serving_seconds = serving_model(base, model_dir, hyperparameters)
        old_night, old_clean = accuracy(network, config, night), accuracy(network, config, clean_test)
        print(f"seed {seed}: serving model night {old_night:.3f} clean test {old_clean:.3f}"
              + (f" (trained in {serving_seconds:.0f} s)" if serving_seconds else " (cached)"), flush=True)
        for variant in arguments.variants:
            outcome, seconds, new_images = retrain(partition, model_dir, replace(hyperparameters, **VARIANTS[variant]),
                                                   warm=variant != "scratch")
            row = {"seed": seed, "variant": variant, "old_night": round(old_night, 4),
                   "new_night": round(accuracy(outcome.network, outcome.model_config, night), 4),
                   "old_clean": round(old_clean, 4),
                   "new_clean": round(accuracy(outcome.network, outcome.model_config, clean_test), 4),
                   "new_train_images": new_images, "best_epoch": outcome.best_epoch, "seconds": round(seconds)}
            row["clean_delta"] = round(row["new_clean"] - row["old_clean"], 4)
            rows.append(row)
            print(json.dumps(row), flush=True)
    for variant in arguments.variants:
        mine = [row for row in rows if row["variant"] == variant]
        print(f"{variant}: median over {len(mine)} seed(s): night old "
              f"{statistics.median(r['old_night'] for r in mine):.3f} new "
              f"{statistics.median(r['new_night'] for r in mine):.3f}, clean delta "
              f"{statistics.median(r['clean_delta'] for r in mine):+.3f}, "
              f"{statistics.median(r['seconds'] for r in mine):.0f} s per retraining")
    return 0


if __name__ == "__main__":
    sys.exit(main())
