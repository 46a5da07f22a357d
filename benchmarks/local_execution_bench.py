"""What a local state machine execution costs beyond its three Lambda handlers (target: under 5 ms p50).

Runs the inference execution the local runtime runs (``inference_flow.run_inference_execution``: the ASL
file, the interpreter, the handlers' environment) for a 32x32 photo (inlined in the state) and a 256x256
one (over the inline limit: passed by S3 reference), against the local S3 endpoint and a model server with
an untrained VehicleNet. Each handler is timed where the
interpreter calls it; the execution's overhead is its wall time minus the three handlers'. Also printed:
what the per-task S3 endpoint costs to start and stop, and GetObject latency with Nagle's algorithm off
(as served) and on (as it was), side by side. Figures are medians of ``--runs`` runs of ``--executions``.

    nice -n 10 .venv/bin/python benchmarks/local_execution_bench.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from benchmarks.serving_support import build_untrained_artifact, photo_png, start_model_server, stop  # noqa: E402
from include.runtime.local import inference_flow  # noqa: E402
from include.runtime.local.model_server_control import deploy_model  # noqa: E402
from include.runtime.local.s3_server import S3RequestHandler, start_s3_server, stop_s3_server  # noqa: E402
from include.settings import load_settings  # noqa: E402

PHOTO_KEYS = {side: f"incoming/photos/2026/01/01/00/bench-{side}.png" for side in (32, 256)}


def timed_resources(resources: dict[str, Callable], spent: list[float]) -> dict[str, Callable]:
    def timed(handler: Callable) -> Callable:
        def call(event: Any, context: Any) -> Any:
            started = time.perf_counter()
            try:
                return handler(event, context)
            finally:
                spent.append(time.perf_counter() - started)
        return call

    return {arn: timed(handler) for arn, handler in resources.items()}


def executions(settings, key: str, s3_url: str, runtime_url: str, count: int, run: int,
               ) -> tuple[list[float], list[float]]:
    """(wall seconds, handler seconds) of ``count`` executions."""
    definition, resources = inference_flow.definition_and_resources(settings)
    walls, handlers = [], []
    for index in range(count):
        spent: list[float] = []
        with mock.patch.object(inference_flow, "definition_and_resources",
                               return_value=(definition, timed_resources(resources, spent))):
            started = time.perf_counter()
            outcome = inference_flow.run_inference_execution(
                settings, f"bench-{Path(key).stem}-{run}-{index}", {"s3_bucket": settings.bucket, "s3_key": key},
                s3_url=s3_url, runtime_url=runtime_url)
            walls.append(time.perf_counter() - started)
        assert outcome["status"] == "SUCCEEDED", outcome
        assert len(spent) == 3, spent
        handlers.append(sum(spent))
    return walls, handlers


def get_object_latencies(s3_url: str, bucket: str, key: str, count: int) -> list[float]:
    import boto3

    client = boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1", aws_access_key_id="bench",
                          aws_secret_access_key="bench")
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        client.get_object(Bucket=bucket, Key=key)["Body"].read()
        latencies.append(time.perf_counter() - started)
    return latencies


def start_stop_seconds(data_root: Path, count: int) -> list[float]:
    seconds = []
    for _ in range(count):
        started = time.perf_counter()
        server, thread, _ = start_s3_server(data_root)
        stop_s3_server(server, thread)
        seconds.append(time.perf_counter() - started)
    return seconds


def ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--executions", type=int, default=100)
    args = parser.parse_args()
    figures: dict[str, list[float]] = {}

    def record(name: str, value: float) -> None:
        figures.setdefault(name, []).append(value)
    with tempfile.TemporaryDirectory(prefix="local-execution-bench-") as scratch_name:
        scratch = Path(scratch_name)
        settings = load_settings(environ={"SCONES_DATA_ROOT": str(scratch / "data"),
                                          "SCONES_CONFIDENCE_THRESHOLD": "0.5"})
        for side, key in PHOTO_KEYS.items():
            photo = settings.data_root / settings.bucket / key
            photo.parent.mkdir(parents=True, exist_ok=True)
            photo.write_bytes(photo_png(side))
        server = start_model_server("new", PROJECT_ROOT, scratch / "model-server")
        s3, thread, s3_url = start_s3_server(settings.data_root)
        try:
            deploy_model(server.url, settings.deploy.endpoint_name, build_untrained_artifact(scratch / "artifact"))
            for run in range(args.runs):
                for side, key in PHOTO_KEYS.items():
                    executions(settings, key, s3_url, server.url, 5, run=-1 - run)
                    walls, handlers = executions(settings, key, s3_url, server.url, args.executions, run)
                    record(f"{side}x{side} execution", ms(walls))
                    record(f"{side}x{side} three handlers", ms(handlers))
                    record(f"{side}x{side} overhead", ms([w - h for w, h in zip(walls, handlers, strict=True)]))
                    for nagle_off in (True, False):
                        with mock.patch.object(S3RequestHandler, "disable_nagle_algorithm", nagle_off):
                            served, served_thread, served_url = start_s3_server(settings.data_root)
                            try:
                                latencies = get_object_latencies(served_url, settings.bucket, key, 50)
                                if not nagle_off:
                                    nagle_walls, _ = executions(settings, key, served_url, server.url,
                                                               args.executions // 4, run=100 + run)
                            finally:
                                stop_s3_server(served, served_thread)
                        record(f"{side}x{side} GetObject, Nagle {'off' if nagle_off else 'on'}", ms(latencies))
                    record(f"{side}x{side} execution, S3 with Nagle on", ms(nagle_walls))
                record("S3 endpoint start+stop", ms(start_stop_seconds(settings.data_root, 20)))
                print(f"run {run + 1}/{args.runs} done (load average {os.getloadavg()[0]:.1f})", flush=True)
        finally:
            stop_s3_server(s3, thread)
            stop(server)
    print(f"\nmedian of {args.runs} runs (p50 of {args.executions} executions each), cpu count {os.cpu_count()}")
    for name, values in figures.items():
        print(f"  {name:<32} {statistics.median(values):8.2f} ms   (runs: {', '.join(f'{v:.2f}' for v in values)})")
    endpoint = statistics.median(figures["S3 endpoint start+stop"])
    for side in PHOTO_KEYS:
        overhead = statistics.median(figures[f"{side}x{side} overhead"])
        total = overhead + endpoint
        print(f"  {side}x{side}: overhead beyond the three handlers {overhead:.2f} ms p50, {total:.2f} ms with the "
              f"task's own S3 endpoint start+stop ({'met' if total < 5 else 'MISSED'}: < 5 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
