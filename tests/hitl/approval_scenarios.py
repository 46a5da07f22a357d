"""
### Approval scenarios: the real approval wiring around a version the test registered

A test registers a pending model version and its evaluation report, then triggers one of these DAGs
with the version's ARN. The approval tail is the one `scones_train` and `scones_tune` run
(`approve_then_announce`); only the training before it is left out. `scones_approval_unanswered`
waits ten seconds for an answer instead of `registry.approval_timeout_hours`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, dag, task

from include import runtime
from include.dag_defaults import START_DATE, TAGS, default_args
from include.settings import get_settings
from include.workflows import approval
from include.workflows.promotion import approve_then_announce

settings = get_settings()
PARAMS = {
    "model_package_arn": Param("", type="string", description="the registered version to approve"),
    "evaluation_prefix": Param("", type="string", description="s3:// folder holding its evaluation.json"),
}


def approval_scenario(dag_id: str, response_timeout: timedelta | None) -> None:
    @dag(dag_id=dag_id, schedule=None, start_date=START_DATE, catchup=False, default_args=default_args(settings),
         params=PARAMS, tags=[*TAGS, "test"], doc_md=__doc__)
    def scenario():
        @task(multiple_outputs=True)
        def registered_and_evaluated(**context) -> dict:
            """Stands for training, evaluation, registration and the drift baseline."""
            record = runtime.model_registry(settings).describe(context["params"]["model_package_arn"])
            output = {"S3Output": {"S3Uri": context["params"]["evaluation_prefix"]}}
            return {"version": approval.version_summary(record),
                    "evaluation": {"Processing": {"ProcessingOutputConfig": {"Outputs": [output]}}}}

        candidate = registered_and_evaluated()
        approve_then_announce(candidate["version"], candidate["evaluation"], after=candidate,
                              response_timeout=response_timeout)

    scenario()


approval_scenario("scones_approval_answered", None)
approval_scenario("scones_approval_unanswered", timedelta(seconds=10))
