"""The local model server side by side: compute floor, null server, this server and (optionally) a previous one.

One run measures, interleaved so load on the machine hits every column alike, for a 32x32 and a 256x256
noisy PNG and with Data Capture off and on:

- **floor**: the handler's ``input_fn`` + ``predict_fn`` + ``output_fn`` in this process, no HTTP;
- **null**: ``null_model_server.py``, the same Starlette/uvicorn stack answering a constant (what HTTP and
  boto3 alone cost);
- **new**: this tree's server; **old**: the server of ``--previous COMMIT``, run from a temporary
  ``git worktree`` of that commit (removed afterwards), serving the same model.tar.gz.

Each figure is the median over ``--runs`` runs (default 5) of: raw HTTP p50 (one persistent connection,
``POST /invocations``) and boto3 ``invoke_endpoint`` p50, the requests of all columns interleaved in blocks
of 20 (so load on the machine hits each alike), with each server's CPU milliseconds per request meanwhile
(and the handler's own CPU time per call in this process); then requests/s of 8 client processes on raw
HTTP, one server after another, with the server's CPU per request meanwhile. CPU per request is the
figure other load on the machine distorts least.
The model is an untrained VehicleNet of the production shape (``--model-data`` for a trained one).
Then, once per server, how long a malformed request waits for its answer.

    nice -n 10 .venv/bin/python benchmarks/model_server_bench.py [--previous ef08ef3] [--runs 5]
"""

from __future__ import annotations

import argparse
import functools
import http.client
import json
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from benchmarks.serving_support import (  # noqa: E402
    ENDPOINT,
    Server,
    build_untrained_artifact,
    photo_png,
    previous_tree,
    start_model_server,
    start_null_server,
    stop,
)
from include.runtime.local.model_server_control import deploy_model  # noqa: E402

SIDES = (32, 256)
BLOCK = 20


# --- clients -----------------------------------------------------------------------------------


