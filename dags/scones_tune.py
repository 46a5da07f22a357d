"""
### Tune: search hyperparameters, then promote the best model like any trained one

Manual by default (a weekly schedule is the `tuning.schedule` setting; tuning costs money on
AWS). A SageMaker tuning job (Bayesian, objective `validation:accuracy`, ranges and budgets
from settings) — or locally Optuna's TPE over the same `ParameterRanges`, each trial a local
training job — finds the best training job, which then goes through the same evaluation,
quality gate, registration and baseline as `scones_train`.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from include import runtime
from include.dag_defaults import START_DATE, TAGS, default_args, rebuild_param, run_timeout
from include.settings import get_settings
from include.workflows import training
from include.workflows.promotion import model_key, promote_model
from include.workflows.training_requests import build_tuning_request, describe_best_candidate

settings = get_settings()


@dag(
    schedule=settings.tuning.schedule,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=run_timeout(settings, "scones_tune"),
    default_args=default_args(settings),
    params={"partition": Param(None, type=["null", "string"],
                               description="s3:// partition to tune on (default: newest)"),
            **rebuild_param()},
    tags=[*TAGS, "training", "tuning"],
    doc_md=__doc__,
)
def scones_tune():
    @task
    def choose_dataset(**context) -> str:
        return training.choose_partition(settings, runtime.object_store(settings), context["params"], [])

    @task
    def build_tuning_job_request(partition: str, **context) -> dict:
        return build_tuning_request(settings, runtime.object_store(settings), run_key=model_key("tune", context),
                                    partition=partition)

    @task
    def describe_best_training_job(tuning_result: dict, partition: str) -> dict:
        return describe_best_candidate(tuning_result, partition)

    partition = choose_dataset()
    tuning = runtime.tuning_job(task_id="tune", config=build_tuning_job_request(partition))
    promote_model(describe_best_training_job(tuning.output, partition), prefix="tune")


scones_tune()
