"""
### Train: a dataset partition becomes an evaluated, gated, registered model version

Runs when ingest publishes a partition (the `scones_dataset` Asset; it trains on the newest
event's partition) or by hand with typed params. When the partition's content, the training code
and the hyperparameters are all those of the model the endpoint serves, the run stops before
training, with the reason in the log (`force` trains anyway). A training job (SageMaker script mode, or the
same request under the local Training contract) is evaluated on the test split beside the
current champion; a model that fails the quality gate ends the run with the reason in the log.
A passing model is registered, gets its drift baseline, and — once approved — updates the
`scones_approved_model` Asset that deployment is scheduled on.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from include import runtime
from include.assets import DATASET
from include.dag_defaults import START_DATE, TAGS, default_args, rebuild_param, run_timeout
from include.run_keys import job_name
from include.settings import get_settings
from include.workflows import training
from include.workflows.promotion import model_key, promote_model
from include.workflows.training_requests import build_training_request, describe_candidate, hyperparameters_for

settings = get_settings()
hp = settings.training

PARAMS = {
    "partition": Param(None, type=["null", "string"], description="s3:// partition to train on (default: newest)"),
    "epochs": Param(hp.epochs, type="integer", minimum=1, maximum=500),
    "learning_rate": Param(hp.learning_rate, type="number", exclusiveMinimum=0),
    "batch_size": Param(hp.batch_size, type="integer", minimum=1),
    "dropout": Param(hp.dropout, type="number", minimum=0, maximum=0.9),
    "width": Param(hp.width, type="integer", minimum=1, maximum=8),
    "reason": Param("manual", type="string", description="why this run trains (set by the monitor on drift)"),
    "force": Param(False, type="boolean",
                   description="train even when data, code and hyperparameters equal the serving model's"),
    "warm_start": Param(hp.warm_start, type="boolean",
                        description="start from the serving model's weights (false: train from scratch)"),
    **rebuild_param(),
}


@dag(
    schedule=[DATASET] if hp.schedule_on_dataset else None,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=run_timeout(settings, "scones_train"),
    default_args=default_args(settings),
    params=PARAMS,
    tags=[*TAGS, "training"],
    doc_md=__doc__,
)
def scones_train():
    @task
    def choose_dataset(**context) -> str:
        events = list(context["triggering_asset_events"].get(DATASET, []))
        print(f"training because: {context['params']['reason']}")
        return training.choose_partition(settings, runtime.object_store(settings), context["params"], events)

    @task.short_circuit
    def has_something_new(partition: str, **context) -> bool:
        """Skip the run when it would reproduce the serving model; the reason goes to the log."""
        if context["params"]["force"]:
            return True
        store, served, registry = (runtime.object_store(settings), runtime.served_models(settings),
                                   runtime.model_registry(settings))
        inputs = training.candidate_inputs(store, partition, hyperparameters_for(settings, context["params"]))
        warm_start = training.warm_start_model_url(settings, served, registry, context["params"])
        reason = training.reason_not_to_train(settings, store, inputs, served, registry, warm_start)
        print(f"not training: {reason}" if reason else "training: something changed since the serving model")
        return reason is None

    @task
    def build_training_job_request(partition: str, **context) -> dict:
        key = model_key("train", context)
        warm_start = training.warm_start_model_url(settings, runtime.served_models(settings),
                                                   runtime.model_registry(settings), context["params"])
        return build_training_request(settings, runtime.object_store(settings), run_key=key,
                                      job_name=job_name("train", key), partition=partition,
                                      params=context["params"], warm_start_model_url=warm_start)

    @task
    def describe_trained_candidate(training_result: dict, partition: str) -> dict:
        return describe_candidate(training_result, partition)

    partition = choose_dataset()
    request = build_training_job_request(partition)
    has_something_new(partition) >> request
    job = runtime.training_job(task_id="train", config=request)
    promote_model(describe_trained_candidate(job.output, partition), prefix="train")


scones_train()
