"""IAM evaluated: what the product asks each role to do, against that role's policy in the template.

The DAG tasks' own calls are recorded by the ``aws``-mode runs and evaluated there (``tests/aws/iam_check.py``);
the Lambdas' by ``tests/lambdas/test_lambda_roles.py``. Here: the evaluator's rules, the MWAA role's Model Monitor
reads (a regression), the state machine role from the definition, and the SageMaker role from the request
configs the builders make.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from deploy.cloudformation.iam_evaluation import PolicyModelError, Request, decide, evaluate_role
from deploy.cloudformation.stack_model import StackModel
from include.builders.deploy import capture_destination, endpoint_config_request, model_request
from include.builders.evaluation import baseline_request, evaluation_request
from include.builders.ingest import ingest_processing_request
from include.builders.monitoring import analysis_request, monitoring_schedule_request
from include.builders.registry import model_package_request
from include.builders.training import training_job_request
from include.builders.tuning import tuning_job_request
from include.runtime.local.inference_flow import DEFINITION_FILE
from include.workflows.inference.rounds import execution_input, round_prefix
from include.workflows.lineage import TrainingInputs
from tests.support import iam_report
from tests.support.iam_requests import Account, api_call_requests, sagemaker_role_requests, state_machine_requests
from tests.support.stack import ACCOUNT, REGION, deployable_settings, simulated_stack

SETTINGS = deployable_settings()
SCHEDULE_JOB = "model-monitoring-202601011100-0123456789abcdef01234567"


@pytest.fixture(scope="module")
def stack() -> StackModel:
    return simulated_stack(SETTINGS)


@pytest.fixture(scope="module")
def account(stack: StackModel) -> Account:
    return Account(stack, SETTINGS.bucket)


def arn(kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{name}"


# --- the evaluator's rules ------------------------------------------------------------------------------------

SCOPED = {"Sid": "Scoped", "Effect": "Allow", "Action": ["sagemaker:Describe*", "sagemaker:ListMonitoringExecutions"],
          "Resource": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:*/scones-*"}
UNSCOPED = {"Sid": "Listing", "Effect": "Allow", "Action": "sagemaker:ListMonitoringExecutions", "Resource": "*"}


def test_action_without_resource_type_is_allowed_only_by_a_star_statement():
    listing = Request("sagemaker:ListMonitoringExecutions", "*")
    assert not decide([SCOPED], listing).allowed
    assert decide([SCOPED, UNSCOPED], listing).reason == "allowed by Listing"


def test_action_without_resource_type_cannot_be_requested_on_an_arn():
    with pytest.raises(ValueError, match="has no resource type"):
        Request("sagemaker:ListMonitoringExecutions", arn("monitoring-schedule", "scones-x"))


def test_resource_patterns_decide_and_are_case_sensitive():
    assert decide([SCOPED], Request("sagemaker:DescribeProcessingJob", arn("processing-job", "scones-a"))).allowed
    assert not decide([SCOPED], Request("sagemaker:DescribeProcessingJob", arn("processing-job", "Scones-a"))).allowed
    assert not decide([SCOPED], Request("sagemaker:DescribeProcessingJob", arn("processing-job", SCHEDULE_JOB))).allowed


def test_explicit_deny_wins_over_an_allow():
    deny = {"Sid": "NoDescribe", "Effect": "Deny", "Action": "sagemaker:DescribeEndpoint", "Resource": "*"}
    decision = decide([SCOPED, deny], Request("sagemaker:DescribeEndpoint", arn("endpoint", "scones-e")))
    assert (decision.allowed, decision.reason) == (False, "explicitly denied by NoDescribe")


def test_not_resource_allows_everything_else():
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::private/*"}
    assert decide([statement], Request("s3:GetObject", "arn:aws:s3:::public/a")).allowed
    assert not decide([statement], Request("s3:GetObject", "arn:aws:s3:::private/a")).allowed


def test_known_conditions_are_evaluated_and_others_assumed():
    passing = {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*",
               "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"},
                             "Bool": {"aws:SecureTransport": "true"}}}
    role = f"arn:aws:iam::{ACCOUNT}:role/r"
    to_lambda = Request("iam:PassRole", role, context=(("iam:PassedToService", "lambda.amazonaws.com"),))
    to_sagemaker = Request("iam:PassRole", role, context=(("iam:PassedToService", "sagemaker.amazonaws.com"),))
    assert not decide([passing], to_lambda).allowed
    decision = decide([passing], to_sagemaker)
    assert decision.allowed and decision.assumed_conditions == ("Bool aws:SecureTransport",)


def test_unknown_action_is_refused():
    with pytest.raises(KeyError, match="sagemaker:DescribeProcesingJob"):
        Request("sagemaker:DescribeProcesingJob", arn("processing-job", "x"))


def test_a_managed_policy_cannot_be_evaluated(stack):
    template = copy.deepcopy(stack.template)
    template["Resources"]["FilterLowConfidenceRole"]["Properties"]["ManagedPolicyArns"] = [
        "arn:aws:iam::aws:policy/AdministratorAccess"]
    with pytest.raises(PolicyModelError, match="managed policies"):
        evaluate_role(StackModel(stack.parameters, ACCOUNT, REGION, template), "FilterLowConfidenceRole", [])


# --- the MWAA role reads Model Monitor's own executions -------------------------------------------------------

def test_mwaa_role_follows_model_monitor_executions(stack, account):
    schedule = f"scones-monitor-{SETTINGS.deploy.endpoint_name}"
    calls = [("ListMonitoringExecutions", {"MonitoringScheduleName": schedule}),
             ("DescribeProcessingJob", {"ProcessingJobName": SCHEDULE_JOB}),
             ("DescribeMonitoringSchedule", {"MonitoringScheduleName": schedule})]
    requests = [r for operation, params in calls for r in api_call_requests(account, "sagemaker", operation, params)]
    evaluation = iam_report.record(evaluate_role(stack, "MwaaExecutionRole", requests))
    assert evaluation.denied == [], evaluation.denial_report()
    assert evaluation.decisions[0].request.resource == "*", "ListMonitoringExecutions has no resource type"


def test_listing_executions_on_the_scoped_statement_would_be_denied(stack, account):
    template = copy.deepcopy(stack.template)
    statements = template["Resources"]["MwaaExecutionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        statement["Action"] = [a for a in actions if a != "sagemaker:ListMonitoringExecutions"] or ["sns:Publish"]
    next(s for s in statements if s.get("Sid") == "RunSageMakerWork")["Action"].append(
        "sagemaker:ListMonitoringExecutions")
    requests = api_call_requests(account, "sagemaker", "ListMonitoringExecutions", {"MonitoringScheduleName": "x"})
    evaluation = evaluate_role(StackModel(stack.parameters, ACCOUNT, REGION, template), "MwaaExecutionRole", requests)
    assert [d.reason for d in evaluation.denied] == ["no statement allows it"]


def test_mwaa_role_may_tear_down_what_the_product_created(stack, account):
    """The teardown's own calls, sent through a Stubber that answers with one endpoint and its schedule."""
    import boto3
    from botocore.stub import Stubber

    from include.runtime.aws.teardown import SageMakerTeardown

    endpoint, schedule = SETTINGS.deploy.endpoint_name, f"scones-monitor-{SETTINGS.deploy.endpoint_name}"
    now = datetime(2026, 1, 1, tzinfo=UTC)
    client = boto3.client("sagemaker", region_name=REGION)
    sent: list[tuple[str, dict]] = []
    client.meta.events.register("before-parameter-build.sagemaker",
                                lambda params, model, **_: sent.append((model.name, dict(params))))
    with Stubber(client) as stubber:
        stubber.add_response("list_monitoring_schedules", {"MonitoringScheduleSummaries": [{
            "MonitoringScheduleName": schedule, "MonitoringScheduleArn": arn("monitoring-schedule", schedule),
            "MonitoringScheduleStatus": "Scheduled", "EndpointName": endpoint, "CreationTime": now,
            "LastModifiedTime": now}]})
        stubber.add_response("list_endpoints", {"Endpoints": [{
            "EndpointName": endpoint, "EndpointArn": arn("endpoint", endpoint), "CreationTime": now,
            "LastModifiedTime": now, "EndpointStatus": "InService"}]})
        stubber.add_response("list_endpoint_configs", {"EndpointConfigs": []})
        stubber.add_response("list_models", {"Models": []})
        for operation in ("stop_monitoring_schedule", "delete_monitoring_schedule", "delete_endpoint"):
            stubber.add_response(operation, {})
        teardown = SageMakerTeardown(SETTINGS, client)
        teardown.apply(teardown.plan())
        stubber.assert_no_pending_responses()
    requests = [r for operation, params in sent for r in api_call_requests(account, "sagemaker", operation, params)]
    evaluation = iam_report.record(evaluate_role(stack, "MwaaExecutionRole", requests))
    assert evaluation.denied == [], evaluation.denial_report()
    assert {d.request.action for d in evaluation.decisions} >= {
        "sagemaker:ListEndpoints", "sagemaker:DeleteEndpoint", "sagemaker:StopMonitoringSchedule"}


