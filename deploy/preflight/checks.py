"""Read-only checks that an account holds what the settings expect, each with the fix when it does not.

Every check makes read calls only (``sts:GetCallerIdentity``, ``s3:GetBucketVersioning``,
``s3:GetPublicAccessBlock``, ``iam:GetRole``, ``states:DescribeStateMachine``,
``lambda:GetFunctionConfiguration``, ``ecr:DescribeImages``, ``airflow:GetEnvironment``, and
``airflow:InvokeRestApi`` with ``GET``). What each resource should look like comes from the template
deployed with the parameters these settings give (:mod:`deploy.cloudformation.stack_parameters`), so a
stack deployed with other names, an old definition or stale Lambda settings is caught before a DAG runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from deploy.cloudformation.cfn_template import TEMPLATE_FILE
from deploy.cloudformation.stack_model import StackModel
from deploy.cloudformation.stack_parameters import analyzer_image_tag, stack_parameters
from include.settings import Settings, env_name

FUNCTIONS = ("SerializeImageFunction", "ClassifyImageFunction", "FilterLowConfidenceFunction")
STACK_UPDATE = ("update the stack with `make stack-parameters` and `sam deploy ... --parameter-overrides "
                "$(cat build/cloudformation/parameter-overrides.txt)`")


@dataclass(frozen=True)
class Check:
    """One check's outcome: what was found and, when it failed, what to do."""

    name: str
    ok: bool
    found: str
    fix: str = ""

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.found}" + ("" if self.ok else f" -> {self.fix}")


@dataclass(frozen=True)
class Clients:
    """boto3 clients of the account being checked."""

    sts: Any
    s3: Any
    iam: Any
    stepfunctions: Any
    lambda_: Any
    ecr: Any
    mwaa: Any


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _arn_parts(arn: str) -> tuple[str, str]:
    """(region, account) of an ARN."""
    parts = arn.split(":")
    return (parts[3], parts[4]) if len(parts) > 5 else ("", "")


def check_identity(settings: Settings, clients: Clients) -> tuple[Check, str]:
    identity = clients.sts.get_caller_identity()
    account = identity["Account"]
    misplaced = []
    for dotted, arn, regional in (("sagemaker_role_arn", settings.sagemaker_role_arn, False),
                                  ("inference.state_machine_arn", settings.inference.state_machine_arn, True),
                                  ("alerts_topic_arn", settings.alerts_topic_arn, True)):
        if not arn:
            continue
        region, owner = _arn_parts(arn)
        if owner != account or (regional and region != settings.region):
            misplaced.append(f"{env_name(dotted)} is in {owner}/{region or 'global'}")
    found = f"account {account} as {identity['Arn']}, region {settings.region}"
    if misplaced:
        return Check("identity and region", False, f"{found}; but {', '.join(misplaced)}",
                     "use the profile of the stack's account (AWS_PROFILE in .env) and its region (SCONES_REGION), "
                     "or fill the settings from this account's SconesEnvironment output"), account
    return Check("identity and region", True, found), account


def check_bucket(settings: Settings, clients: Clients) -> list[Check]:
    bucket = settings.bucket
    try:
        status = clients.s3.get_bucket_versioning(Bucket=bucket).get("Status", "never enabled")
    except ClientError as exc:
        return [Check("bucket", False, f"s3://{bucket}: {_error_code(exc)}",
                      f"deploy the stack with BucketName={bucket} (`make stack-parameters`), or set SCONES_BUCKET "
                      "to the stack's bucket")]
    checks = [Check("bucket versioning", status == "Enabled", f"s3://{bucket} versioning {status}",
                    f"enable versioning (MWAA reads object versions): aws s3api put-bucket-versioning --bucket {bucket}"
                    " --versioning-configuration Status=Enabled")]
    try:
        block = clients.s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except ClientError as exc:
        block = {} if _error_code(exc) == "NoSuchPublicAccessBlockConfiguration" else None
        if block is None:
            raise
    open_settings = sorted(k for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
                                       "RestrictPublicBuckets") if not block.get(k))
    found = f"not blocked: {', '.join(open_settings)}" if open_settings else "all public access blocked"
    checks.append(Check("bucket public access", not open_settings, found,
                        f"aws s3api put-public-access-block --bucket {bucket} --public-access-block-configuration "
                        "BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true"))
    return checks


def _role_check(clients: Clients, label: str, role_name: str, service: str) -> Check:
    try:
        role = clients.iam.get_role(RoleName=role_name)["Role"]
    except ClientError as exc:
        return Check(label, False, f"role {role_name}: {_error_code(exc)}",
                     "deploy the stack (it creates the role), or set the setting to the stack's role")
    trust = role.get("AssumeRolePolicyDocument", {})
    trust_text = trust if isinstance(trust, str) else json.dumps(trust)
    if service not in trust_text:
        return Check(label, False, f"role {role_name} does not trust {service}",
                     f"let {service} assume it (the stack's role does)")
    return Check(label, True, f"role {role['Arn']} trusted by {service}")


def check_roles(settings: Settings, clients: Clients, stack: StackModel) -> list[Check]:
    return [_role_check(clients, "SageMaker execution role", settings.sagemaker_role_arn.rsplit("/", 1)[1],
                        "sagemaker.amazonaws.com"),
            _role_check(clients, "MWAA execution role", stack.physical_name("MwaaExecutionRole"),
                        "airflow-env.amazonaws.com")]


def definition_file(stack: StackModel) -> Path:
    """The definition file the template deploys (the one the local runtime runs)."""
    uri = stack.resource("InferenceStateMachine")["Properties"]["DefinitionUri"]
    return (TEMPLATE_FILE.parent / uri).resolve()


