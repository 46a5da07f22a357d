"""Run every benchmark in turn and print its figures (``make benchmarks``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["dag_parse_bench.py", "ingest_bench.py", "training_bench.py", "model_server_bench.py",
              "analyzer_bench.py", "drift_bench.py", "inference_scale_bench.py", "arrival_latency_bench.py",
              "hostile_photo_bench.py", "local_execution_bench.py", "demo_bench.py", "recovery_bench.py",
              "review_order_bench.py"]


def main() -> int:
    failures = 0
    for name in BENCHMARKS:
        path = HERE / name
        if not path.exists():
            continue
        print(f"\n=== {name} ===", flush=True)
        failures += subprocess.run([sys.executable, str(path), *sys.argv[1:]]).returncode != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
