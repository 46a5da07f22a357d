"""
### Inference: the interval's courier photos are classified and the couriers routed

Hourly. Lists every photo that arrived in the data interval (`incoming/photos/YYYY/MM/DD/HH/`) and
writes the photo manifests of one state machine execution per `inference.photos_per_execution`
photos; `classify_photos` runs those executions in turn, each a Distributed Map of one child
execution per photo (serialize → classify → filter, `inference.max_concurrency` at a time) whose
results go to S3; `write_routing` reads them and writes `routing/<run key>/routing.json` and `.csv`:
bicycle → nearby orders, motorcycle → distant orders, unsure or unreadable → human review. Photos for
review are copied to `review/<run key>/` with a note; `scones label PHOTO CLASS` files them for
training. Three task instances per interval, whatever the photo count. Re-running an interval reuses
what succeeded and classifies again, in new executions, the photos that failed.
A run still unfinished `inference.deadline_minutes` after it was queued sends an alert (a
Deadline Alert).
"""

from __future__ import annotations

from airflow.sdk import dag, task

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
    def plan_executions(**context) -> list[dict]:
        store = runtime.object_store(settings)
        start, end = data_interval(context)
        photos = inference.list_interval_photos(settings, store, start, end)
        return inference.plan_executions(settings, store, run_key=interval_run_key(context), photo_keys=photos)

    @task
    def write_routing(executions: list[dict], outcomes: list[dict], **context) -> dict:
        return inference.publish_routing(settings, runtime.object_store(settings), run_key=interval_run_key(context),
                                         executions=executions, outcomes=outcomes)

    executions = plan_executions()
    classify_photos = runtime.state_machine_executions(task_id="classify_photos", executions=executions)
    with_links(write_routing(executions, classify_photos.output), RoutingFileLink())


scones_inference()
