"""Run a DAG of the configured DAG folder with ``dag.test()`` (what ``airflow dags test`` does) and print each run.

Usage: ``python -m tests.hitl.run_dag DAG_ID [--conf JSON] [--times N] [--after FILE]``. Tasks run in this
process against the metadata database of ``AIRFLOW_HOME``; a Human-in-the-loop task waits until someone
answers it through an API server on the same database (or the scheduler's sweep times it out). One JSON line
per run: ``{"run_id", "state", "tasks": {task_id: state}}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dag_id")
    parser.add_argument("--conf", default="{}")
    parser.add_argument("--times", type=int, default=1)
    parser.add_argument("--after", type=Path, default=None, help="start the runs once this file exists")
    parser.add_argument("--wait-seconds", type=float, default=600, help="how long to wait for --after")
    args = parser.parse_args(argv)

    from airflow import settings
    from airflow.configuration import conf
    from airflow.dag_processing.dagbag import DagBag

    settings.configure_orm()
    bag = DagBag(dag_folder=conf.get("core", "dags_folder"))
    if args.dag_id not in bag.dags:
        print(json.dumps({"error": f"no DAG {args.dag_id}", "import_errors": bag.import_errors}), flush=True)
        return 2
    deadline = time.monotonic() + args.wait_seconds
    while args.after is not None and not args.after.exists():
        if time.monotonic() > deadline:
            print(json.dumps({"error": f"{args.after} did not appear in {args.wait_seconds:.0f} s"}), flush=True)
            return 3
        time.sleep(0.2)
    for _ in range(args.times):
        run = bag.dags[args.dag_id].test(run_conf=json.loads(args.conf))
        tasks = {ti.task_id: ti.state for ti in run.get_task_instances()}
        print(json.dumps({"run_id": run.run_id, "state": run.state, "tasks": tasks}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
