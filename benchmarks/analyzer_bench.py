"""Drift analyzer throughput and peak memory on a 100k-record Data Capture window.

Writes a capture window of small PNG requests (32x32 to 64x64, a few dozen distinct images
reused), baselines 5k records, then runs the analyzer on the window as a subprocess and prints
records per second (wall and CPU) and the child's own peak RSS (``ru_maxrss`` from ``wait4``).

    .venv/bin/python benchmarks/analyzer_bench.py [--records 100000]
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="analyzer-bench-") as work:
        root = Path(work)
        write_window(root / "validation", 5_000, seed=1)
        write_window(root / "window", args.records, seed=2)
        size_mb = sum(p.stat().st_size for p in (root / "window").rglob("*.jsonl")) / 1e6
        baseline = root / "baseline"
        environment = {"SCONES_MESSAGE_PATH": str(root / "message")}
        subprocess.run(
            [
                sys.executable,
                str(ANALYZER),
                "--mode",
                "baseline",
                "--dataset-source",
                str(root / "validation"),
                "--output-path",
                str(baseline),
            ],
            check=True,
            capture_output=True,
            env={"SCONES_MESSAGE_PATH": str(root / "message")},
        )
        log = root / "analyzer.log"
        command = [
            sys.executable,
            str(ANALYZER),
            "--dataset-source",
            str(root / "window"),
            "--output-path",
            str(root / "result"),
            "--baseline-statistics",
            str(baseline / "statistics.json"),
            "--baseline-constraints",
            str(baseline / "constraints.json"),
        ]
        started = time.perf_counter()
        with log.open("w") as output:
            child = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=environment)
            _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            print(log.read_text(), file=sys.stderr)
            return 1
        statistics_kb = (root / "result" / "statistics.json").stat().st_size / 1e3
    print(f"analyzer window: {args.records} records, {size_mb:.0f} MB of capture JSONL")
    cpu = usage.ru_utime + usage.ru_stime
    print(f"analyzer throughput: {args.records / elapsed:,.0f} records/s wall ({elapsed:.1f} s)")
    print(f"analyzer CPU time: {cpu:.1f} s ({args.records / cpu:,.0f} records per CPU second)")
    print(f"analyzer peak RSS: {usage.ru_maxrss / 1024:.0f} MB")
    print(f"statistics.json size: {statistics_kb:.0f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
