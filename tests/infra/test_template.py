"""The CloudFormation template: lints clean, is least-privilege, and matches the code and settings it deploys."""

from __future__ import annotations

import ast
import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from deploy.cloudformation.cfn_template import TEMPLATE_FILE, load_template
from deploy.cloudformation.policy_check import check_template, identity_policies, main
from include.runtime.local.inference_flow import DEFINITION_FILE, FUNCTIONS
from include.settings import PROJECT_ROOT, load_settings
from tests.support import iam_report

CFN_LINT = Path(sys.executable).with_name("cfn-lint")
SETTINGS = load_settings(environ={})


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def resources_of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def template_path(relative: str) -> Path:
    return (TEMPLATE_FILE.parent / relative).resolve()


def test_cfn_lint_passes():
    if not CFN_LINT.exists():
        pytest.skip(f"cfn-lint not installed beside {sys.executable}: run make (requirements/lock.txt has it)")
    result = subprocess.run([str(CFN_LINT), str(TEMPLATE_FILE)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_policy_check_passes_on_the_template(template, capsys):
    findings = check_template(template)
    assert findings == []
    assert main([str(TEMPLATE_FILE)]) == 0
    statements = [s for _, _, d in identity_policies(template) for s in d["Statement"] if s.get("Effect") == "Allow"]
    actions = [a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]
    star = [s for s in statements if s.get("Resource") == "*" or "*" in (s.get("Resource") or [])]
    wildcard = [a for a in actions if a == "*" or a.endswith(":*")]
    iam_report.record_policy_check(len(statements), len(set(actions)), len(wildcard), len(star), len(findings))
    assert wildcard == []


def _statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]


@pytest.mark.parametrize(
    "mutation",
    [
        {"Effect": "Allow", "Action": "*", "Resource": {"Fn::GetAtt": ["Bucket", "Arn"]}},
        {"Effect": "Allow", "Action": "s3:*", "Resource": {"Fn::GetAtt": ["Bucket", "Arn"]}},
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": {"Fn::GetAtt": ["Bucket", "Arn"]}},
        {"Effect": "Allow", "Action": "s3:GetObject", "NotResource": "arn:aws:s3:::other/*"},
        {"Effect": "Allow", "Action": "sagemaker:ListMonitoringExecutions",
         "Resource": {"Fn::Sub": "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:*/scones-*"}},
        {"Effect": "Allow", "Action": "s3:GetObjekt", "Resource": {"Fn::GetAtt": ["Bucket", "Arn"]}},
    ],
    ids=["action-star", "whole-service", "resource-star", "not-action", "unconditioned-not-resource",
         "no-resource-type-scoped-to-arns", "unknown-action"],
)
def test_policy_check_fails_on_broad_statements(template, mutation, tmp_path, capsys):
    mutated = copy.deepcopy(template)
    _statements(mutated, "FilterLowConfidenceRole").append({"Sid": "TooBroad", **mutation})
    findings = check_template(mutated)
    assert [(f.resource, f.sid) for f in findings] == [("FilterLowConfidenceRole", "TooBroad")]
    path = tmp_path / "template.json"
    path.write_text(json.dumps(mutated))
    assert main([str(path)]) == 1
    assert "FilterLowConfidenceRole / filter-low-confidence / TooBroad" in capsys.readouterr().err


@pytest.mark.parametrize("actions", [
    ["sagemaker:ListMonitoringExecutions", "ecr:GetAuthorizationToken"], ["logs:*LogDelivery"],
    ["cloudwatch:PutMetricData"],
])
def test_star_resource_passes_for_actions_without_a_resource_type(template, actions):
    mutated = copy.deepcopy(template)
    _statements(mutated, "FilterLowConfidenceRole").append({"Sid": "Star", "Effect": "Allow", "Action": actions,
                                                            "Resource": "*"})
    assert check_template(mutated) == []


def test_policy_check_fails_on_managed_policies(template):
    mutated = copy.deepcopy(template)
    mutated["Resources"]["FilterLowConfidenceRole"]["Properties"]["ManagedPolicyArns"] = [
        "arn:aws:iam::aws:policy/AdministratorAccess"
    ]
    assert [f.resource for f in check_template(mutated)] == ["FilterLowConfidenceRole"]


def test_policy_check_reads_short_form_tags(tmp_path):
    path = tmp_path / "template.yaml"
    path.write_text(
        "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n      Policies:\n"
        "        - PolicyName: p\n          PolicyDocument:\n            Statement:\n"
        "              - {Sid: Broad, Effect: Allow, Action: 's3:*', Resource: !Sub '${B.Arn}/*'}\n"
        "              - {Sid: Fine, Effect: Allow, Action: s3:GetObject, Resource: !GetAtt B.Arn}\n"
    )
    assert [f.sid for f in check_template(load_template(path))] == ["Broad"]


def test_state_machine_is_the_file_the_local_runtime_executes(template):
    (machine,) = resources_of_type(template, "AWS::Serverless::StateMachine").values()
    assert template_path(machine["Properties"]["DefinitionUri"]) == DEFINITION_FILE.resolve()
    placeholders = set(re.findall(r"\$\{(\w+)\}", DEFINITION_FILE.read_text()))
    substitutions = machine["Properties"]["DefinitionSubstitutions"]
    assert placeholders == set(substitutions) == set(FUNCTIONS)
    functions = template["Resources"]
    for placeholder, arn in substitutions.items():
        logical_id = arn["Fn::GetAtt"][0]
        code_uri = template_path(functions[logical_id]["Properties"]["CodeUri"])
        assert code_uri == (PROJECT_ROOT / "lambdas" / FUNCTIONS[placeholder]).resolve(), placeholder


def _environment_names_read(source: str) -> set[str]:
    """Names read with os.environ.get / os.getenv / os.environ[...] directly or through a helper's parameter."""
    tree = ast.parse(source)

    def reads_environment(call: ast.AST) -> ast.AST | None:
        if isinstance(call, ast.Call) and ast.unparse(call.func) in ("os.environ.get", "os.getenv") and call.args:
            return call.args[0]
        if isinstance(call, ast.Subscript) and ast.unparse(call.value) == "os.environ":
            return call.slice
        return None

    forwarding: dict[str, int] = {}
    for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        parameters = [a.arg for a in function.args.args]
        for node in ast.walk(function):
            argument = reads_environment(node)
            if isinstance(argument, ast.Name) and argument.id in parameters:
                forwarding[function.name] = parameters.index(argument.id)
    names: set[str] = set()
    for node in ast.walk(tree):
        argument = reads_environment(node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in forwarding:
            index = forwarding[node.func.id]
            argument = node.args[index] if index < len(node.args) else None
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            names.add(argument.value)
    return names


def test_every_environment_variable_the_handlers_read_is_set(template):
    functions = resources_of_type(template, "AWS::Serverless::Function")
    assert len(functions) == 3
    for logical_id, function in functions.items():
        properties = function["Properties"]
        assert properties["Runtime"] == "python3.12", logical_id
        assert properties["Handler"] == "app.lambda_handler", logical_id
        handler_source = (template_path(properties["CodeUri"]) / "app.py").read_text()
        read = {name for name in _environment_names_read(handler_source) if not name.startswith("AWS_")}
        assert read, f"{logical_id}: found no environment reads in its handler"
        assert read == set(properties["Environment"]["Variables"]), logical_id


def test_environment_reader_finds_direct_and_forwarded_reads():
    source = (
        "import os\n"
        "def setting(name, default):\n    return os.environ.get(name, default)\n"
        "def handler():\n    return os.environ['A'], os.getenv('B'), setting('C', 1)\n"
    )
    assert _environment_names_read(source) == {"A", "B", "C"}


def test_parameter_defaults_match_the_settings(template):
    defaults = {name: p.get("Default") for name, p in template["Parameters"].items()}
    assert float(defaults["ConfidenceThreshold"]) == SETTINGS.confidence_threshold
    assert defaults["EndpointName"] == SETTINGS.deploy.endpoint_name
    assert defaults["VariantName"] == SETTINGS.deploy.variant_name
    assert defaults["StateMachineName"] == SETTINGS.inference.state_machine_arn.rsplit(":", 1)[1]
    assert int(defaults["MaxImageBytes"]) == SETTINGS.inference.max_image_bytes
    assert int(defaults["MaxImagePixels"]) == SETTINGS.ingest.max_image_pixels
    assert int(defaults["InlineLimitBytes"]) == SETTINGS.inference.inline_limit_bytes
    assert defaults["MwaaEnvironmentName"] == SETTINGS.mwaa.environment_name
    assert defaults["MwaaAirflowVersion"] == SETTINGS.mwaa.airflow_version
    assert f"{defaults['MwaaPrefix']}/dags" == SETTINGS.mwaa.dags_prefix
    assert [defaults["ErrorAlarmName"], defaults["LatencyAlarmName"]] == SETTINGS.deploy.rollback_alarms
    assert defaults["EnableEndpointAutoscaling"] == "false"
    assert defaults["CreateMwaaEnvironment"] == "false"


def test_rollback_alarms_are_named_by_parameters_and_watch_the_endpoint_variant(template):
    alarms = {a["Properties"]["AlarmName"]["Ref"]: a["Properties"]
              for a in resources_of_type(template, "AWS::CloudWatch::Alarm").values()}
    assert set(alarms) == {"ErrorAlarmName", "LatencyAlarmName"}
    assert alarms["ErrorAlarmName"]["MetricName"] == "Invocation5XXErrors"
    assert alarms["LatencyAlarmName"]["MetricName"] == "ModelLatency"
    for alarm in alarms.values():
        assert alarm["Namespace"] == "AWS/SageMaker"
        assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
            "EndpointName": {"Ref": "EndpointName"}, "VariantName": {"Ref": "VariantName"}}


def test_bucket_is_private_versioned_encrypted_and_expires_data_capture(template):
    bucket = template["Resources"]["Bucket"]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    rule = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert rule["SSEAlgorithm"] == "aws:kms"
    expiry = next(r for r in bucket["LifecycleConfiguration"]["Rules"] if r["Id"] == "ExpireDataCapture")
    assert expiry["Prefix"] == SETTINGS.prefixes.capture + "/"
    assert expiry["ExpirationInDays"] == {"Ref": "DataCaptureRetentionDays"}
    (deny,) = template["Resources"]["BucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_lambda_roles_grant_only_their_handlers_needs(template):
    def actions(role: str) -> set[str]:
        found: set[str] = set()
        for statement in _statements(template, role):
            action = statement["Action"]
            found.update(action if isinstance(action, list) else [action])
        return found

    logs = {"logs:CreateLogStream", "logs:PutLogEvents"}
    assert actions("FilterLowConfidenceRole") == logs
    assert actions("SerializeImageRole") == logs | {"s3:GetObject", "kms:Decrypt"}
    assert actions("ClassifyImageRole") == logs | {
        "sagemaker:InvokeEndpoint", "s3:GetObject", "s3:PutObject", "kms:Decrypt", "kms:GenerateDataKey"}


def test_state_machine_role_may_run_its_own_distributed_map_and_nothing_wider(template):
    by_sid = {statement["Sid"]: statement for statement in _statements(template, "StateMachineRole")}
    state_machine = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}"
    assert by_sid["StartOwnChildExecutions"]["Action"] == "states:StartExecution"
    assert by_sid["StartOwnChildExecutions"]["Resource"] == {
        "Fn::Sub": f"{state_machine}:stateMachine:${{StateMachineName}}"}
    assert by_sid["FollowOwnChildExecutions"]["Resource"] == {
        "Fn::Sub": f"{state_machine}:execution:${{StateMachineName}}/*"}
    objects = by_sid["ReadPhotoManifestsWriteResults"]
    assert objects["Resource"] == {"Fn::Sub": f"${{Bucket.Arn}}/{SETTINGS.prefixes.inference}/*"}
    assert set(objects["Action"]) == {"s3:GetObject", "s3:PutObject", "s3:ListMultipartUploadParts",
                                      "s3:AbortMultipartUpload"}
    assert by_sid["UseDataKeyForManifestsAndResults"]["Resource"] == {"Fn::GetAtt": ["DataKey", "Arn"]}
    assert set(by_sid) == {"InvokeTheThreeLambdas", "StartOwnChildExecutions", "FollowOwnChildExecutions",
                           "ReadPhotoManifestsWriteResults", "UseDataKeyForManifestsAndResults",
                           "DeliverExecutionLogs"}


def test_sagemaker_role_is_passed_only_to_sagemaker(template):
    passes = [s for s in _statements(template, "MwaaExecutionRole") if s["Action"] == "iam:PassRole"]
    assert passes == [{
        "Sid": "PassSageMakerRoleToSageMakerOnly", "Effect": "Allow", "Action": "iam:PassRole",
        "Resource": {"Fn::GetAtt": ["SageMakerExecutionRole", "Arn"]},
        "Condition": {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
    }]


def test_optional_parts_sit_behind_their_conditions(template):
    resources = template["Resources"]
    assert resources["EndpointScalableTarget"]["Condition"] == "AutoscalesEndpoint"
    assert resources["EndpointInvocationsScalingPolicy"]["Condition"] == "AutoscalesEndpoint"
    assert resources["MwaaEnvironment"]["Condition"] == "CreatesMwaaEnvironment"
    assert resources["AlertsEmailSubscription"]["Condition"] == "HasAlertEmail"


def test_outputs_cover_every_name_the_settings_need(template):
    assert {
        "BucketName", "SageMakerRoleArn", "StateMachineArn", "AlertsTopicArn", "DriftAnalyzerRepositoryUri",
        "SerializeImageFunctionName", "ClassifyImageFunctionName", "FilterLowConfidenceFunctionName",
        "MwaaExecutionRoleArn", "DataKeyArn",
    } <= set(template["Outputs"])
