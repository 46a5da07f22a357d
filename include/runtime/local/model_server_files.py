"""Where a local model server records itself: its state folder's files, and its defaults.

``model_server.json`` (pid, host, port, url, written once the server is bound) and ``model_server.pid``
say where a server is; ``model_server.log`` is its log; ``endpoints/`` and ``models/`` hold the deployed
endpoints. Kept apart from the server so its controller imports neither Starlette nor uvicorn.
"""

from __future__ import annotations

import contextlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
STATE_FILE = "model_server.json"
PID_FILE = "model_server.pid"
LOG_FILE = "model_server.log"


def write_json_atomically(path: Path, document: Any) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(document, indent=2))
    os.replace(temporary, path)


def record_process(state_dir: Path, host: str, port: int) -> str:
    """Write this process's PID and state files; returns its URL."""
    url = f"http://{host}:{port}"
    (state_dir / PID_FILE).write_text(f"{os.getpid()}\n")
    write_json_atomically(state_dir / STATE_FILE, {
        "pid": os.getpid(), "host": host, "port": port, "url": url,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    })
    return url


def forget_process(state_dir: Path) -> None:
    """Remove the PID and state files, if they still name this process."""
    for name in (STATE_FILE, PID_FILE):
        path = state_dir / name
        with contextlib.suppress(OSError, ValueError, KeyError):
            text = path.read_text()
            pid = json.loads(text)["pid"] if name == STATE_FILE else int(text)
            if pid == os.getpid():
                path.unlink()
