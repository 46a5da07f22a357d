"""
### Ingest: the CIFAR-100 archive and labelled courier photos become a dataset partition

Daily. Stages the archive (MD5-verified), runs the ingest program as a Processing job and
publishes `datasets/<run key>/` (train/validation/test PNGs, `.lst` files, `manifest.json`).
Re-running a date rebuilds the same partition byte for byte. Publishing updates the
`scones_dataset` Asset that training is scheduled on.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from include import runtime
from include.assets import DATASET
from include.dag_defaults import START_DATE, TAGS, default_args, rebuild_param, run_timeout
from include.run_keys import job_name, run_key_from_context
from include.settings import get_settings
from include.workflows import ingest

settings = get_settings()


@dag(
    schedule=settings.ingest.schedule,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=run_timeout(settings, "scones_ingest"),
    default_args=default_args(settings),
    params=rebuild_param(),
    tags=[*TAGS, "data"],
    doc_md=__doc__,
)
def scones_ingest():
    @task
    def stage_archive() -> dict:
        return ingest.stage_archive(settings, runtime.object_store(settings))

    @task
    def build_ingest_request(archive: dict, **context) -> dict:
        key = run_key_from_context(context)
        return ingest.build_request(settings, runtime.object_store(settings), run_key=key,
                                    job_name=job_name("ingest", key), archive=archive)

    @task(outlets=[DATASET])
    def publish_partition(job_result: dict, **context) -> dict:
        partition = ingest.publish_partition(settings, runtime.object_store(settings),
                                             run_key=run_key_from_context(context), job_result=job_result)
        context["outlet_events"][DATASET].extra = partition
        return partition

    request = build_ingest_request(stage_archive())
    job = runtime.processing_job(task_id="ingest", config=request)
    publish_partition(job.output)


scones_ingest()
