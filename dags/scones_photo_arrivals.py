"""
### Photo arrivals: a courier's photo is classified and routed within seconds of its upload

Runs whenever photos arrive: S3 notifies a queue of every photo created under `incoming/photos/` (SQS on
AWS, a queue on disk locally), the triggerer's watcher on the `scones_photo_arrivals` asset turns its
messages into asset events, and each run takes the messages that arrived since the last one as one small
batch. `plan_arrivals` reads them by name (S3's test event, URL-encoded keys, duplicates, keys outside the
prefix, photos already gone; unreadable messages go to `events/dead-letter/` with the reason), plans the
photos not yet routed and acknowledges the messages; `classify_photos` runs them through the same state
machine as the hourly run; `route_arrivals` writes each photo's routing record
(`routed/<hour>/<photo>.json`) and queues the unsure ones for review. The hourly `scones_inference` run is
the backstop: it classifies what this run missed and lists every photo of its hour in the routing file,
each routed once.
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetWatcher, dag, task

from include import runtime
from include.dag_defaults import START_DATE, TAGS, default_args, run_timeout
from include.settings import get_settings
from include.workflows import inference
from include.workflows.inference.arrivals import arrival_run_key, message_batches, triggering_events

settings = get_settings()

photo_arrivals = Asset(
    name="scones_photo_arrivals",
    uri=settings.s3_uri(settings.prefixes.incoming_photos) + "/",
    watchers=[AssetWatcher(name="scones_photo_arrival_queue", trigger=runtime.photo_arrival_trigger(settings))]
    if settings.events.enabled else [],
)


@dag(
    schedule=[photo_arrivals] if settings.events.enabled else None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=run_timeout(settings, "scones_photo_arrivals"),
    default_args=default_args(settings),
    tags=[*TAGS, "serving"],
    doc_md=__doc__,
)
def scones_photo_arrivals():
    @task
    def plan_arrivals(**context) -> list[dict]:
        messages = message_batches(triggering_events(context))
        executions = inference.plan_arrivals(settings, runtime.object_store(settings),
                                             run_key=arrival_run_key(context), messages=messages)
        runtime.acknowledge_arrivals(messages, settings)
        return executions

    @task
    def route_arrivals(executions: list[dict], outcomes: list[dict], **context) -> dict:
        return inference.route_arrivals(settings, runtime.object_store(settings), run_key=arrival_run_key(context),
                                        executions=executions, outcomes=outcomes)

    executions = plan_arrivals()
    classify_photos = runtime.state_machine_executions(task_id="classify_photos", executions=executions)
    route_arrivals(executions, classify_photos.output)


scones_photo_arrivals()
