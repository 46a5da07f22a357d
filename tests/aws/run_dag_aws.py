"""Run one DAG with ``dag.test()`` in this process and write what happened as JSON.

    python -m tests.aws.run_dag_aws DAG_ID LOGICAL_DATE --output FILE [--run-type scheduled|manual]
                                    [--scenario module:function ...]

Started by :func:`tests.aws.moto_harness.run_dag_in_aws_mode` with the environment that points
Airflow at its own metadata DB and every AWS client at the moto server. Each ``--scenario``
function is called with the :class:`~tests.aws.recorder.RequestRecorder` before the DAG loads.
The output file holds the run's state, each task's state, the requests sent and the
triggers run inline.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from typing import Any

from tests.aws.recorder import RequestRecorder, install, json_safe


def load_scenario(spec: str) -> Any:
    module_name, _, function_name = spec.partition(":")
    if not function_name:
        raise SystemExit(f"--scenario must be module:function, got {spec!r}")
    return getattr(importlib.import_module(module_name), function_name)


def record_inline_triggers() -> list[dict[str, Any]]:
    """Wrap ``dag.test()``'s inline trigger runner to list each trigger and the event it fired."""
    import airflow.sdk.definitions.dag as dag_module

    fired: list[dict[str, Any]] = []
    run_inline_trigger = dag_module._run_inline_trigger

    def run_and_record(trigger: Any, task_sdk_ti: Any) -> Any:
        event = run_inline_trigger(trigger, task_sdk_ti)
        fired.append({
            "task_id": task_sdk_ti.task_id,
            "trigger": f"{type(trigger).__module__}.{type(trigger).__qualname__}",
            "event": json_safe(event.payload) if event is not None else None,
        })
        return event

    dag_module._run_inline_trigger = run_and_record
    return fired


def create_runs_as_scheduled() -> None:
    """Make ``dag.test()`` create a scheduled run (as the scheduler would for that date), not a manual one.

    Scones keys scheduled and backfill runs by their logical date and manual runs by their run
    id, so this decides the run key, hence every job name and artifact URI of the run.
    """
    import airflow.models.dagrun as dagrun_module
    from airflow.models.dagrun import DagRun
    from airflow.utils.types import DagRunType

    get_or_create_dagrun = dagrun_module.get_or_create_dagrun

    def get_or_create_scheduled_dagrun(**kwargs: Any) -> Any:
        dag = kwargs["dag"]
        create_dagrun = dag.create_dagrun

        def create_scheduled_dagrun(**create_kwargs: Any) -> Any:
            return create_dagrun(**{**create_kwargs, "run_type": DagRunType.SCHEDULED})

        dag.create_dagrun = create_scheduled_dagrun
        kwargs["run_id"] = DagRun.generate_run_id(run_type=DagRunType.SCHEDULED, logical_date=kwargs["logical_date"],
                                                  run_after=kwargs["run_after"])
        return get_or_create_dagrun(**kwargs)

    dagrun_module.get_or_create_dagrun = get_or_create_scheduled_dagrun


def load_dag(dag_id: str) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag()
    if dag_id not in bag.dags:
        raise SystemExit(f"DAG {dag_id!r} not found; import errors: {bag.import_errors}")
    return bag.dags[dag_id]


def task_states(dag_run: Any) -> dict[str, str | None]:
    states = {}
    for ti in dag_run.get_task_instances():
        name = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
        states[name] = None if ti.state is None else str(ti.state)
    return states


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dag_id")
    parser.add_argument("logical_date", help="ISO 8601, e.g. 2026-01-01T00:00:00+00:00")
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--run-type", choices=["scheduled", "manual"], default="scheduled")
    parser.add_argument("--scenario", action="append", default=[])
    args = parser.parse_args(argv)

    recorder = RequestRecorder()
    install(recorder)
    for spec in args.scenario:
        load_scenario(spec)(recorder)
    triggers = record_inline_triggers()
    if args.run_type == "scheduled":
        create_runs_as_scheduled()

    import pendulum

    dag = load_dag(args.dag_id)
    logical_date = pendulum.parse(args.logical_date)
    # A scheduled run's run_id and run_after are its logical date (Airflow 3's cron timetables).
    run_after = logical_date if args.run_type == "scheduled" else None
    dag_run = dag.test(logical_date=logical_date, run_after=run_after)
    result = {
        "run_id": dag_run.run_id,
        "run_type": str(dag_run.run_type),
        "dag_run_state": str(dag_run.state),
        "task_states": task_states(dag_run),
        "requests": recorder.requests,
        "triggers": triggers,
    }
    args.output.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
