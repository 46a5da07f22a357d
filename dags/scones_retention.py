"""
### Retention: courier photos, and data derived from them, go when their time is up

Daily (`retention.schedule`). Courier photos show faces and number plates, so every prefix that holds them
or data made from them keeps its objects for the days `[retention]` gives: incoming photos, the review
queue, labelled and not-a-vehicle photos, Data Capture, dataset partitions (and their staging) and the
monitoring reports with their photo strips. `plan_expiry` is the dry run: it lists, per rule, what has
expired (S3's rule: the first midnight UTC after the object's age reaches the days) and deletes nothing;
`expire_objects` then deletes exactly that list, checking each object again. Trigger with `dry_run` on to
see the plan only. On AWS the bucket's lifecycle rules (the stack's, from the same settings) do the
deleting, and this DAG fails if they are not the settings' rules, naming the fix.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import Param, dag, task

from include import runtime
from include.dag_defaults import START_DATE, TAGS, default_args, run_timeout
from include.settings import get_settings
from include.workflows import retention

settings = get_settings()


@dag(
    schedule=settings.retention.schedule,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=run_timeout(settings, "scones_retention"),
    default_args=default_args(settings),
    tags=[*TAGS, "operations"],
    params={"dry_run": Param(False, type="boolean", description="Only list what the retention rules expire.")},
    doc_md=__doc__,
)
def scones_retention():
    @task
    def plan_expiry() -> dict:
        return retention.plan_expiry(settings, runtime.retention(settings), datetime.now(UTC))

    @task
    def expire_objects(plan: dict, **context) -> dict:
        return retention.expire_objects(runtime.retention(settings), plan, dry_run=bool(context["params"]["dry_run"]))

    expire_objects(plan_expiry())


scones_retention()
