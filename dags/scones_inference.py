"""
### Inference: the interval's courier photos are classified and the couriers routed

Hourly. Lists the photos that arrived in the data interval (`incoming/photos/YYYY/MM/DD/HH/`),
runs the inference state machine once per photo (serialize → classify → filter; one mapped,
deferrable task each), and writes `routing/<run key>/routing.json` and `.csv`: bicycle → nearby
orders, motorcycle → distant orders, unsure or unreadable → human review. Photos for review are
copied to `review/<run key>/` with a note; `scones label PHOTO CLASS` files them for training.
Re-running an interval reuses its executions and rewrites the same routing file. A run still
unfinished `inference.deadline_minutes` after it was queued sends an alert (a Deadline Alert).
"""

from __future__ import annotations

from airflow.sdk import TriggerRule, dag, task

from include import runtime
from include.dag_defaults import START_DATE, TAGS, default_args, run_timeout
from include.intervals import data_interval, interval_run_key, interval_schedule
from include.settings import get_settings
from include.web.task_links import RoutingFileLink, with_links
from include.workflows import inference
from include.workflows.deadlines import unfinished_run_alert

settings = get_settings()


@dag(
    schedule=interval_schedule(settings.inference.schedule),
    start_date=START_DATE,
    catchup=False,
    dagrun_timeout=run_timeout(settings, "scones_inference"),
    max_consecutive_failed_dag_runs=settings.dags.max_consecutive_failed_runs,
    deadline=unfinished_run_alert(settings.inference.deadline_minutes),
    default_args=default_args(settings),
    tags=[*TAGS, "serving"],
    doc_md=__doc__,
)
def scones_inference():
    @task
    def list_photos(**context) -> list[str]:
        start, end = data_interval(context)
        return inference.list_interval_photos(settings, runtime.object_store(settings), start, end)

    @task
    def build_executions(photo_keys: list[str], **context) -> list[dict]:
        return inference.build_executions(settings, run_key=interval_run_key(context), photo_keys=photo_keys)

    @task(trigger_rule=TriggerRule.NONE_FAILED)
    def write_routing(executions: list[dict], outcomes: list[dict], **context) -> dict:
        return inference.publish_routing(settings, runtime.object_store(settings),
                                         run_key=interval_run_key(context), executions=executions,
                                         outcomes=outcomes)

    executions = build_executions(list_photos())
    classify_photo = runtime.state_machine_executions(task_id="classify_photo", executions=executions)
    with_links(write_routing(executions, classify_photo.output), RoutingFileLink())


scones_inference()
