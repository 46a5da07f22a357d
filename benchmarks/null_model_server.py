"""A null model server: the model server's HTTP stack (Starlette on uvicorn, the same settings) and no model.

It answers ``POST /invocations`` and ``POST /endpoints/{name}/invocations`` with a constant
``[0.5,0.5]`` after reading the body, so its latency is what HTTP (and boto3, for the runtime path) cost
alone. Used by ``model_server_bench.py``; run as ``python benchmarks/null_model_server.py STATE_FILE``,
it writes ``{"pid", "url"}`` to STATE_FILE once bound and stops on SIGTERM.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

from include.runtime.local.model_server import QuietServer, bind_socket, server_config  # noqa: E402

ANSWER = b"[0.5,0.5]"


async def invocation(request: Request) -> Response:
    await request.body()
    return Response(ANSWER, 200, {"x-Amzn-Invoked-Production-Variant": "AllTraffic"}, "application/json")


async def health(request: Request) -> Response:
    return Response(json.dumps({"status": "ok", "pid": os.getpid()}), 200, media_type="application/json")


def main(state_file: Path) -> int:
    app = Starlette(routes=[
        Route("/invocations", invocation, methods=["POST"]),
        Route("/endpoints/{name}/invocations", invocation, methods=["POST"]),
        Route("/admin/health", health, methods=["GET"]),
    ])
    listener = bind_socket("127.0.0.1", 0)
    state_file.write_text(json.dumps({"pid": os.getpid(), "url": f"http://127.0.0.1:{listener.getsockname()[1]}"}))
    QuietServer(server_config(app)).run(sockets=[listener])
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
