"""Command line: ``python -m devtools.cli demo|airflow|stop|env|label``."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

from devtools.demo import DEMO_HOME, demo_environment, local_airflow, model_server_dir, say, synthetic_archive
from devtools.home_lock import AlreadyRunningError, refuse_if_running
from devtools.local_airflow import OrphanedProcessesError, PortInUseError, airflow_environment
from devtools.local_environment import expected_dag_ids, schedule_summary, stop_local_environment
from devtools.processes import MARKER, StopRequested, stop_on_signals
from include.review import LABELS
from include.settings import export_dotenv_aws_variables, get_settings

REFUSALS = (AlreadyRunningError, OrphanedProcessesError, PortInUseError)


def invoked_as(command: str) -> str:
    """How the user started this, for messages about the running owner."""
    return f"make {command}" if "MAKELEVEL" in os.environ else f"python -m devtools.cli {command}"


def airflow_settings_overrides() -> dict[str, str]:
    """The synthetic archive as the CIFAR source (unless SCONES_CIFAR__SOURCE names one); the real schedules."""
    overrides = {k: v for k, v in demo_environment(Path(), "").items() if "SCHEDULE" not in k and "EPOCHS" not in k}
    if "SCONES_CIFAR__SOURCE" in os.environ:
        return {k: v for k, v in overrides.items() if not k.startswith("SCONES_CIFAR__")}
    archive, md5 = synthetic_archive(get_settings().data_root)
    return {**overrides, "SCONES_CIFAR__SOURCE": str(archive), "SCONES_CIFAR__MD5": md5}


def run_airflow(port: int, home: Path) -> None:
    """Keep a local Airflow running with the UI until Ctrl-C, SIGTERM, SIGHUP or ``stop``."""
    settings = get_settings()
    airflow = local_airflow(settings, home, port, airflow_settings_overrides(), invoked_as("airflow"))
    say(f"starting Airflow (home {home}, component logs {airflow.log_dir}, "
        f"{airflow.sizing.parallelism} tasks at once) ...")
    airflow.start()
    try:
        airflow.ensure_pool(settings.sagemaker_pool, settings.sagemaker_pool_slots)
        for dag_id in expected_dag_ids():
            airflow.wait_for_dag(dag_id)
        for line in schedule_summary(airflow):
            say(line)
        say(f"Airflow UI: {airflow.url}  (no login needed locally) — Ctrl-C here, or `make stop` "
            "from another shell, stops all of it")
        while True:
            time.sleep(3600)
    except (KeyboardInterrupt, StopRequested) as interruption:
        say(f"stopping Airflow ({interruption.__class__.__name__} {interruption})")
    finally:
        survivors = airflow.stop()
        say("stopped" + (f"; processes that survived SIGKILL: {survivors}" if survivors else ""))


def run_stop(home: Path) -> None:
    for line in stop_local_environment(home, model_server_dir(get_settings())).lines():
        say(line)


def print_environment(home: Path, port: int) -> None:
    """``export`` lines that point the ``airflow`` CLI at the local instance (``eval "$(... env)"``)."""
    overrides = airflow_settings_overrides()
    env = airflow_environment(home, port, overrides, sizing=None)
    # Not the marker: a shell that exported it would make every command it runs look like ours to `stop`.
    names = sorted(name for name in env
                   if (name.startswith(("AIRFLOW", "SCONES_")) or name == "PYTHONPATH") and name != MARKER)
    for name in names:
        print(f"export {name}={shlex.quote(env[name])}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="scones", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    home_help = f"Airflow home (default {DEMO_HOME})"
    demo = commands.add_parser("demo", help="run the lifecycle offline through a real Airflow scheduler")
    demo.add_argument("--keep-running", action="store_true", help="leave Airflow up afterwards for the UI")
    demo.add_argument("--port", type=int, default=8080, help="the UI's port (default 8080)")
    demo.add_argument("--home", type=Path, default=DEMO_HOME, help=home_help)
    ui = commands.add_parser("airflow", help="run Airflow with the UI until Ctrl-C")
    ui.add_argument("--port", type=int, default=8080)
    ui.add_argument("--home", type=Path, default=DEMO_HOME, help=home_help)
    stop = commands.add_parser("stop", help="stop everything of the local environment (Airflow, model server)")
    stop.add_argument("--home", type=Path, default=DEMO_HOME, help=home_help)
    env = commands.add_parser("env", help='print exports for the airflow CLI: eval "$(python -m devtools.cli env)"')
    env.add_argument("--port", type=int, default=8080)
    env.add_argument("--home", type=Path, default=DEMO_HOME, help=home_help)
    label = commands.add_parser("label", help="label a photo from the review queue so training learns from it")
    label.add_argument("photo", help="review-queue key or s3:// URI of the photo")
    label.add_argument("label", choices=LABELS, help="not-a-vehicle keeps the photo out of training")
    label.add_argument("--reviewer", default=None, help="who is labelling (default: the login name)")
    label.add_argument("--relabel", action="store_true", help="replace another reviewer's label")
    args = parser.parse_args(argv)
    export_dotenv_aws_variables()  # .env's AWS_PROFILE / AWS_DEFAULT_REGION for this process and Airflow's
    try:
        if args.command in ("demo", "airflow"):
            refuse_if_running(args.home.resolve())  # at once; starting takes the home's lock for good
        with stop_on_signals():
            if args.command == "demo":
                from devtools.demo import run_demo

                run_demo(keep_running=args.keep_running, home=args.home, port=args.port,
                         command=invoked_as("demo"))
            elif args.command == "airflow":
                run_airflow(args.port, args.home)
            elif args.command == "stop":
                run_stop(args.home)
            elif args.command == "env":
                print_environment(args.home.resolve(), args.port)
            elif args.command == "label":
                from include.review import main as label_main

                options = [*(["--reviewer", args.reviewer] if args.reviewer else []),
                           *(["--relabel"] if args.relabel else [])]
                raise SystemExit(label_main([args.photo, args.label, *options]))
    except REFUSALS as refusal:
        print(f"error: {refusal}", file=sys.stderr)
        raise SystemExit(1) from None
    except (KeyboardInterrupt, StopRequested):
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
