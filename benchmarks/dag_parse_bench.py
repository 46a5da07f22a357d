"""Parse time of each DAG file beyond the bare Airflow import: median of fresh-process imports."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "5"))

PROBE = """
import importlib.util, json, sys, time
t0 = time.perf_counter()
import airflow, airflow.sdk
t1 = time.perf_counter()
spec = importlib.util.spec_from_file_location("bench_dag", sys.argv[1])
spec.loader.exec_module(importlib.util.module_from_spec(spec))
t2 = time.perf_counter()
print(json.dumps({"airflow": t1 - t0, "dag": t2 - t1}))
"""


def measure(dag_file: Path, runtime: str) -> tuple[float, float]:
    samples = []
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "AIRFLOW_HOME": home, "SCONES_RUNTIME": runtime}
        for _ in range(SAMPLES):
            out = subprocess.run([sys.executable, "-c", PROBE, str(dag_file)], env=env, capture_output=True,
                                 text=True, check=True).stdout
            samples.append(json.loads(out.strip().splitlines()[-1]))
    return (statistics.median(s["airflow"] for s in samples), statistics.median(s["dag"] for s in samples))


def main() -> None:
    print(f"DAG parse time beyond `import airflow, airflow.sdk` (median of {SAMPLES} fresh processes)")
    print(f"{'dag file':28} {'runtime':8} {'airflow import':>15} {'dag file':>10}")
    for dag_file in sorted((PROJECT_ROOT / "dags").glob("*.py")):
        for runtime in ("local", "aws"):
            airflow_s, dag_s = measure(dag_file, runtime)
            flag = "" if dag_s < 0.5 else "  OVER 0.5 s TARGET"
            print(f"{dag_file.name:28} {runtime:8} {airflow_s:14.3f}s {dag_s:9.3f}s{flag}")


if __name__ == "__main__":
    main()