def raw_connection(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.connect()
    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def raw_call(url: str, body: bytes) -> Callable[[], None]:
    """One ``POST /invocations`` per call, on a persistent connection (reopened if the server closed it idle)."""
    connection = [raw_connection(url)]
    headers = {"Content-Type": "image/png", "Accept": "application/json"}

    def call() -> None:
        try:
            connection[0].request("POST", "/invocations", body=body, headers=headers)
            response = connection[0].getresponse()
        except (ConnectionError, http.client.RemoteDisconnected):
            connection[0].close()
            connection[0] = raw_connection(url)
            connection[0].request("POST", "/invocations", body=body, headers=headers)
            response = connection[0].getresponse()
        response.read()
        assert response.status == 200, response.status

    return call


def runtime_client(url: str):
    import boto3
    from botocore.config import Config

    return boto3.client("sagemaker-runtime", endpoint_url=url, region_name="us-east-1", aws_access_key_id="bench",
                        aws_secret_access_key="bench", config=Config(retries={"max_attempts": 1}))


def boto3_call(url: str, body: bytes) -> Callable[[], None]:
    """One ``invoke_endpoint`` per call, with one client (and its connection pool)."""
    client = runtime_client(url)

    def call() -> None:
        client.invoke_endpoint(EndpointName=ENDPOINT, ContentType="image/png", Body=body)["Body"].read()

    return call


def interleaved_latencies(streams: dict[tuple, Callable[[], None]], rounds: int, block: int = BLOCK,
                          ) -> dict[tuple, list[float]]:
    """``block`` calls of each stream in turn, ``rounds`` times, the order rotated every round: every stream
    sees the same load on the machine, and a server stays awake within a block (waking a sleeping process
    on a busy machine costs milliseconds that are the scheduler's, not the server's)."""
    names = list(streams)
    latencies: dict[tuple, list[float]] = {name: [] for name in names}
    for index in range(rounds):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            for _ in range(block):
                started = time.perf_counter()
                streams[name]()
                latencies[name].append(time.perf_counter() - started)
    return latencies


def throughput_client(url: str, body: bytes, start_at: float, seconds: float) -> int:
    """Requests completed between ``start_at`` and ``start_at + seconds`` (wall clock) on one connection."""
    connection = raw_connection(url)
    headers = {"Content-Type": "image/png"}
    while time.time() < start_at:
        time.sleep(0.001)
    done, deadline = 0, start_at + seconds
    while time.time() < deadline:
        connection.request("POST", "/invocations", body=body, headers=headers)
        connection.getresponse().read()
        done += 1
    connection.close()
    return done


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def throughput(pool: ProcessPoolExecutor, server: Server, body: bytes, clients: int, seconds: float,
               ) -> tuple[float, float]:
    """(requests/s of ``clients`` processes, the server's CPU milliseconds per request meanwhile)."""
    start_at = time.time() + 0.5
    futures = [pool.submit(throughput_client, server.url, body, start_at, seconds) for _ in range(clients)]
    while time.time() < start_at:
        time.sleep(0.001)
    cpu_before = cpu_seconds(server.pid)
    requests = sum(future.result() for future in futures)
    return requests / seconds, (cpu_seconds(server.pid) - cpu_before) * 1000 / max(requests, 1)


def answer_time(url: str, request: bytes, timeout: float) -> tuple[float, str]:
    """Seconds until the final (non-1xx) answer to ``request`` begins, and its status line."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as connection:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        started, received = time.perf_counter(), b""
        connection.sendall(request)
        try:
            while True:
                chunk = connection.recv(4096)
                if not chunk:
                    return time.perf_counter() - started, "connection closed"
                received += chunk
                while received.startswith(b"HTTP/1.1 100") and b"\r\n\r\n" in received:
                    received = received.split(b"\r\n\r\n", 1)[1]
                if b"\r\n" in received:
                    return time.perf_counter() - started, received.split(b"\r\n", 1)[0].decode("latin-1")
        except TimeoutError:
            return time.perf_counter() - started, f"no answer within {timeout:.0f} s"
        except ConnectionResetError:
            return time.perf_counter() - started, "connection reset"


MALFORMED = {
    "Content-Length: -1": b"Content-Length: -1\r\n",
    "Content-Length: abc": b"Content-Length: abc\r\n",
    "no Content-Length": b"",
    "7 MiB declared, Expect: 100-continue": b"Content-Length: 7340032\r\nExpect: 100-continue\r\n",
}


def malformed_request(headers: bytes) -> bytes:
    return b"POST /invocations HTTP/1.1\r\nHost: bench\r\nContent-Type: image/png\r\n" + headers + b"\r\n"


# --- the run -----------------------------------------------------------------------------------


def floor_call(artifact: Path, scratch: Path, bodies: dict[int, bytes],
               cpu_spent: dict[int, list[float]]) -> Callable[[int], None]:
    """One in-process handler call per call (input_fn, predict_fn, output_fn), the model loaded once; the
    CPU time of each call is appended to ``cpu_spent[side]``."""
    from include.runtime.local.model_handler import load_model_version, smoke_png

    handler = load_model_version(artifact, scratch / "floor-model", smoke_png(), "image/png")

    def call(side: int) -> None:
        started = time.thread_time()
        handler.invoke(bodies[side], "image/png", "application/json")
        cpu_spent.setdefault(side, []).append(time.thread_time() - started)

    return call


def p50_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--previous", help="commit of a previous server to compare with, e.g. ef08ef3")
    parser.add_argument("--model-data", type=Path, help="a trained model.tar.gz (default: untrained VehicleNet)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200, help="sequential requests per latency figure")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each throughput window")
    args = parser.parse_args()

    bodies = {side: photo_png(side) for side in SIDES}
    results: dict[tuple, list[float]] = {}

    def record(key: tuple, value: float) -> None:
        results.setdefault(key, []).append(value)

    pool = ProcessPoolExecutor(max_workers=args.clients, mp_context=multiprocessing.get_context("spawn"))
    with tempfile.TemporaryDirectory(prefix="model-server-bench-") as scratch_name, previous_tree(args.previous) as old:
        scratch = Path(scratch_name)
        artifact = args.model_data or build_untrained_artifact(scratch / "artifact")
        floor_cpu: dict[int, list[float]] = {}
        floor = floor_call(artifact, scratch, bodies, floor_cpu)
        servers = [start_null_server(scratch / "null"), start_model_server("new", PROJECT_ROOT, scratch / "new")]
        if old is not None:
            servers.append(start_model_server("old", old, scratch / "old"))
        try:
            list(pool.map(int, range(args.clients)))  # spawn the client processes before timing anything
            for run in range(args.runs):
                for capture in (False, True):
                    for server in servers[1:]:
                        capture_config = {"destination": str(scratch / "capture" / server.name)} if capture else None
                        deploy_model(server.url, ENDPOINT, artifact, capture=capture_config)
                    time.sleep(2.0)  # let the servers settle after loading the model
                    for side in SIDES:
                        body = bodies[side]
                        streams: dict[tuple, Callable[[], None]] = {("floor", "raw"): functools.partial(floor, side)}
                        for server in servers:
                            streams[(server.name, "raw")] = raw_call(server.url, body)
                            streams[(server.name, "boto3")] = boto3_call(server.url, body)
                        interleaved_latencies(streams, 1)
                        rounds = max(1, args.requests // BLOCK)
                        floor_cpu.pop(side, None)
                        cpu_before = {server.name: cpu_seconds(server.pid) for server in servers}
                        measured = interleaved_latencies(streams, rounds)
                        for server in servers:
                            if server.name != "null" or not capture:
                                column = None if server.name == "null" else capture
                                spent = cpu_seconds(server.pid) - cpu_before[server.name]
                                record((server.name, side, column, "latency cpu"), spent * 1000 / (2 * rounds * BLOCK))
                        if not capture:
                            record(("floor", side, None, "latency cpu"), statistics.mean(floor_cpu[side]) * 1000)
                        for (name, kind), latencies in measured.items():
                            if name in ("floor", "null") and capture:
                                continue  # neither has capture: one figure each, from the capture-off pass
                            column = None if name in ("floor", "null") else capture
                            record((name, side, column, kind), p50_ms(latencies))
                        shift = run % len(servers)
                        for server in servers[shift:] + servers[:shift]:
                            if server.name == "null" and capture:
                                continue
                            rps, cpu_ms = throughput(pool, server, body, args.clients, args.seconds)
                            key = (server.name, side, None if server.name == "null" else capture)
                            record((*key, "rps"), rps)
                            record((*key, "cpu"), cpu_ms)
                print(f"run {run + 1}/{args.runs} done (load average {os.getloadavg()[0]:.1f})", flush=True)
            malformed = {server.name: {label: answer_time(server.url, malformed_request(headers), 35.0)
                                       for label, headers in MALFORMED.items()}
                         for server in servers if server.name != "null"}
        finally:
            for server in servers:
                stop(server)
            pool.shutdown()

    medians = {key: statistics.median(values) for key, values in results.items()}
    print(f"\nmedian of {args.runs} runs; p50 in ms of {args.requests} interleaved requests; requests/s of "
          f"{args.clients} raw-HTTP clients for {args.seconds:g} s; cpu count {os.cpu_count()}")
    print(f"{'server':<6} {'png':>7} {'capture':>7} {'raw p50':>8} {'boto3 p50':>9} {'cpu ms/req':>10} "
          f"{'req/s':>7} {'cpu ms/req':>10}")
    names = ["floor", "null", "new"] + (["old"] if args.previous else [])
    for side in SIDES:
        for name in names:
            for capture in ([None] if name in ("floor", "null") else [False, True]):
                raw = medians.get((name, side, capture, "raw"))
                boto = medians.get((name, side, capture, "boto3"))
                rps = medians.get((name, side, capture, "rps"))
                cpu_ms = medians.get((name, side, capture, "cpu"))
                latency_cpu = medians.get((name, side, capture, "latency cpu"))
                cells = [f"{raw:8.2f}" if raw is not None else f"{'':8}",
                         f"{boto:9.2f}" if boto is not None else f"{'':9}",
                         f"{latency_cpu:10.2f}" if latency_cpu is not None else f"{'':10}",
                         f"{rps:7.0f}" if rps is not None else f"{'':7}",
                         f"{cpu_ms:10.2f}" if cpu_ms is not None else f"{'':10}"]
                label = "-" if capture is None else ("on" if capture else "off")
                print(f"{name:<6} {side:>3}x{side:<3} {label:>7} {' '.join(cells)}")
    print("\ngoals (new server):")
    for side in SIDES:
        floor_p50, null_boto = medians[("floor", side, None, "raw")], medians[("null", side, None, "boto3")]
        for capture in (False, True):
            raw, boto = medians[("new", side, capture, "raw")], medians[("new", side, capture, "boto3")]
            line = (f"  {side}x{side} capture {'on ' if capture else 'off'}: raw {raw:.2f} ms vs floor+1 "
                    f"{floor_p50 + 1:.2f} ({'met' if raw <= floor_p50 + 1 else 'MISSED'}); boto3 {boto:.2f} ms vs "
                    f"floor+null boto3+1 {floor_p50 + null_boto + 1:.2f} "
                    f"({'met' if boto <= floor_p50 + null_boto + 1 else 'MISSED'})")
            new_cpu = medians[("new", side, capture, "latency cpu")]
            floor_cpu_ms = medians[("floor", side, None, "latency cpu")]
            line += f"; server CPU per request {new_cpu:.2f} ms vs the handler's {floor_cpu_ms:.2f} ms"
            if args.previous:
                new_rps, old_rps = medians[("new", side, capture, "rps")], medians[("old", side, capture, "rps")]
                line += (f"; {args.clients}-client req/s {new_rps:.0f} vs old {old_rps:.0f} "
                         f"(x{new_rps / old_rps:.2f}, {'met' if new_rps >= old_rps else 'MISSED'})")
            print(line)
    print("\nmalformed requests (time to the answer's first byte):")
    for name, answers in malformed.items():
        for label, (seconds, status) in answers.items():
            print(f"  {name:<4} {label:<40} {seconds * 1000:9.1f} ms  {status}")
    malformed_ms = {name: {label: [round(seconds * 1000, 1), status] for label, (seconds, status) in answers.items()}
                    for name, answers in malformed.items()}
    print(json.dumps({"medians": {"|".join(map(str, key)): round(value, 3) for key, value in medians.items()},
                      "malformed": malformed_ms}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
