"""The embedding drift check (MMD on the serving model's penultimate layer): power, false alarms and cost per record.

It reuses ``drift_bench.py``'s world (``drift_world.py``: the same model, baseline and captured traffic,
cached under ``.data/benchmarks/drift/``). The baseline's embeddings come from the analyzer's own
baseline mode (``analyzer.py --mode baseline --embedding-model``), as the baseline job writes them.
Every captured request is embedded once by the analyzer's own embedder (the model's ``input_fn`` and
network); each window is then a random draw of those embeddings, tested by the analyzer's own MMD
permutation test with the product's settings (``mmd_alpha``, ``mmd_permutations``, ``mmd_min_records``,
``mmd_seed``).

Printed: false alarms on clean windows (with the Clopper-Pearson 95% upper bound) and power per drift
kind, for windows of 25/50/100/200/500 requests; and the cost per record, side by side in one run:
the existing analyzer's profile of the same records (``window_profile``), the embedding, the test per
window, and ``analyzer.py`` on a 500-request window with and without the embedding check.

    nice -n 10 .venv/bin/python benchmarks/embedding_drift_bench.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import drift_world
import numpy as np
from drift_bench import WINDOW_SIZES, clopper_pearson_upper
from drift_world import ANALYZER, CLEAN, KINDS, Scale, World, say

MONITOR = drift_world.PROJECT_ROOT / "programs" / "monitor"
if str(MONITOR) not in sys.path:
    sys.path.insert(0, str(MONITOR))

from capture import TimeWindow  # noqa: E402
from embeddings import Embedder, read_embeddings, window_images  # noqa: E402
from mmd import permutation_test  # noqa: E402
from window_profile import profile_window  # noqa: E402

from include.settings import load_settings  # noqa: E402

COST_WINDOW = 500


def baseline_embeddings(world: World, settings) -> tuple[np.ndarray, float]:
    """The analyzer's baseline mode with the model (as the baseline job runs it); returns the embeddings and its
    wall time."""
    output = world.root / "embedding-baseline"
    monitor = settings.monitor
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, str(ANALYZER), "--mode", "baseline", "--dataset-source", str(world.root / "evaluation" /
                                                                                     "capture"),
         "--output-path", str(output), "--confidence-threshold", str(settings.confidence_threshold),
         "--embedding-model", str(world.model_dir), "--mmd-baseline-records", str(monitor.mmd_baseline_records),
         "--mmd-seed", str(monitor.mmd_seed), "--workers", "1"],
        check=True, stdout=subprocess.DEVNULL, env={**os.environ, "SCONES_MESSAGE_PATH": str(world.root / "message")},
    )
    return read_embeddings(output / "embeddings.npy"), time.perf_counter() - started


def embed_kinds(world: World, embedder: Embedder) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Every captured request of every kind embedded once; seconds per record (read + decode + network)."""
    embedded, per_record = {}, {}
    for kind in KINDS:
        started = time.process_time()
        images = list(window_images(world.capture[kind], TimeWindow()))
        embedded[kind], _ = embedder.embed(images)
        per_record[kind] = (time.process_time() - started) / len(images)
    return embedded, per_record


def profile_cost(world: World, threshold: float) -> float:
    """CPU seconds per record of the existing analyzer's profile (statistics, sketches, extremes) on clean traffic."""
    started = time.process_time()
    profile = profile_window(world.capture[CLEAN], TimeWindow(), threshold, keep_photos=True, workers=1)
    return (time.process_time() - started) / profile.profile.item_count


def windows(baseline: np.ndarray, pool: np.ndarray, size: int, count: int, seed: int, settings) -> dict:
    """``count`` random windows of ``size`` from ``pool``: how many fired, and the test's seconds per window."""
    monitor = settings.monitor
    if size < monitor.mmd_min_records:
        return {"fired": None, "count": count, "seconds": 0.0}
    rng = random.Random(seed)
    fired, seconds = 0, []
    for _ in range(count):
        window = pool[rng.sample(range(len(pool)), size)]
        started = time.process_time()
        result = permutation_test(baseline, window, monitor.mmd_permutations, monitor.mmd_seed)
        seconds.append(time.process_time() - started)
        fired += result.p_value < monitor.mmd_alpha
    return {"fired": fired, "count": count, "seconds": statistics.median(seconds)}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def entry_point_cost(world: World, settings, baseline_dir: Path) -> dict[str, tuple[float, float]]:
    """``analyzer.py`` over the first 500 clean requests' capture file lines, without and with the embedding check:
    (wall seconds, CPU seconds)."""
    costs = {}
    with tempfile.TemporaryDirectory(prefix="embedding-bench-") as scratch:
        source = Path(scratch) / "capture" / "2026" / "01" / "01" / "00"
        source.mkdir(parents=True)
        lines = []
        for path in sorted(world.capture[CLEAN].rglob("*.jsonl")):
            lines += path.read_text().splitlines()
            if len(lines) >= COST_WINDOW:
                break
        (source / "window.jsonl").write_text("\n".join(lines[:COST_WINDOW]) + "\n")
        base = [sys.executable, str(ANALYZER), "--dataset-source", str(Path(scratch) / "capture"),
                "--baseline-statistics", str(world.baseline / "statistics.json"),
                "--baseline-constraints", str(world.baseline / "constraints.json"),
                "--confidence-threshold", str(settings.confidence_threshold), "--workers", "1"]
        embedding = ["--embedding-model", str(world.model_dir), "--baseline-embeddings",
                     str(baseline_dir / "embeddings.npy"), "--mmd-permutations", str(settings.monitor.mmd_permutations),
                     "--mmd-window-records", str(settings.monitor.mmd_window_records)]
        for name, extra in (("without", []), ("with", embedding), ("without again", []), ("with again", embedding)):
            before, started = _children_cpu(), time.perf_counter()
            subprocess.run([*base, "--output-path", str(Path(scratch) / name.replace(" ", "-")), *extra], check=True,
                           stdout=subprocess.DEVNULL, env={**os.environ, "SCONES_MESSAGE_PATH": f"{scratch}/m"})
            costs[name] = (time.perf_counter() - started, _children_cpu() - before)
    return costs


