"""
### Deploy: the approved model version becomes the endpoint, with Data Capture

Runs whenever a model version is approved (the `scones_approved_model` Asset), or by hand with
a `model_package_arn`. Builds the model, the endpoint config (Data Capture of inputs and outputs
to `datacapture/`, or a serverless variant) and the endpoint request, deploys it blue/green with
automatic rollback on the configured alarms, and checks that the endpoint really serves the new
config: a rolled-back update fails the run. Locally the endpoint is the local model server.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from include import runtime
from include.assets import APPROVED_MODEL
from include.dag_defaults import START_DATE, TAGS, default_args, run_timeout
from include.run_keys import run_key_from_context
from include.settings import get_settings
from include.workflows import deploy

settings = get_settings()


@dag(
    schedule=[APPROVED_MODEL],
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=run_timeout(settings, "scones_deploy"),
    default_args=default_args(settings),
    tags=[*TAGS, "serving"],
    params={
        "model_package_arn": Param(
            None, type=["null", "string"],
            description="Model version to deploy; empty deploys the triggering or latest approved version.",
        ),
    },
    doc_md=__doc__,
)
def scones_deploy():
    @task
    def choose_model_version(**context) -> dict:
        return deploy.choose_model_version(runtime.model_registry(), param_arn=context["params"]["model_package_arn"],
                                           asset_extras=deploy.asset_event_extras(context))

    @task
    def build_endpoint_config(model_version: dict, **context) -> dict:
        return deploy.build_config(settings, model_version_record=model_version,
                                   run_key=run_key_from_context(context))

    @task
    def record_endpoint(model_version: dict, deployment: dict) -> dict:
        return deploy.deployment_summary(settings, model_version_record=model_version, deployment=deployment)

    model_version = choose_model_version()
    deployment = runtime.endpoint_deployment(task_id="deploy", config=build_endpoint_config(model_version))
    record_endpoint(model_version, deployment.output)


scones_deploy()