def expected_definition(stack: StackModel) -> Any:
    """The local definition file with the stack's substitutions, as Step Functions should hold it."""
    text = definition_file(stack).read_text()
    for placeholder, value in stack.properties("InferenceStateMachine")["DefinitionSubstitutions"].items():
        text = text.replace("${" + placeholder + "}", str(value))
    return json.loads(text)


def check_state_machine(settings: Settings, clients: Clients, stack: StackModel) -> Check:
    arn = settings.inference.state_machine_arn
    try:
        deployed = json.loads(clients.stepfunctions.describe_state_machine(stateMachineArn=arn)["definition"])
    except ClientError as exc:
        return Check("state machine", False, f"{arn}: {_error_code(exc)}",
                     f"deploy the stack, or set {env_name('inference.state_machine_arn')} from its outputs")
    local = definition_file(stack).name
    if deployed != expected_definition(stack):
        return Check("state machine", False, f"{arn} runs another definition than {local}",
                     f"redeploy the stack so it holds the current {local}")
    return Check("state machine", True, f"{arn} runs {local}")


def check_lambdas(clients: Clients, stack: StackModel) -> list[Check]:
    checks = []
    for function in FUNCTIONS:
        name = stack.physical_name(function)
        expected = {k: str(v) for k, v in stack.properties(function)["Environment"]["Variables"].items()}
        try:
            configuration = clients.lambda_.get_function_configuration(FunctionName=name)
        except ClientError as exc:
            checks.append(Check(f"Lambda {name}", False, _error_code(exc), "deploy the stack"))
            continue
        actual = configuration.get("Environment", {}).get("Variables", {})
        differences = [f"{k}={actual.get(k)!r} (settings give {v!r})"
                       for k, v in expected.items() if actual.get(k) != v]
        checks.append(Check(f"Lambda {name}", not differences,
                            "environment matches the settings" if not differences else "; ".join(differences),
                            STACK_UPDATE))
    return checks


def check_analyzer_image(settings: Settings, clients: Clients) -> Check:
    uri, tag = settings.images.monitor_uri, analyzer_image_tag()
    if not uri:
        if settings.monitor.use_model_monitor:
            return Check("analyzer image", False, f"{env_name('images.monitor_uri')} is empty",
                         "push the analyzer image (README step 3) and set it: Model Monitor runs the image")
        return Check("analyzer image", True, "not set: the analyzer runs as a Processing job on the framework image")
    repository, _, image_tag = uri.split("/", 1)[-1].partition(":")
    if image_tag != tag:
        return Check("analyzer image", False, f"{uri} is tagged {image_tag!r}, the analyzer code version is {tag}",
                     f"build and push programs/monitor as :{tag}, then {STACK_UPDATE} (or set "
                     f"{env_name('images.monitor_uri')})")
    try:
        clients.ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except ClientError as exc:
        return Check("analyzer image", False, f"{uri}: {_error_code(exc)}",
                     f"docker build -t {uri} programs/monitor && docker push {uri}")
    return Check("analyzer image", True, f"{uri} is pushed and matches the analyzer code version")


def check_mwaa_pool(settings: Settings, clients: Clients) -> Check:
    name, pool = settings.mwaa.environment_name, settings.sagemaker_pool
    try:
        clients.mwaa.get_environment(Name=name)
        answer = clients.mwaa.invoke_rest_api(Name=name, Method="GET", Path=f"/pools/{pool}")
    except ClientError as exc:
        code = _error_code(exc)
        if code == "ResourceNotFoundException":
            return Check("MWAA pool", False, f"no MWAA environment {name!r}",
                         "create it (stack parameter CreateMwaaEnvironment=true) or set SCONES_MWAA__ENVIRONMENT_NAME")
        status = exc.response.get("RestApiStatusCode")
        if code == "RestApiClientException" and status == 404:
            body = json.dumps({"name": pool, "slots": settings.sagemaker_pool_slots, "include_deferred": False})
            return Check("MWAA pool", False, f"environment {name} has no pool {pool!r}",
                         f"aws mwaa invoke-rest-api --name {name} --method POST --path /pools --body '{body}' "
                         "(or Admin -> Pools in the Airflow UI)")
        raise
    slots = answer.get("RestApiResponse", {}).get("slots", 0)
    return Check("MWAA pool", slots >= 1, f"pool {pool!r} in {name} has {slots} slots",
                 f"give pool {pool!r} slots (setting sagemaker_pool_slots = {settings.sagemaker_pool_slots})")


def _guarded(name: str, check: Callable[[], Check | list[Check]]) -> list[Check]:
    """A check whose call was refused (no permission, throttled) is reported, not raised."""
    try:
        result = check()
    except ClientError as exc:
        return [Check(name, False, f"{_error_code(exc)}: {exc}", "run the preflight with read access to it")]
    return result if isinstance(result, list) else [result]


def run_checks(settings: Settings, clients: Clients) -> list[Check]:
    """Every check, in the order a deployment builds things up."""
    identity, account = check_identity(settings, clients)
    stack = StackModel(stack_parameters(settings), account, settings.region)
    return [
        identity,
        *_guarded("bucket", lambda: check_bucket(settings, clients)),
        *_guarded("roles", lambda: check_roles(settings, clients, stack)),
        *_guarded("state machine", lambda: check_state_machine(settings, clients, stack)),
        *_guarded("Lambdas", lambda: check_lambdas(clients, stack)),
        *_guarded("analyzer image", lambda: check_analyzer_image(settings, clients)),
        *_guarded("MWAA pool", lambda: check_mwaa_pool(settings, clients)),
    ]
