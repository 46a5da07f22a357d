"""``python -m devtools.soak [--days N]`` (``make soak DAYS=N``): exit status 1 when an invariant fails."""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from devtools.demo import say
from devtools.processes import stop_on_signals
from devtools.soak.driver import Soak
from devtools.soak.plan import SoakPlan
from devtools.soak.report import REPORT_PATH, failures, table, write_report
from include.settings import PROJECT_ROOT

WORK_ROOT = PROJECT_ROOT / "build" / "soak" / "run"


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="soak", description=__doc__)
    parser.add_argument("--days", type=int, default=3, help="simulated days (at least 3)")
    parser.add_argument("--interval-hours", type=int, default=12, help="hours each inference/monitor run covers")
    parser.add_argument("--base-photos", type=int, default=40, help="photos of an ordinary interval at midday")
    parser.add_argument("--busy-photos", type=int, default=400, help="photos of the one busy interval")
    parser.add_argument("--cooldown-hours", type=float, default=None,
                        help="monitor.retrain_cooldown_hours (wall clock: capture is written on the wall clock); "
                             "default a day, or 0.15 with several drift episodes")
    parser.add_argument("--work-root", type=Path, default=WORK_ROOT, help="Airflow home and data root (wiped first)")
    parser.add_argument("--report", type=Path, default=REPORT_PATH, help="where the JSON report goes")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    plan = SoakPlan(days=args.days, interval_hours=args.interval_hours, base_photos=args.base_photos,
                    busy_photos=args.busy_photos, cooldown_hours=args.cooldown_hours)
    shutil.rmtree(args.work_root, ignore_errors=True)
    args.work_root.mkdir(parents=True)
    with stop_on_signals():
        report = Soak(plan, args.work_root, say).play()
    path = write_report(report, args.report)
    print(table(report))
    failed = failures(report) + ([f"the soak stopped early: {report['error']}"] if report.get("error") else [])
    say(f"{plan.days} simulated days in {report['wall_seconds']:.0f} s; report {path}")
    if failed:
        say("FAILED invariants:\n  " + "\n  ".join(failed))
        return 1
    say("every invariant held on every day")
    return 0


if __name__ == "__main__":
    sys.exit(main())
