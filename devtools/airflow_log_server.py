"""Airflow's task-log server on the local environment's bind host (``python -m devtools.airflow_log_server``).

Airflow's scheduler and triggerer start this server themselves on every interface; the local
environment starts them with ``--skip-serve-logs`` and runs the same app here, on
``local.bind_host`` (127.0.0.1 unless opened on purpose).
"""

from __future__ import annotations

import argparse


def loopback_hostname() -> str:
    """Airflow's ``[core] hostname_callable`` locally: the API server fetches running tasks' logs from here."""
    return "127.0.0.1"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)

    import uvicorn
    from airflow.configuration import conf

    uvicorn.run(
        "airflow.utils.serve_logs.log_server:get_app", factory=True, host=args.host, port=args.port,
        log_level=conf.get("logging", "uvicorn_logging_level", fallback="info").lower(),
        log_config=None, access_log=False,
    )


if __name__ == "__main__":
    main()