def test_mwaa_role_may_publish_alerts_to_the_encrypted_topic(stack, account, monkeypatch):
    """The alerts capability's own SNS call (answered by the recorder, so nothing leaves the process)."""
    import botocore.session

    from include.runtime.aws.alerts import SnsAlerts
    from tests.aws.recorder import RequestRecorder

    recorder = RequestRecorder()
    recorder.respond("sns", "Publish", lambda params: {"MessageId": "1"})
    create_session = botocore.session.Session.__init__

    def recorded_session(self: botocore.session.Session, *args: object, **kwargs: object) -> None:
        create_session(self, *args, **kwargs)
        recorder.attach(self)

    monkeypatch.setattr(botocore.session.Session, "__init__", recorded_session)
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps({"conn_type": "aws"}))
    SnsAlerts(SETTINGS).publish("scones_monitor: drift", "retraining")
    requests = [r for call in recorder.requests
                for r in api_call_requests(account, call["service"], call["operation"], call["params"])]
    evaluation = iam_report.record(evaluate_role(stack, "MwaaExecutionRole", requests))
    assert evaluation.denied == [], evaluation.denial_report()
    assert {d.request.action for d in evaluation.decisions} == {"sns:Publish", "kms:GenerateDataKey", "kms:Decrypt"}


