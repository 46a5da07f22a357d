"""``make aws-preflight`` against moto's server (an account set up as the stack would leave it), with botocore's
Stubber for MWAA, which moto does not have: every check passes there, and each gap is one failing line with its
fix."""

from __future__ import annotations

import functools
import io
import json
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber

from deploy.cloudformation.stack_parameters import analyzer_image_tag
from deploy.preflight import __main__ as preflight_cli
from deploy.preflight.checks import FUNCTIONS, Check, Clients, expected_definition, run_checks
from include.settings import Settings, get_settings
from tests.aws.moto_harness import MotoServer
from tests.support.stack import ACCOUNT, REGION, deployable_settings, simulated_stack

SETTINGS = deployable_settings()
STACK = simulated_stack(SETTINGS)
POOL = {"name": SETTINGS.sagemaker_pool, "slots": SETTINGS.sagemaker_pool_slots, "occupied_slots": 0,
        "running_slots": 0, "queued_slots": 0, "scheduled_slots": 0, "open_slots": 4, "deferred_slots": 0,
        "include_deferred": False, "description": "SageMaker jobs"}
CHECKS = ["identity and region", "bucket versioning", "bucket public access", "SageMaker execution role",
          "MWAA execution role", "state machine", *(f"Lambda {STACK.physical_name(f)}" for f in FUNCTIONS),
          "analyzer image", "MWAA pool"]


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer.start(tmp_path_factory.mktemp("moto-preflight") / "moto_server.log")
    try:
        yield server
    finally:
        server.stop()


@functools.cache
def _session() -> boto3.session.Session:
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                 aws_session_token="testing", region_name=REGION)


def client(moto: MotoServer, service: str) -> Any:
    """One client per service and server (creating clients is what costs time here)."""
    return _client(moto.url, service)


@functools.cache
def _client(url: str, service: str) -> Any:
    return _session().client(service, endpoint_url=url)


def trust(service: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})


def handler_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def lambda_handler(event, context):\n    return event\n")
    return buffer.getvalue()


def deploy_stack(moto: MotoServer) -> None:
    """What the stack (and README steps 1-3) leave in the account, from the same template and settings."""
    moto.reset()
    s3, iam = client(moto, "s3"), client(moto, "iam")
    s3.create_bucket(Bucket=SETTINGS.bucket)
    s3.put_bucket_versioning(Bucket=SETTINGS.bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_public_access_block(Bucket=SETTINGS.bucket, PublicAccessBlockConfiguration=dict.fromkeys(
        ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True))
    for role, service in (("SageMakerExecutionRole", "sagemaker.amazonaws.com"),
                          ("MwaaExecutionRole", "airflow-env.amazonaws.com"),
                          ("StateMachineRole", "states.amazonaws.com"), ("ClassifyImageRole", "lambda.amazonaws.com")):
        iam.create_role(RoleName=STACK.physical_name(role), AssumeRolePolicyDocument=trust(service))
    client(moto, "stepfunctions").create_state_machine(
        name=STACK.physical_name("InferenceStateMachine"), definition=json.dumps(expected_definition(STACK)),
        roleArn=STACK.arn("StateMachineRole"))
    for function in FUNCTIONS:
        variables = {k: str(v) for k, v in STACK.properties(function)["Environment"]["Variables"].items()}
        client(moto, "lambda").create_function(
            FunctionName=STACK.physical_name(function), Runtime="python3.12", Role=STACK.arn("ClassifyImageRole"),
            Handler="app.lambda_handler", Code={"ZipFile": handler_zip()}, Environment={"Variables": variables})
    ecr = client(moto, "ecr")
    ecr.create_repository(repositoryName=STACK.physical_name("DriftAnalyzerRepository"))
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2,
                           "digest": "sha256:" + "0" * 64}, "layers": []}
    ecr.put_image(repositoryName=STACK.physical_name("DriftAnalyzerRepository"), imageManifest=json.dumps(manifest),
                  imageTag=analyzer_image_tag())