def _cell(result: dict) -> str:
    if result["fired"] is None:
        return "n/a"
    return f"{100 * result['fired'] / result['count']:.0f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="drift_bench's small world and fewer windows")
    parser.add_argument("--clean-windows", type=int, default=300)
    parser.add_argument("--drift-windows", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2, help="for building the world only")
    args = parser.parse_args(argv)
    scale = Scale(workers=args.workers)
    if args.quick:
        scale = Scale(epochs=3, clean_records=1500, drift_records=600, workers=args.workers)
        args.clean_windows, args.drift_windows = 100, 20
    started = time.perf_counter()
    settings = load_settings()
    world = drift_world.build_world(scale, settings.confidence_threshold)
    baseline, baseline_seconds = baseline_embeddings(world, settings)
    say(f"baseline embeddings {baseline.shape} by the analyzer's baseline mode in {baseline_seconds:.1f} s")
    embedder = Embedder(world.model_dir, threads=1)
    embedded, embed_seconds = embed_kinds(world, embedder)
    say(f"embedded {sum(map(len, embedded.values()))} captured requests")
    profile_seconds = profile_cost(world, settings.confidence_threshold)
    clean = {size: windows(baseline, embedded[CLEAN], size, args.clean_windows, 10 + size, settings)
             for size in WINDOW_SIZES}
    say("clean windows done")
    power = {(kind, size): windows(baseline, embedded[kind], size, args.drift_windows, 20 + size, settings)
             for kind in KINDS[1:] for size in WINDOW_SIZES}
    say("drifted windows done")
    entry = entry_point_cost(world, settings, world.root / "embedding-baseline")

    monitor = settings.monitor
    print(f"\nsettings: mmd_alpha {monitor.mmd_alpha}, mmd_permutations {monitor.mmd_permutations}, mmd_min_records "
          f"{monitor.mmd_min_records}, baseline {len(baseline)} x {baseline.shape[1]} embeddings; load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"\nfalse alarms on clean traffic, {args.clean_windows} windows per size (share, Clopper-Pearson 95% upper):")
    for size, result in clean.items():
        if result["fired"] is None:
            print(f"  {size:>4}: n/a (below mmd_min_records: reported as not enough data)")
        else:
            upper = clopper_pearson_upper(result["fired"], result["count"])
            print(f"  {size:>4}: {100 * result['fired'] / result['count']:.1f}% (<= {100 * upper:.2f}%)")
    print(f"\npower, {args.drift_windows} windows per kind and size ({' / '.join(map(str, WINDOW_SIZES))}):")
    print("| drift | power of the embedding MMD test |\n|---|---|")
    for kind in KINDS[1:]:
        print(f"| {kind} | " + " / ".join(_cell(power[(kind, size)]) for size in WINDOW_SIZES) + "% |")
    print("\ncost (CPU seconds, one thread, side by side in this run):")
    print(f"  existing analyzer profile (read, decode, features, sketches, extremes): "
          f"{1000 * profile_seconds:.2f} ms per record")
    print(f"  embedding (read, decode by the model's input_fn, network): {1000 * embed_seconds[CLEAN]:.2f} ms per "
          f"record on clean photos ({1000 * statistics.mean(embed_seconds.values()):.2f} over every kind) = "
          f"{embed_seconds[CLEAN] / profile_seconds:.2f}x the profile")
    for size in WINDOW_SIZES:
        if clean[size]["fired"] is not None:
            seconds = clean[size]["seconds"]
            print(f"  MMD test, window of {size}: {1000 * seconds:.0f} ms ({1000 * seconds / size:.2f} ms per record)")
    print(f"  analyzer.py on a window of {COST_WINDOW} (wall s, CPU s): " +
          ", ".join(f"{name} {wall:.1f} / {cpu:.1f}" for name, (wall, cpu) in entry.items()))
    print(f"\nembedding benchmark took {time.perf_counter() - started:.0f} s "
          f"({'reused' if world.reused else 'built'} the world)")
    print(json.dumps({"clean": {str(k): v for k, v in clean.items()},
                      "power": {f"{k[0]}@{k[1]}": v for k, v in power.items()}}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
