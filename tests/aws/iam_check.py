"""IAM for an ``aws``-mode DAG run: every call its tasks made, checked against the stack's roles.

The DAG tasks call AWS as the MWAA execution role; the SageMaker jobs, models and schedules they create
act with the SageMaker execution role their requests pass. moto enforces no IAM (and its optional
enforcement ignores ``Resource`` and ``Condition``), so the recorded requests are evaluated against the
template's policies instead (:mod:`deploy.cloudformation.iam_evaluation`), for the stack the run's
settings would be deployed with.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from deploy.cloudformation.iam_evaluation import RoleEvaluation, evaluate_role
from include.builders.deploy import capture_destination
from include.settings import load_settings
from tests.support import iam_report
from tests.support.iam_requests import Account, api_call_requests, sagemaker_role_requests
from tests.support.stack import simulated_stack


def evaluate_run(requests: Iterable[Any], environ: Mapping[str, str], dag_id: str) -> list[RoleEvaluation]:
    """The MWAA role's and the SageMaker role's decisions for one run's recorded requests."""
    settings = load_settings(environ={k: v for k, v in environ.items() if k.startswith("SCONES_")})
    stack = simulated_stack(settings)
    account = Account(stack, settings.bucket)
    calls = [(r.service, r.operation, r.params) for r in requests]
    mwaa = [request for service, operation, params in calls
            for request in api_call_requests(account, service, operation, params, f"{dag_id}: {service} {operation}")]
    sagemaker = [request for service, operation, params in calls if service == "sagemaker"
                 for request in sagemaker_role_requests(account, operation, params, capture_destination(settings))]
    return [iam_report.record(evaluate_role(stack, "MwaaExecutionRole", mwaa)),
            iam_report.record(evaluate_role(stack, "SageMakerExecutionRole", sagemaker))]


def assert_permitted(evaluations: Iterable[RoleEvaluation], log_path: Any) -> None:
    denied = [e.denial_report() for e in evaluations if e.denied]
    if denied:
        raise AssertionError("IAM would deny requests of this run (on AWS the task fails), see "
                             f"deploy/cloudformation/template.yaml; log {log_path}:\n" + "\n".join(denied))