def stubbed_mwaa(pool: dict[str, Any] | None = POOL) -> Any:
    """MWAA as botocore's Stubber answers it: the environment exists; the pool as given (None: no such pool)."""
    client = botocore.session.get_session().create_client(
        "mwaa", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    stubber = Stubber(client)
    name = SETTINGS.mwaa.environment_name
    stubber.add_response("get_environment", {"Environment": {
        "Name": name, "Status": "AVAILABLE", "ExecutionRoleArn": STACK.arn("MwaaExecutionRole")}}, {"Name": name})
    request = {"Name": name, "Method": "GET", "Path": f"/pools/{SETTINGS.sagemaker_pool}"}
    if pool is None:
        stubber.add_client_error("invoke_rest_api", "RestApiClientException", "Pool not found",
                                 http_status_code=404, expected_params=request,
                                 response_meta={}, modeled_fields={"RestApiStatusCode": 404,
                                                                   "RestApiResponse": {"detail": "not found"}})
    else:
        stubber.add_response("invoke_rest_api", {"RestApiStatusCode": 200, "RestApiResponse": pool}, request)
    stubber.activate()
    return client


def clients(moto: MotoServer, mwaa: Any = None) -> Clients:
    return Clients(sts=client(moto, "sts"), s3=client(moto, "s3"), iam=client(moto, "iam"),
                   stepfunctions=client(moto, "stepfunctions"), lambda_=client(moto, "lambda"),
                   ecr=client(moto, "ecr"), mwaa=mwaa or stubbed_mwaa())


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


def test_an_account_as_the_stack_leaves_it_passes_every_check(moto):
    deploy_stack(moto)
    checks = run_checks(SETTINGS, clients(moto))
    print("\n".join(check.line() for check in checks))
    assert [c.name for c in checks] == CHECKS
    assert [c.line() for c in checks if not c.ok] == []
    assert by_name(checks)["identity and region"].found.startswith(f"account {ACCOUNT} ")


def suspend_versioning(moto: MotoServer) -> None:
    client(moto, "s3").put_bucket_versioning(Bucket=SETTINGS.bucket, VersioningConfiguration={"Status": "Suspended"})


def open_public_access(moto: MotoServer) -> None:
    client(moto, "s3").delete_public_access_block(Bucket=SETTINGS.bucket)


def delete_sagemaker_role(moto: MotoServer) -> None:
    client(moto, "iam").delete_role(RoleName=STACK.physical_name("SageMakerExecutionRole"))


def deploy_an_older_definition(moto: MotoServer) -> None:
    older = expected_definition(STACK)
    older["Comment"] = "an older revision"
    client(moto, "stepfunctions").update_state_machine(stateMachineArn=SETTINGS.inference.state_machine_arn,
                                                      definition=json.dumps(older))


def leave_a_stale_threshold(moto: MotoServer) -> None:
    client(moto, "lambda").update_function_configuration(
        FunctionName=STACK.physical_name("FilterLowConfidenceFunction"),
        Environment={"Variables": {"CONFIDENCE_THRESHOLD": "0.5"}})


def never_push_the_analyzer_image(moto: MotoServer) -> None:
    client(moto, "ecr").batch_delete_image(repositoryName=STACK.physical_name("DriftAnalyzerRepository"),
                                          imageIds=[{"imageTag": analyzer_image_tag()}])


GAPS: list[tuple[Callable[[MotoServer], None], str, str]] = [
    (suspend_versioning, "bucket versioning", "put-bucket-versioning"),
    (open_public_access, "bucket public access", "put-public-access-block"),
    (delete_sagemaker_role, "SageMaker execution role", "deploy the stack"),
    (deploy_an_older_definition, "state machine", "redeploy the stack"),
    (leave_a_stale_threshold, "Lambda scones-filter-low-confidence", "make stack-parameters"),
    (never_push_the_analyzer_image, "analyzer image", "docker push"),
]


@pytest.mark.parametrize(("gap", "check", "fix"), GAPS, ids=[name for _, name, _ in GAPS])
def test_each_gap_fails_its_own_check_with_the_fix(moto, gap, check, fix):
    deploy_stack(moto)
    gap(moto)
    failed = [c for c in run_checks(SETTINGS, clients(moto)) if not c.ok]
    assert [c.name for c in failed] == [check]
    assert fix in failed[0].fix, failed[0].line()


def test_a_missing_pool_is_created_by_the_fix(moto):
    deploy_stack(moto)
    failed = [c for c in run_checks(SETTINGS, clients(moto, stubbed_mwaa(pool=None))) if not c.ok]
    assert [c.name for c in failed] == ["MWAA pool"]
    assert "--method POST --path /pools" in failed[0].fix and '"name": "sagemaker_jobs"' in failed[0].fix


def test_settings_of_another_account_fail_the_identity_check(moto):
    deploy_stack(moto)
    elsewhere = "arn:aws:iam::210987654321:role/scones-sagemaker-execution"
    other = deployable_settings({"SCONES_SAGEMAKER_ROLE_ARN": elsewhere})
    identity = run_checks(other, clients(moto))[0]
    assert not identity.ok and "SCONES_SAGEMAKER_ROLE_ARN is in 210987654321" in identity.found
    assert "AWS_PROFILE" in identity.fix


def test_a_stale_analyzer_tag_names_the_code_version(moto):
    deploy_stack(moto)
    stale: Settings = deployable_settings(image_tag="0123456789abcdef")
    check = by_name(run_checks(stale, clients(moto)))["analyzer image"]
    assert not check.ok and analyzer_image_tag() in check.found


def test_cli_prints_one_line_per_check_and_fails_on_any(moto, monkeypatch, capsys, tmp_path: Path):
    deploy_stack(moto)
    suspend_versioning(moto)
    for name, value in {"SCONES_BUCKET": SETTINGS.bucket, "SCONES_SAGEMAKER_ROLE_ARN": SETTINGS.sagemaker_role_arn,
                        "SCONES_INFERENCE__STATE_MACHINE_ARN": SETTINGS.inference.state_machine_arn,
                        "SCONES_IMAGES__MONITOR_URI": SETTINGS.images.monitor_uri}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(preflight_cli, "clients_for", lambda region: clients(moto))
    get_settings.cache_clear()
    try:
        assert preflight_cli.main() == 1
    finally:
        get_settings.cache_clear()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(CHECKS) + 1 and lines[-1] == f"{len(CHECKS) - 1} of {len(CHECKS)} checks passed"
    assert [line.split(":")[0] for line in lines if line.startswith("FAIL")] == ["FAIL bucket versioning"]
