"""Labels that teach most: accuracy gained per reviewer label when the review queue is taken in each order.

Per seed, with ``recovery_bench``'s data and serving model (the demo's generators, the settings'
hyperparameters, trained on the clean first partition; cached under ``--work``): a stream of ``--stream``
night-time courier photos (seed 500 + seed) is scored by the serving model, and the photos it would route to
human review (confidence below ``confidence_threshold``) form the queue, each with the note the product
writes (its ``inferences``) and its arrival time in stream order. A budget of N labels is then taken from the
front of the queue in each order — ``random`` (a seeded shuffle), and the product's own orders from
``include.review_order`` (``oldest_first`` = arrival) — labelled with the photos' true classes, ingested with
the clean archive like a reviewer's labels, and the serving model is retrained from its weights with the
settings' retraining (warm start, ``training_job.run_training``, one torch thread). Printed per seed, order and
budget: accuracy on ``recovery_bench``'s 500 held-out night photos (seed 99) and on the clean test split,
before and after, and the night accuracy gained per label; then the median ratio of each order's gain per
label to random's.

    nice -n 10 .venv/bin/python benchmarks/review_order_bench.py --seeds 1 2 3 --jobs 2
    nice -n 10 .venv/bin/python benchmarks/review_order_bench.py --seeds 1 --budgets 50 100 200 \
        --orders random lowest_margin
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import random
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
for folder in (PROJECT_ROOT, PROJECT_ROOT / "programs" / "model"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import torch  # noqa: E402
from channel_data import load_channel  # noqa: E402
from hyperparameters import resolve_hyperparameters  # noqa: E402
from inference import VehicleClassifier  # noqa: E402
from model_artifacts import load_model  # noqa: E402
from preprocessing import decode_image, image_to_uint8_tensor  # noqa: E402
from recovery_bench import accuracy, held_out_night, ingest, retrain, serving_model  # noqa: E402

from devtools.synthetic import write_cifar_archive, write_courier_photos  # noqa: E402
from include.review import VEHICLE_CLASSES  # noqa: E402
from include.review_order import order_photos, predicted_class  # noqa: E402
from include.review_queue import QueuedPhoto  # noqa: E402
from include.settings import load_settings  # noqa: E402

ORDERS = ("random", "oldest_first", "lowest_margin", "lowest_margin_balanced")
STREAM_SEED_BASE = 500
MAX_STREAM = 6000
ARRIVED = datetime(2026, 3, 1, tzinfo=UTC)


def settings_hyperparameters(seed: int):
    defaults = resolve_hyperparameters([], {"SM_HPS": json.dumps(load_settings(environ={}).training.hyperparameters())})
    return replace(defaults, seed=seed, threads=1)


def base_partition(work: Path) -> tuple[Path, str]:
    md5 = write_cifar_archive(work / "archive" / "cifar-100-python.tar.gz", seed=0)
    (work / "no-labels").mkdir(exist_ok=True)
    return ingest(work, work / "no-labels", work / "partition-first", md5), md5


def night_stream(folder: Path, count: int, seed: int) -> dict[str, str]:
    """``count`` night photos (cached) and their true classes, by file name."""
    labels_file = folder / "labels.json"
    if not labels_file.is_file() or len(json.loads(labels_file.read_text())) != count:
        shutil.rmtree(folder, ignore_errors=True)
        write_courier_photos(folder, count=count, seed=seed, drift="night")
    return json.loads(labels_file.read_text())


def score_stream(work: Path, seed: int, count: int, threshold: float) -> tuple[list[QueuedPhoto], dict, dict]:
    """The photos of a ``count``-photo stream the serving model routes to review, as queued photos with notes."""
    stream = work / "review-order" / f"stream-{seed}"
    truths = night_stream(stream, count, STREAM_SEED_BASE + seed)
    names = sorted(truths)
    scores = work / "review-order" / f"stream-{seed}.scores.json"
    if scores.is_file() and len(cached := json.loads(scores.read_text())) == count:
        probabilities = [cached[name] for name in names]
    else:
        network, config = load_model(work / f"serving-{seed}")
        network.eval()
        images = torch.stack([image_to_uint8_tensor(decode_image((stream / name).read_bytes())) for name in names])
        probabilities = VehicleClassifier(network, config).probabilities(images).tolist()
        scores.write_text(json.dumps(dict(zip(names, probabilities, strict=True))))
    queue = []
    for index, (name, values) in enumerate(zip(names, probabilities, strict=True)):
        if max(values) >= threshold:
            continue  # routed to its orders by the model: never seen by a reviewer
        arrived = ARRIVED + timedelta(seconds=30 * index)
        path = f"{arrived:%Y/%m/%d/%H}/{name}"
        queue.append(QueuedPhoto(key=f"review/bench/{path}", run_key="bench", path=path, queued_at=arrived,
                                 interval_start=arrived.replace(minute=0, second=0),
                                 note={"inferences": values, "confidence": max(values)}))
    wrong = sum(truths[name] != VEHICLE_CLASSES[max(range(2), key=values.__getitem__)]
                for name, values in zip(names, probabilities, strict=True))
    stats = {"stream": count, "queued": len(queue), "serving_wrong_in_stream": wrong,
             "serving_wrong_in_queue": sum(truths[photo.path.rsplit("/", 1)[-1]] != predicted_class(photo)
                                           for photo in queue)}
    return queue, truths, stats


def review_queue(work: Path, seed: int, stream: int, queue_size: int,
                 threshold: float) -> tuple[list[QueuedPhoto], dict, dict]:
    """The review queue of a night-time stream long enough that the model queues at least ``queue_size`` photos
    (at most ``MAX_STREAM`` photos): a serving model sure of most night photos queues few of them."""
    known = work / "review-order" / f"stream-{seed}.length"
    count = int(known.read_text()) if known.is_file() else stream
    queue, truths, stats = score_stream(work, seed, count, threshold)
    if len(queue) < queue_size and count < MAX_STREAM:
        count = min(MAX_STREAM, math.ceil(count * queue_size / max(1, len(queue)) * 1.05))
        queue, truths, stats = score_stream(work, seed, count, threshold)
    known.write_text(str(count))
    return queue, truths, stats


def chosen_photos(queue: list[QueuedPhoto], order: str, budget: int, seed: int) -> list[str]:
    if order == "random":
        ranked = random.Random(f"review-order-{seed}").sample(queue, len(queue))
    else:
        ranked = order_photos(queue, order)
    return [photo.path.rsplit("/", 1)[-1] for photo in ranked[:budget]]


def prepare(seed: int, work: str, stream: int, queue_size: int, threshold: float) -> dict:
    """The serving model of ``seed`` (trained if not cached) and its review queue."""
    torch.set_num_threads(1)
    work_path = Path(work)
    base, _ = base_partition(work_path)
    _, _, seconds = serving_model(base, work_path / f"serving-{seed}", settings_hyperparameters(seed))
    _, _, stats = review_queue(work_path, seed, stream, queue_size, threshold)
    return {"seed": seed, "serving_seconds": round(seconds), **stats}


def labelled_folder(folder: Path, stream: Path, names: list[str], truths: dict[str, str]) -> Path:
    """The chosen photos sorted into class folders, as the review queue's labels land."""
    shutil.rmtree(folder, ignore_errors=True)
    for name in names:
        (folder / truths[name]).mkdir(parents=True, exist_ok=True)
        shutil.copy(stream / name, folder / truths[name] / name)
    return folder


