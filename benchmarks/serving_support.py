"""Pieces the serving benchmarks share: an untrained model artifact, photos, server processes, a previous tree."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parents[1]

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


def build_untrained_artifact(directory: Path, architecture: str = "vehicle_net", tree: Path = PROJECT_ROOT) -> Path:
    """A model.tar.gz exactly as ``tree``'s train.py lays it out, with untrained weights."""
    environment = {**os.environ, "PYTHONPATH": str(tree / "programs" / "model")}
    subprocess.run([sys.executable, "-c", BUILD_UNTRAINED_ARTIFACT, str(directory / "model"), architecture],
                   env=environment, check=True)
    return directory / "model.tar.gz"


def photo_png(side: int, seed: int = 7) -> bytes:
    """A noisy colour PNG, so decoding and resizing cost what a photo of that size would."""
    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


# --- servers -----------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    url: str
    pid: int
    process: subprocess.Popen


def wait_for_state(process: subprocess.Popen, state_file: Path, log: Path, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}; see {log}")
        with contextlib.suppress(OSError, ValueError):
            state = json.loads(state_file.read_text())
            if state.get("pid") == process.pid and health(state["url"]):
                return state
        time.sleep(0.1)
    raise RuntimeError(f"server did not come up within {timeout:.0f} s; see {log}")


def health(url: str) -> bool:
    try:
        connection = http.client.HTTPConnection(urlsplit(url).hostname, urlsplit(url).port, timeout=2)
        connection.request("GET", "/admin/health")
        return connection.getresponse().status == 200
    except OSError:
        return False


def start_model_server(name: str, tree: Path, state_dir: Path) -> Server:
    """``python -m include.runtime.local.model_server`` from ``tree`` (this one or a previous commit's)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    log = state_dir / "stdout.log"
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "include.runtime.local.model_server", "--port", "0", "--state-dir", str(state_dir)],
            cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)}, stdout=output, stderr=subprocess.STDOUT)
    state = wait_for_state(process, state_dir / "model_server.json", log)
    return Server(name, state["url"], process.pid, process)


def start_null_server(state_dir: Path) -> Server:
    state_dir.mkdir(parents=True, exist_ok=True)
    log, state_file = state_dir / "stdout.log", state_dir / "null.json"
    with log.open("ab") as output:
        process = subprocess.Popen([sys.executable, str(PROJECT_ROOT / "benchmarks" / "null_model_server.py"),
                                    str(state_file)], stdout=output, stderr=subprocess.STDOUT)
    state = wait_for_state(process, state_file, log)
    return Server("null", state["url"], process.pid, process)


def stop(server: Server) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(server.pid, signal.SIGTERM)
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=10)


@contextlib.contextmanager
def previous_tree(commit: str | None) -> Iterator[Path | None]:
    """A temporary ``git worktree`` of ``commit``, removed afterwards (None: no previous server)."""
    if not commit:
        yield None
        return
    tree = Path(tempfile.mkdtemp(prefix="scones-previous-server-"))
    tree.rmdir()
    subprocess.run(["git", "-C", str(PROJECT_ROOT), "worktree", "add", "--detach", str(tree), commit],
                   check=True, capture_output=True)
    try:
        yield tree
    finally:
        subprocess.run(["git", "-C", str(PROJECT_ROOT), "worktree", "remove", "--force", str(tree)],
                       check=False, capture_output=True)
