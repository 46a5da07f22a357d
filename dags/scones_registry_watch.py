"""
### Registry watch: a version approved outside Airflow is deployed too

Every `registry.watch_schedule` (15 minutes by default). A model version approved straight in the model
registry — SageMaker Studio, `aws sagemaker update-model-package`, any other tool — was never announced by
a training run. This DAG compares the registry's latest approved version with the last
`scones_approved_model` Asset event and, when they differ, announces it, which runs `scones_deploy`.
So the endpoint follows the registry: approving a newer version deploys it, and rejecting the deployed
version redeploys the newest one still approved.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from include import runtime
from include.assets import APPROVED_MODEL
from include.dag_defaults import START_DATE, TAGS, default_args, run_timeout
from include.settings import get_settings
from include.workflows import approval

settings = get_settings()


@dag(
    schedule=settings.registry.watch_schedule,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=run_timeout(settings, "scones_registry_watch"),
    default_args=default_args(settings),
    tags=[*TAGS, "serving"],
    doc_md=__doc__,
)
def scones_registry_watch():
    @task.short_circuit(inlets=[APPROVED_MODEL])
    def find_newly_approved_version(**context) -> str | None:
        last = list(context["inlet_events"][APPROVED_MODEL].ascending(False).limit(1))
        last_arn = last[0].extra.get("model_package_arn") if last else None
        record = approval.newly_approved(runtime.model_registry(settings), last_arn)
        print(f"latest approved version: {record['ModelPackageArn'] if record else 'none new'}; "
              f"last announced: {last_arn or 'none'}")
        return record["ModelPackageArn"] if record else None

    @task(outlets=[APPROVED_MODEL])
    def announce_approved_model(model_package_arn: str, **context) -> dict:
        record = runtime.model_registry(settings).describe(model_package_arn)
        announcement = approval.announcement(settings, record)
        context["outlet_events"][APPROVED_MODEL].extra = announcement
        return announcement

    announce_approved_model(find_newly_approved_version())


scones_registry_watch()
