"""Drift analyzer throughput against the decode floor, on one core and on all of them, and its peak memory.

Writes a capture window of small PNG requests (32x32 to 64x64, a few dozen distinct images
reused) and baselines 5k records. Then, side by side in one run:

- the decode floor: base64 + PIL decode + the model's resize of the same records, in this process,
  in records per CPU-second (what any analyzer of these images must at least spend);
- the analyzer as a subprocess (the Processing job's command) with one worker: records per
  CPU-second, and its ratio to the floor;
- the analyzer with every CPU: records per wall-second, and its ratio to the floor's single-core
  rate; peak RSS of the process tree (``ru_maxrss`` from ``wait4``).

    nice -n 10 .venv/bin/python benchmarks/analyzer_bench.py [--records 100000]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image

ANALYZER = Path(__file__).resolve().parents[1] / "programs" / "monitor" / "analyzer.py"
sys.path.insert(0, str(ANALYZER.parent))

from features import model_view  # noqa: E402  (the analyzer's own resize)

START = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)


def _image_pool(count: int = 32) -> list[str]:
    """Base64 PNGs: gradients with noise, sides from 32 to 64 pixels."""
    rng = np.random.default_rng(0)
    pool = []
    for index in range(count):
        side = 32 + (index * 32) // count
        gradient = np.linspace(40 + index * 4, 200, side)[None, :, None]
        pixels = np.clip(gradient + rng.normal(0, 12, (side, side, 3)), 0, 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels, "RGB").save(buffer, format="PNG")
        pool.append(base64.b64encode(buffer.getvalue()).decode())
    return pool


def write_window(root: Path, records: int, seed: int, hours: int = 24) -> None:
    """``records`` capture lines spread evenly over ``hours`` hour folders."""
    rng = random.Random(seed)
    pool = _image_pool()
    step = hours * 3600 / records
    handles: dict[str, object] = {}
    for index in range(records):
        when = START + timedelta(seconds=index * step)
        folder = root / "scones-endpoint" / "AllTraffic" / when.strftime("%Y/%m/%d/%H")
        key = str(folder)
        if key not in handles:
            folder.mkdir(parents=True, exist_ok=True)
            handles[key] = (folder / "capture.jsonl").open("w")
        confidence = rng.uniform(0.5, 1.0)
        probabilities = [confidence, 1 - confidence] if rng.random() < 0.5 else [1 - confidence, confidence]
        record = {
            "captureData": {
                "endpointInput": {
                    "observedContentType": "image/png",
                    "mode": "INPUT",
                    "data": rng.choice(pool),
                    "encoding": "BASE64",
                },
                "endpointOutput": {
                    "observedContentType": "application/json",
                    "mode": "OUTPUT",
                    "data": json.dumps(probabilities),
                    "encoding": "JSON",
                },
            },
            "eventMetadata": {"eventId": f"{index:08d}", "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%SZ")},
            "eventVersion": "0",
        }
        handles[key].write(json.dumps(record) + "\n")  # type: ignore[attr-defined]
    for handle in handles.values():
        handle.close()  # type: ignore[attr-defined]


def decode_floor(window: Path) -> tuple[int, float]:
    """Records and CPU seconds to base64-decode, PIL-decode and resize every request image of the window."""
    records = 0
    started = time.process_time()
    for path in sorted(window.rglob("*.jsonl")):
        with path.open("rb") as handle:
            for line in handle:
                start = line.index(b'"data": "') + 9
                body = base64.b64decode(line[start:line.index(b'"', start)])
                with Image.open(io.BytesIO(body)) as image:
                    model_view(image)
                records += 1
    return records, time.process_time() - started


def run_analyzer(root: Path, workers: int) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (with its workers) and peak RSS MB of one analyzer run."""
    baseline = root / "baseline"
    command = [
        sys.executable, str(ANALYZER), "--dataset-source", str(root / "window"),
        "--output-path", str(root / f"result-{workers}"), "--workers", str(workers),
        "--baseline-statistics", str(baseline / "statistics.json"),
        "--baseline-constraints", str(baseline / "constraints.json"),
    ]
    log = root / f"analyzer-{workers}.log"
    started = time.perf_counter()
    with log.open("w") as output:
        child = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                 env={**os.environ, "SCONES_MESSAGE_PATH": str(root / "message")})
        _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(log.read_text())
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix="analyzer-bench-") as work:
        root = Path(work)
        write_window(root / "validation", 5_000, seed=1)
        write_window(root / "window", args.records, seed=2)
        size_mb = sum(p.stat().st_size for p in (root / "window").rglob("*.jsonl")) / 1e6
        subprocess.run(
            [sys.executable, str(ANALYZER), "--mode", "baseline", "--dataset-source", str(root / "validation"),
             "--output-path", str(root / "baseline")],
            check=True, capture_output=True, env={**os.environ, "SCONES_MESSAGE_PATH": str(root / "message")},
        )
        records, floor_cpu = decode_floor(root / "window")
        one_wall, one_cpu, one_rss = run_analyzer(root, 1)
        all_wall, all_cpu, all_rss = run_analyzer(root, cores)
        statistics_kb = (root / f"result-{cores}" / "statistics.json").stat().st_size / 1e3
        load = os.getloadavg()[0]
    floor = records / floor_cpu
    print(f"analyzer window: {records} records, {size_mb:.0f} MB of capture JSONL; {cores} cores, "
          f"load average {load:.1f}")
    print(f"decode floor (base64 + PIL decode + resize, one process): {floor:,.0f} records per CPU second")
    print(f"analyzer, 1 worker: {records / one_cpu:,.0f} records per CPU second = {records / one_cpu / floor:.2f}x "
          f"the floor; {records / one_wall:,.0f} records/s wall ({one_wall:.1f} s); peak RSS {one_rss:.0f} MB")
    print(f"analyzer, {cores} workers: {records / all_wall:,.0f} records/s wall ({all_wall:.1f} s) = "
          f"{records / all_wall / floor:.2f}x the floor's single-core rate, {one_wall / all_wall:.2f}x its own "
          f"1-worker wall time; {all_cpu:.1f} CPU s; peak RSS {all_rss:.0f} MB")
    print(f"statistics.json size: {statistics_kb:.0f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
