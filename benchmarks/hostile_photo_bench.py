"""Peak memory of the model server for hostile photos: how far each one lifts the server above idle.

For each photo a fresh server is started with the real handler (an untrained VehicleNet) deployed; its
peak RSS is reset to the idle RSS (``/proc/PID/clear_refs``), the photo is sent once over raw HTTP
(``POST /invocations``), and the new peak minus the idle RSS is the photo's rise (target: 300 MB at most
for any accepted photo). Every photo fits the 6 MiB payload limit: what costs memory is the declared size
and mode, not the bytes sent. With ``--previous COMMIT`` the same photos go to that commit's server and
handler too (from a temporary ``git worktree``, removed afterwards).

    nice -n 10 .venv/bin/python benchmarks/hostile_photo_bench.py [--previous ef08ef3]
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import struct
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from benchmarks.serving_support import (  # noqa: E402
    ENDPOINT,
    build_untrained_artifact,
    previous_tree,
    start_model_server,
    stop,
)
from include.runtime.local.model_server_control import deploy_model  # noqa: E402

MAX_SQUARE = 6324  # 6324 x 6324 = 39,992,976 pixels, just under the 40 MP limit


def encoded(image, image_format: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def solid(mode: str, width: int, height: int, colour) -> bytes:
    from PIL import Image

    return encoded(Image.new(mode, (width, height), colour))


def sixteen_bit_png(width: int, height: int, colour_type: int) -> bytes:
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour_type]
    row = b"\x00" + struct.pack(f">{channels}H", *([40000] * channels)) * width
    compressor, parts = zlib.compressobj(9), []
    for _ in range(height):
        parts.append(compressor.compress(row))
    parts.append(compressor.flush())

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


def palette_png(side: int) -> bytes:
    from PIL import Image

    image = Image.new("P", (side, side), 1)
    image.putpalette([0, 0, 0, 20, 90, 200])
    return encoded(image, transparency=0)


def jpeg(side: int) -> bytes:
    from PIL import Image

    return encoded(Image.new("RGB", (side, side), (20, 90, 200)), "JPEG", quality=90)


PHOTOS: dict[str, Callable[[], bytes]] = {
    "8x4000000 RGB PNG (thin)": lambda: solid("RGB", 8, 4_000_000, (20, 90, 200)),
    "16x2000000 RGB PNG (thin)": lambda: solid("RGB", 16, 2_000_000, (20, 90, 200)),
    "16384x820 RGB PNG (thinnest accepted)": lambda: solid("RGB", 16384, 820, (20, 90, 200)),
    f"{MAX_SQUARE}x{MAX_SQUARE} RGB PNG": lambda: solid("RGB", MAX_SQUARE, MAX_SQUARE, (20, 90, 200)),
    f"{MAX_SQUARE}x{MAX_SQUARE} RGBA PNG": lambda: solid("RGBA", MAX_SQUARE, MAX_SQUARE, (20, 90, 200, 100)),
    f"{MAX_SQUARE}x{MAX_SQUARE} 16-bit grey PNG": lambda: sixteen_bit_png(MAX_SQUARE, MAX_SQUARE, 0),
    f"{MAX_SQUARE}x{MAX_SQUARE} 16-bit RGBA PNG": lambda: sixteen_bit_png(MAX_SQUARE, MAX_SQUARE, 6),
    f"{MAX_SQUARE}x{MAX_SQUARE} palette PNG, transparency": lambda: palette_png(MAX_SQUARE),
    f"{MAX_SQUARE}x{MAX_SQUARE} RGB JPEG": lambda: jpeg(MAX_SQUARE),
}


def memory_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def send(url: str, photo: bytes, timeout: float) -> tuple[int, str, float]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    started = time.perf_counter()
    try:
        connection.request("POST", "/invocations", body=photo, headers={"Content-Type": "image/png"
                                                                        if photo.startswith(b"\x89PNG")
                                                                        else "image/jpeg"})
        response = connection.getresponse()
        body = response.read().decode("utf-8", "replace")
        status = response.status
    except (TimeoutError, ConnectionError) as error:
        status, body = 0, f"{type(error).__name__}: {error}"
    finally:
        connection.close()
    seconds = time.perf_counter() - started
    message = body if status == 200 else (json.loads(body).get("message", body) if body.startswith("{") else body)
    return status, message, seconds


def measure(name: str, tree: Path, scratch: Path, photos: dict[str, bytes], timeout: float) -> list[dict]:
    """Each photo against a fresh server (so no photo inherits memory another left in the allocator)."""
    artifact = build_untrained_artifact(scratch / f"{name}-artifact", tree=tree)
    rows = []
    for index, (label, photo) in enumerate(photos.items()):
        server = start_model_server(name, tree, scratch / f"{name}-state-{index}")
        try:
            deploy_model(server.url, ENDPOINT, artifact)
            time.sleep(0.5)
            reset_peak(server.pid)
            idle, _ = memory_mib(server.pid)
            status, message, seconds = send(server.url, photo, timeout)
            _, peak = memory_mib(server.pid)
        finally:
            stop(server)
        rows.append({"server": name, "photo": label, "bytes": len(photo), "status": status,
                     "seconds": round(seconds, 3), "idle_mib": round(idle, 1), "rise_mib": round(peak - idle, 1),
                     "answer": message[:110]})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--previous", help="commit of a previous server and handler to compare with")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for each answer")
    args = parser.parse_args()
    photos = {label: make() for label, make in PHOTOS.items()}
    rows = []
    with tempfile.TemporaryDirectory(prefix="hostile-photo-bench-") as scratch_name:
        scratch = Path(scratch_name)
        rows += measure("new", PROJECT_ROOT, scratch, photos, args.timeout)
        with previous_tree(args.previous) as old:
            if old is not None:
                rows += measure("old", old, scratch, photos, args.timeout)
    print(f"{'server':<6} {'photo':<44} {'bytes':>9} {'status':>6} {'seconds':>8} {'rise MiB':>9}  answer")
    for row in rows:
        print(f"{row['server']:<6} {row['photo']:<44} {row['bytes']:>9} {row['status']:>6} {row['seconds']:>8.3f} "
              f"{row['rise_mib']:>9.1f}  {row['answer']}")
    idle = {name: sorted(row["idle_mib"] for row in rows if row["server"] == name) for name in ("new", "old")}
    print(f"idle RSS after deploy (MiB, min-max): { {k: (v[0], v[-1]) for k, v in idle.items() if v} }; "
          f"cpu count {os.cpu_count()}")
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