def run_one(seed: int, order: str, budget: int, work: str, stream: int, queue_size: int, threshold: float) -> dict:
    """One retraining from the serving model on ``budget`` labels taken in ``order``."""
    torch.set_num_threads(1)
    work_path = Path(work)
    base, md5 = base_partition(work_path)
    queue, truths, _ = review_queue(work_path, seed, stream, queue_size, threshold)
    names = chosen_photos(queue, order, budget, seed)
    model_dir = work_path / f"serving-{seed}"
    network, config = load_model(model_dir)
    night, clean = held_out_night(work_path), load_channel("test", base / "test")
    old_night, old_clean = accuracy(network, config, night), accuracy(network, config, clean)
    run = work_path / "review-order" / f"{order}-{budget}-{seed}"
    with tempfile.TemporaryDirectory() as scratch:
        labelled = labelled_folder(Path(scratch) / "labelled", work_path / "review-order" / f"stream-{seed}", names,
                                   truths)
        shutil.rmtree(run, ignore_errors=True)
        partition = ingest(work_path, labelled, run, md5)
    outcome, seconds, new_images = retrain(partition, model_dir, settings_hyperparameters(seed), warm=True)
    shutil.rmtree(run, ignore_errors=True)
    new_night = accuracy(outcome.network, outcome.model_config, night)
    new_clean = accuracy(outcome.network, outcome.model_config, clean)
    predicted = {photo.path.rsplit("/", 1)[-1]: predicted_class(photo) for photo in queue}
    wrong = sum(truths[name] != predicted[name] for name in names)
    return {"seed": seed, "order": order, "budget": len(names), "serving_wrong_among_chosen": wrong,
            "old_night": round(old_night, 4), "new_night": round(new_night, 4),
            "old_clean": round(old_clean, 4), "new_clean": round(new_clean, 4),
            "night_gain_per_label": round((new_night - old_night) / len(names), 6),
            "clean_gain_per_label": round((new_clean - old_clean) / len(names), 6),
            "new_train_images": new_images, "best_epoch": outcome.best_epoch, "seconds": round(seconds)}


