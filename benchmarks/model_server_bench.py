"""Benchmark the local model server: single-image latency, concurrent throughput and peak memory.

Serves the project's real handler (programs/model: an untrained VehicleNet of the production shape, or
``--model-data`` for a trained model.tar.gz) with Data Capture on, and calls it the way the Lambda does,
with boto3 ``invoke_endpoint`` over loopback. Prints p50/p99 latency of one client, requests per
second of N concurrent client processes, the server's CPU time per request (a figure other load
on the machine does not distort) and its peak RSS (VmHWM).

    .venv/bin/python benchmarks/model_server_bench.py [--clients 4] [--seconds 10]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from include.runtime.local.model_server_control import (  # noqa: E402
    _read_pid,
    deploy_model,
    ensure_server,
    stop_server,
)

ENDPOINT = "scones-bench"
BUILD_UNTRAINED_ARTIFACT = """
import sys, tarfile
from pathlib import Path
import torch
from model_artifacts import build_network, save_model

model_dir, architecture = Path(sys.argv[1]), sys.argv[2]
config = {"format_version": 1, "classes": ["bicycle", "motorcycle"], "image_size": 32, "dropout": 0.3,
          "architecture": architecture, "backbone": "scratch", "width": 2.0,
          "normalisation": {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}}
torch.manual_seed(0)
save_model(model_dir, build_network(config), config)
with tarfile.open(model_dir.parent / "model.tar.gz", "w:gz") as archive:
    for path in sorted(model_dir.rglob("*")):
        archive.add(path, arcname=str(path.relative_to(model_dir)), recursive=False)
"""


def build_untrained_artifact(directory: Path, architecture: str) -> Path:
    """A model.tar.gz exactly as train.py lays it out, with untrained weights."""
    environment = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "programs" / "model")}
    subprocess.run(
        [sys.executable, "-c", BUILD_UNTRAINED_ARTIFACT, str(directory / "model"), architecture],
        env=environment,
        check=True,
    )
    return directory / "model.tar.gz"


def photo_png(seed: int = 7, size: int = 256) -> bytes:
    """A noisy colour photo-sized PNG, so decoding and resizing cost what a courier photo would."""
    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def runtime_client(url: str):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(retries={"max_attempts": 1}, max_pool_connections=4),
    )


def timed_invocations(url: str, body: bytes, count: int | None, seconds: float | None) -> list[float]:
    """Latencies (seconds) of sequential invoke_endpoint calls, by count or for a duration."""
    client = runtime_client(url)
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds if seconds else None
    while (count is None or len(latencies) < count) and (deadline is None or time.perf_counter() < deadline):
        started = time.perf_counter()
        response = client.invoke_endpoint(EndpointName=ENDPOINT, ContentType="image/png", Body=body)
        response["Body"].read()
        latencies.append(time.perf_counter() - started)
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def peak_rss_mib(pid: int) -> tuple[float, float]:
    """(VmHWM, VmRSS) of a process in MiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmHWM"].split()[0]) / 1024, int(fields["VmRSS"].split()[0]) / 1024


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-data", type=Path, help="a trained model.tar.gz (default: untrained VehicleNet)")
    parser.add_argument("--architecture", default="vehicle_net", choices=["vehicle_net", "resnet18"])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--latency-requests", type=int, default=300)
    parser.add_argument("--no-capture", action="store_true", help="deploy without Data Capture")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="model-server-bench-") as scratch:
        scratch_dir = Path(scratch)
        state_dir = scratch_dir / "state"
        model_data = args.model_data or build_untrained_artifact(scratch_dir, args.architecture)
        url = ensure_server(state_dir, port=0)
        try:
            pid = _read_pid(state_dir)
            idle_rss, _ = peak_rss_mib(pid)
            capture = None if args.no_capture else {"destination": str(scratch_dir / "datacapture")}
            started = time.perf_counter()
            deploy_model(url, ENDPOINT, model_data, capture=capture)
            deploy_seconds = time.perf_counter() - started
            body = photo_png()
            timed_invocations(url, body, count=20, seconds=None)
            latencies = timed_invocations(url, body, count=args.latency_requests, seconds=None)
            cpu_before = cpu_seconds(pid)
            with ProcessPoolExecutor(max_workers=args.clients) as pool:
                futures = [pool.submit(timed_invocations, url, body, None, args.seconds) for _ in range(args.clients)]
                concurrent = [latency for future in futures for latency in future.result()]
            server_cpu = cpu_seconds(pid) - cpu_before
            peak_rss, current_rss = peak_rss_mib(pid)
        finally:
            stop_server(state_dir)

    figures = {
        "model": str(args.model_data) if args.model_data else f"untrained {args.architecture}",
        "request_png_bytes": len(body),
        "data_capture": not args.no_capture,
        "deploy_seconds": round(deploy_seconds, 3),
        "single_client_requests": len(latencies),
        "latency_p50_ms": round(statistics.median(latencies) * 1000, 2),
        "latency_p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        "concurrent_clients": args.clients,
        "concurrent_requests": len(concurrent),
        "throughput_rps": round(len(concurrent) / args.seconds, 1),
        "concurrent_latency_p50_ms": round(statistics.median(concurrent) * 1000, 2),
        "concurrent_latency_p99_ms": round(percentile(concurrent, 0.99) * 1000, 2),
        "server_cpu_ms_per_request": round(server_cpu * 1000 / len(concurrent), 2),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "server_idle_rss_mib": round(idle_rss, 1),
        "server_peak_rss_mib": round(peak_rss, 1),
        "server_rss_after_mib": round(current_rss, 1),
        "cpu_count": os.cpu_count(),
    }
    width = max(map(len, figures))
    for name, value in figures.items():
        print(f"{name:<{width}}  {value}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