# --- the state machine role, from the definition --------------------------------------------------------------

def test_state_machine_role_permits_what_the_definition_does(stack, account):
    properties = stack.properties("InferenceStateMachine")
    definition = DEFINITION_FILE.read_text()
    for placeholder, value in properties["DefinitionSubstitutions"].items():
        definition = definition.replace("${" + placeholder + "}", value)
    chunk = f"{round_prefix(SETTINGS, '20260301T1000', 1)}/c0001"
    started_with = execution_input(SETTINGS, f"{chunk}/photos.json", f"{chunk}/results")
    requests = state_machine_requests(account, json.loads(definition), stack.ref("InferenceStateMachine"),
                                      logs_to_cloudwatch="Logging" in properties, execution_input=started_with)
    evaluation = iam_report.record(evaluate_role(stack, "StateMachineRole", requests))
    assert evaluation.denied == [], evaluation.denial_report()
    assert {d.request.action for d in evaluation.decisions} >= {"lambda:InvokeFunction", "logs:CreateLogDelivery"}
    invoked = {d.request.resource for d in evaluation.decisions if d.request.action == "lambda:InvokeFunction"}
    assert {stack.arn(f) for f in ("SerializeImageFunction", "ClassifyImageFunction",
                                   "FilterLowConfidenceFunction")} <= invoked


def test_a_distributed_map_needs_child_execution_rights(stack, account):
    definition = {"StartAt": "EachPhoto", "States": {"EachPhoto": {
        "Type": "Map", "End": True,
        "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2",
                       "Parameters": {"Bucket": SETTINGS.bucket, "Prefix": "incoming/photos/"}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "Classify", "States": {"Classify": {
                              "Type": "Task", "Resource": stack.arn("ClassifyImageFunction"), "End": True}}}}}}
    requests = state_machine_requests(account, definition, stack.ref("InferenceStateMachine"), False)
    assert {r.action for r in requests} >= {"states:StartExecution", "states:DescribeExecution", "s3:ListBucket"}


# --- the SageMaker role, from the request configs -------------------------------------------------------------

