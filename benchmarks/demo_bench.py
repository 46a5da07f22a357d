"""The offline demo, timed, with the peak memory of its whole process tree.

Runs ``python -m devtools.cli demo`` in a temporary Airflow home and data root on free ports and, once a
second, sums the memory of every process of the local environment: the CLI that owns it, and every
process carrying the home's marker (Airflow's components, executor workers, task processes, the jobs
they run, the model server). RSS counts pages shared between forked processes once per process; PSS
splits them between their sharers, so the summed PSS is what the demo really occupies. Prints wall
time, peak summed PSS and RSS, peak process count, and the demo step running at the PSS peak.

    nice -n 10 .venv/bin/python benchmarks/demo_bench.py [--scale small]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

import psutil  # noqa: E402

from devtools.local_airflow import available_cpus, free_port  # noqa: E402
from devtools.processes import processes_of  # noqa: E402

MIB = 1024 * 1024


@dataclass
class Peak:
    pss: int = 0
    rss: int = 0
    processes: int = 0
    step_at_pss_peak: str = ""
    samples: int = 0
    output: list[str] = field(default_factory=list)


def tree_memory(owner: int, home: Path) -> tuple[int, int, int]:
    """Summed PSS and RSS (bytes) and the count of the owner and every process of the home."""
    pss = rss = count = 0
    for pid in {owner, *processes_of(home)}:
        try:
            info = psutil.Process(pid).memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        pss, rss, count = pss + info.pss, rss + info.rss, count + 1
    return pss, rss, count


def follow(process: subprocess.Popen, peak: Peak) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        peak.output.append(line.rstrip("\n"))
        print(line, end="", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", choices=["default", "small"], default="default",
                        help="small: the end-to-end test's scale (a quick check of the benchmark itself)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="demo-bench-") as scratch:
        home, data = Path(scratch) / "airflow", Path(scratch) / "data"
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "SCONES_DATA_ROOT": str(data),
               "SCONES_DEPLOY__LOCAL_SERVER_PORT": str(free_port())}
        command = [sys.executable, "-m", "devtools.cli", "demo", "--home", str(home), "--port", str(free_port())]
        if args.scale == "small":
            command = [sys.executable, "-c", SMALL_DEMO, str(home), str(free_port())]
        started = time.monotonic()
        process = subprocess.Popen(command, env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        peak = Peak()
        reader = threading.Thread(target=follow, args=(process, peak), daemon=True)
        reader.start()
        while process.poll() is None:
            pss, rss, count = tree_memory(process.pid, home)
            peak.samples += 1
            if pss > peak.pss:
                peak.pss, peak.step_at_pss_peak = pss, (peak.output[-1] if peak.output else "")
            peak.rss, peak.processes = max(peak.rss, rss), max(peak.processes, count)
            time.sleep(1)
        reader.join(10)
        wall = time.monotonic() - started
    print(f"\nmachine: {platform.machine()}, {available_cpus()} CPUs, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GiB, load average {os.getloadavg()[0]:.1f} at the end; "
          f"Python {platform.python_version()}")
    print(f"demo ({args.scale} scale): exit code {process.returncode}, wall time {wall / 60:.1f} min ({wall:.0f} s)")
    print(f"peak memory of the whole process tree: PSS {peak.pss / MIB:,.0f} MiB, RSS {peak.rss / MIB:,.0f} MiB "
          f"(summed), {peak.processes} processes at most; {peak.samples} samples, 1 s apart")
    print(f"step running at the PSS peak: {peak.step_at_pss_peak}")
    return process.returncode


SMALL_DEMO = """
import sys
from pathlib import Path
from devtools.demo import DemoScale, run_demo
from devtools.processes import stop_on_signals
small = DemoScale(train_per_class=120, test_per_class=40, epochs=3, normal_photos=6, drifted_photos=10,
                  extra_labelled_drifted=40, held_out_drifted=30, min_accuracy=0.5)
with stop_on_signals():
    run_demo(scale=small, home=Path(sys.argv[1]), port=int(sys.argv[2]))
"""


if __name__ == "__main__":
    sys.exit(main())