def summary(rows: list[dict], orders: list[str], budgets: list[int]) -> None:
    for budget in budgets:
        randoms = {row["seed"]: row for row in rows if row["order"] == "random" and row["budget"] == budget}
        for order in orders:
            mine = [row for row in rows if row["order"] == order and row["budget"] == budget]
            if not mine:
                continue
            ratios = [row["night_gain_per_label"] / randoms[row["seed"]]["night_gain_per_label"] for row in mine
                      if row["seed"] in randoms and randoms[row["seed"]]["night_gain_per_label"] > 0]
            ratio = f", gain per label / random's: median {statistics.median(ratios):.2f}x " \
                    f"({' / '.join(f'{r:.2f}' for r in ratios)})" if ratios and order != "random" else ""
            print(f"{budget} labels, {order}: night {statistics.median(r['new_night'] for r in mine):.3f} "
                  f"(from {statistics.median(r['old_night'] for r in mine):.3f}), clean change "
                  f"{statistics.median(r['new_clean'] - r['old_clean'] for r in mine):+.3f}, night gain per label "
                  f"{statistics.median(r['night_gain_per_label'] for r in mine) * 1000:.2f} per 1000{ratio}",
                  flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--budgets", type=int, nargs="+", default=[200])
    parser.add_argument("--orders", nargs="+", default=list(ORDERS), choices=ORDERS)
    parser.add_argument("--curve-orders", nargs="*", default=["random", "lowest_margin"], choices=ORDERS,
                        help="orders also run at the budgets below the largest")
    parser.add_argument("--stream", type=int, default=1200, help="night photos arriving during the episode")
    parser.add_argument("--queue-size", type=int, default=600,
                        help="the stream grows (to at most 6000 photos) until the model queues this many")
    parser.add_argument("--jobs", type=int, default=1, help="trainings side by side (one torch thread each)")
    parser.add_argument("--work", type=Path, default=PROJECT_ROOT / ".data" / "recovery-bench")
    arguments = parser.parse_args()
    threshold = load_settings(environ={}).confidence_threshold
    work = arguments.work
    work.mkdir(parents=True, exist_ok=True)
    base_partition(work)
    held_out_night(work)
    top = max(arguments.budgets)
    tasks = [(seed, order, top) for seed in arguments.seeds for order in arguments.orders]
    tasks += [(seed, order, budget) for budget in sorted(set(arguments.budgets) - {top}, reverse=True)
              for seed in arguments.seeds for order in arguments.curve_orders]
    started = time.perf_counter()
    rows = []
    with ProcessPoolExecutor(arguments.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        for prepared in [pool.submit(prepare, seed, str(work), arguments.stream, arguments.queue_size, threshold)
                         for seed in arguments.seeds]:
            print(json.dumps(prepared.result()), flush=True)
        futures = [pool.submit(run_one, *task, str(work), arguments.stream, arguments.queue_size,
                               threshold) for task in tasks]
        for future in futures:
            rows.append(future.result())
            print(json.dumps(rows[-1]), flush=True)
    print(f"{len(rows)} retrainings in {time.perf_counter() - started:.0f} s wall, {arguments.jobs} side by side",
          flush=True)
    summary(rows, list(arguments.orders), sorted(set(arguments.budgets), reverse=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