def built_requests() -> list[tuple[str, dict]]:
    """One request of every kind that passes the SageMaker role, built as the DAGs build them."""
    s, key, uri = SETTINGS, "20260101T0000", SETTINGS.s3_uri
    record = {"InferenceSpecification": {"Containers": [{
        "Image": f"763104351884.dkr.ecr.{REGION}.amazonaws.com/pytorch-inference:2.6.0-cpu-py312",
        "ModelDataUrl": uri("models", key, "model.tar.gz")}]}, "ModelPackageVersion": 1,
        "ModelPackageArn": f"arn:aws:sagemaker:{REGION}:123456789012:model-package/scones-vehicle-classifier/1"}
    training = training_job_request(s, run_key=key, job_name=f"scones-train-{key.lower()}",
                                    partition_uri=uri("datasets", key) + "/",
                                    source_uri=uri("code", "model", "abc", "sourcedir.tar.gz"),
                                    hyperparameters=s.training.hyperparameters(), output_uri=uri("models", key) + "/")
    return [
        ("CreateProcessingJob", ingest_processing_request(
            s, run_key=key, job_name=f"scones-ingest-{key.lower()}", code_uri=uri("code", "ingest", "abc") + "/",
            archive_uri=uri("raw", "cifar.tar.gz"), archive_md5="0" * 32,
            staging_uri=uri("staging", "datasets", key) + "/", include_labelled=True)),
        ("CreateTrainingJob", training),
        ("CreateHyperParameterTuningJob", tuning_job_request(s, run_key=key, tuning_job_name=f"scones-{key.lower()}",
                                                              training_request_template=training)),
        ("CreateProcessingJob", evaluation_request(
            s, run_key=key, job_name=f"scones-evaluate-{key.lower()}", code_uri=uri("code", "model", "abc") + "/",
            model_data_url=uri("models", key, "model.tar.gz"), partition_uri=uri("datasets", key) + "/",
            champion_model_data_url=uri("models", "older", "model.tar.gz"), output_uri=uri("models", key, "ev") + "/")),
        ("CreateProcessingJob", baseline_request(
            s, run_key=key, job_name=f"scones-baseline-{key.lower()}", code_uri=uri("code", "monitor", "abc") + "/",
            capture_uri=uri("models", key, "ev", "validation_capture.jsonl"),
            output_uri=uri("models", key, "b") + "/")),
        ("CreateProcessingJob", analysis_request(
            s, run_key=key, job_name=f"scones-monitor-{key.lower()}", code_uri=uri("code", "monitor", "abc") + "/",
            capture_uris=[uri("datacapture", s.deploy.endpoint_name, s.deploy.variant_name, "2026/01/01/00") + "/"],
            baseline_uri=uri("models", key, "b"), start=datetime(2026, 1, 1, tzinfo=UTC),
            end=datetime(2026, 1, 1, 1, tzinfo=UTC), output_uri=uri("monitoring", key) + "/")),
        ("CreateModel", model_request(s, model_version_record=record, model_name=f"scones-model-v1-{key.lower()}",
                                      run_key=key)),
        ("CreateEndpointConfig", endpoint_config_request(s, config_name=f"scones-config-v1-{key.lower()}",
                                                         model_name=f"scones-model-v1-{key.lower()}", run_key=key,
                                                         model_version_record=record)),
        ("CreateMonitoringSchedule", monitoring_schedule_request(
            s, schedule_name=f"scones-monitor-{s.deploy.endpoint_name}", baseline_uri=uri("models", key, "b"),
            output_uri=uri("monitoring", s.deploy.endpoint_name, "model-monitor") + "/")),
        ("CreateModelPackage", model_package_request(
            s, run_key=key, model_data_url=uri("models", key, "model.tar.gz"), evaluation_uri=uri("models", key, "e"),
            metrics={"accuracy": 0.9, "ece": 0.05}, dataset_manifest_sha256="a" * 64,
            trained_from=TrainingInputs("a" * 64, "b" * 64, "c" * 64).as_metadata(),
            hyperparameters={"epochs": 3}, training_job_name=f"scones-train-{key.lower()}")),
    ]


def test_sagemaker_role_permits_what_every_request_config_asks(stack, account):
    requests = [r for operation, params in built_requests()
                for r in sagemaker_role_requests(account, operation, params, capture_destination(SETTINGS))]
    evaluation = iam_report.record(evaluate_role(stack, "SageMakerExecutionRole", requests))
    assert evaluation.denied == [], evaluation.denial_report()
    assert {d.request.action for d in evaluation.decisions} >= {
        "s3:GetObject", "s3:PutObject", "s3:ListBucket", "kms:Decrypt", "kms:GenerateDataKey", "ecr:BatchGetImage",
        "ecr:GetAuthorizationToken", "logs:PutLogEvents", "cloudwatch:PutMetricData"}


def test_mwaa_role_may_send_every_request_config(stack, account):
    requests = [r for operation, params in built_requests()
                for r in api_call_requests(account, "sagemaker", operation, params)]
    evaluation = iam_report.record(evaluate_role(stack, "MwaaExecutionRole", requests))
    assert evaluation.denied == [], evaluation.denial_report()
    assert {"iam:PassRole", "sagemaker:AddTags"} <= {d.request.action for d in evaluation.decisions}
