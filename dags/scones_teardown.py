"""
### Teardown: stop what serves traffic or costs money

Manual. Lists what the runtime runs — the `scones-*` SageMaker endpoints, endpoint configs, models
and the endpoints' monitoring schedules on AWS, the local model server on this machine — and logs
exactly what it would do. With `dry_run` off it stops and deletes the monitoring schedules and
deletes the endpoints (endpoint configs and models are kept for rollback), or stops the local
model server.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from include import runtime
from include.dag_defaults import START_DATE, TAGS, default_args, run_timeout
from include.settings import get_settings
from include.workflows import teardown

settings = get_settings()


@dag(
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=run_timeout(settings, "scones_teardown"),
    default_args=default_args(settings),
    tags=[*TAGS, "operations"],
    params={"dry_run": Param(True, type="boolean", description="Only list and log what would be torn down.")},
    doc_md=__doc__,
)
def scones_teardown():
    @task
    def list_resources() -> dict:
        return teardown.plan_teardown(runtime.teardown(settings))

    @task
    def tear_down(plan: dict, **context) -> list:
        return teardown.apply_teardown(runtime.teardown(settings), plan, dry_run=bool(context["params"]["dry_run"]))

    tear_down(list_resources())


scones_teardown()
