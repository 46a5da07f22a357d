"""Command line: ``python -m devtools.cli demo|airflow|label``."""

from __future__ import annotations

import argparse
import time

from devtools.demo import DEMO_HOME, demo_environment, say, synthetic_archive
from devtools.local_airflow import LocalAirflow
from include.review import LABELS
from include.settings import export_dotenv_aws_variables, get_settings


def run_airflow(port: int) -> None:
    """Keep a local Airflow running with the UI, using the synthetic archive as the CIFAR source."""
    settings = get_settings()
    archive, md5 = synthetic_archive(settings.data_root)
    env = {k: v for k, v in demo_environment(archive, md5).items() if "SCHEDULE" not in k and "EPOCHS" not in k}
    airflow = LocalAirflow(DEMO_HOME, port=port, extra_env=env)
    say("starting Airflow ...")
    with airflow:
        airflow.ensure_pool(settings.sagemaker_pool, settings.sagemaker_pool_slots)
        say(f"Airflow UI: {airflow.url}  (no login needed locally) — Ctrl-C stops it")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            say("stopping Airflow")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="scones", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the lifecycle offline through a real Airflow scheduler")
    demo.add_argument("--keep-running", action="store_true", help="leave Airflow up afterwards for the UI")
    ui = commands.add_parser("airflow", help="run Airflow with the UI until Ctrl-C")
    ui.add_argument("--port", type=int, default=8080)
    label = commands.add_parser("label", help="label a photo from the review queue so training learns from it")
    label.add_argument("photo", help="review-queue key or s3:// URI of the photo")
    label.add_argument("label", choices=LABELS, help="not-a-vehicle keeps the photo out of training")
    label.add_argument("--reviewer", default=None, help="who is labelling (default: the login name)")
    label.add_argument("--relabel", action="store_true", help="replace another reviewer's label")
    args = parser.parse_args(argv)
    export_dotenv_aws_variables()  # .env's AWS_PROFILE / AWS_DEFAULT_REGION for this process and Airflow's
    if args.command == "demo":
        from devtools.demo import run_demo

        run_demo(keep_running=args.keep_running)
    elif args.command == "airflow":
        run_airflow(args.port)
    elif args.command == "label":
        from include.review import main as label_main

        options = [*(["--reviewer", args.reviewer] if args.reviewer else []), *(["--relabel"] if args.relabel else [])]
        raise SystemExit(label_main([args.photo, args.label, *options]))


if __name__ == "__main__":
    main()
