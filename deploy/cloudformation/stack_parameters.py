"""One source of truth with the stack: names flow from the settings into its parameters, ARNs flow back out.

:func:`stack_parameters` derives every template parameter that names something the DAGs also name
(bucket, endpoint, variant, state machine, rollback alarms, capture mode, limits, the MWAA environment,
the framework images' registry in the region) from the settings, so the stack is deployed with the names
the code will use; the rollback alarms' thresholds and the endpoint's autoscaling come from ``[deploy]`` too,
and the bucket's lifecycle rules take their days from ``[retention]`` (:mod:`include.retention`: each rule's
parameter is the one the template's rule of that ``Id`` refers to, and its prefix must be the template's).
The stack's ``SconesEnvironment`` output carries every setting the stack decides
(:data:`STACK_PROVIDED_SETTINGS`: the bucket, region and every ARN) for ``.env``.

Usage: ``python -m deploy.cloudformation.stack_parameters [--out build/cloudformation]`` writes
``parameters.json`` (CreateStack's format) and ``parameter-overrides.txt`` (``Key=Value`` pairs for
``sam deploy`` / ``aws cloudformation deploy``); ``--image-tag`` prints the drift analyzer image's tag.
"""

from __future__ import annotations

import argparse
import json
import posixpath
import sys
from pathlib import Path

from deploy.cloudformation.cfn_template import load_template
from include.builders.common import framework_image_uri
from include.builders.deploy import NAME_PREFIX
from include.code_bundle import code_version
from include.retention import NONCURRENT_RULE_ID, retention_rules
from include.settings import PROJECT_ROOT, Settings, SettingsError, env_name, get_settings

STACK_PROVIDED_SETTINGS = (
    "runtime", "bucket", "region", "sagemaker_role_arn", "alerts_topic_arn", "inference.state_machine_arn",
    "images.monitor_uri",
)
"""Settings whose values the stack decides, carried by its ``SconesEnvironment`` output."""
DEFAULT_OUT = PROJECT_ROOT / "build" / "cloudformation"
EXAMPLE_BUCKET = "scones-mlops"
"""The settings file's bucket name: an example, since bucket names are global."""


class StackParameterError(ValueError):
    """The settings name something the stack cannot create or permit."""


def analyzer_image_tag() -> str:
    """The drift analyzer image's tag: the code version of ``programs/monitor`` (the digest jobs ship it under)."""
    return code_version("monitor")


def _named(dotted: str) -> str:
    return f"'{dotted}' ({env_name(dotted)})"


def template_lifecycle_rules() -> dict[str, dict]:
    """The template bucket's lifecycle rules by ``Id``."""
    bucket = load_template()["Resources"]["Bucket"]["Properties"]
    return {rule["Id"]: rule for rule in bucket["LifecycleConfiguration"]["Rules"]}


def _retention_parameters(settings: Settings) -> tuple[dict[str, str], list[str]]:
    """The retention days by template parameter, and the rules the template lacks or places elsewhere."""
    template_rules, parameters, problems = template_lifecycle_rules(), {}, []
    for rule in retention_rules(settings):
        declared = template_rules.get(rule.rule_id)
        if declared is None or declared.get("Prefix") != rule.prefix:
            where = declared.get("Prefix") if declared else "no such rule"
            problems.append(f"{_named(rule.prefix_setting)} = {rule.prefix!r} holds courier photos, but the template's "
                            f"lifecycle rule {rule.rule_id} covers {where}: keep the prefix, or change the rule too")
            continue
        parameters[declared["ExpirationInDays"]["Ref"]] = str(rule.days)
        parameters[declared["NoncurrentVersionExpiration"]["NoncurrentDays"]["Ref"]] = str(
            settings.retention.photo_versions_days)
    replaced = template_rules[NONCURRENT_RULE_ID]["NoncurrentVersionExpiration"]["NoncurrentDays"]["Ref"]
    parameters[replaced] = str(settings.retention.other_versions_days)
    return parameters, problems


def _problems(settings: Settings) -> list[str]:
    problems = []
    if settings.bucket == EXAMPLE_BUCKET:
        problems.append(f"{_named('bucket')} = {EXAMPLE_BUCKET!r} is the example name: bucket names are global, "
                        "choose your own")
    for dotted, value in (("deploy.endpoint_name", settings.deploy.endpoint_name),
                          ("registry.model_package_group", settings.registry.model_package_group)):
        if not value.startswith(f"{NAME_PREFIX}-") or value != value.lower():
            problems.append(f"{_named(dotted)} = {value!r} must be lower case and start with '{NAME_PREFIX}-': "
                            "the stack grants the MWAA role SageMaker access to those names only")
    if len(settings.deploy.rollback_alarms) != 2:
        problems.append(f"{_named('deploy.rollback_alarms')} = {settings.deploy.rollback_alarms} must name the "
                        "stack's two alarms: the server-error alarm, then the latency alarm")
    if posixpath.basename(settings.mwaa.dags_prefix.strip("/")) != "dags":
        problems.append(f"{_named('mwaa.dags_prefix')} = {settings.mwaa.dags_prefix!r} must end with '/dags': the "
                        "stack's MWAA environment reads <MwaaPrefix>/dags")
    return problems


def stack_parameters(settings: Settings, image_tag: str | None = None) -> dict[str, str]:
    """The template parameters the settings decide, by parameter name."""
    retention, misplaced = _retention_parameters(settings)
    problems = _problems(settings) + misplaced
    if problems:
        raise StackParameterError("the settings don't fit the stack: " + "; ".join(problems))
    error_alarm, latency_alarm = settings.deploy.rollback_alarms
    return {
        "NamePrefix": NAME_PREFIX,
        "BucketName": settings.bucket,
        "EndpointName": settings.deploy.endpoint_name,
        "VariantName": settings.deploy.variant_name,
        "StateMachineName": settings.inference.state_machine_arn.rsplit(":", 1)[1],
        "ConfidenceThreshold": str(settings.confidence_threshold),
        "CaptureInLambda": "true" if settings.deploy.serverless else "false",
        "MaxImageBytes": str(settings.inference.max_image_bytes),
        "MaxImagePixels": str(settings.ingest.max_image_pixels),
        "InlineLimitBytes": str(settings.inference.inline_limit_bytes),
        "ErrorAlarmName": error_alarm,
        "LatencyAlarmName": latency_alarm,
        "ErrorAlarmThreshold": str(settings.deploy.error_alarm_threshold),
        "LatencyAlarmThresholdMicroseconds": str(round(settings.deploy.latency_alarm_milliseconds * 1000)),
        "EnableEndpointAutoscaling": "true" if settings.deploy.autoscaling else "false",
        "AutoscalingMinInstances": str(settings.deploy.autoscaling_min_instances),
        "AutoscalingMaxInstances": str(settings.deploy.autoscaling_max_instances),
        "AutoscalingInvocationsPerInstance": str(settings.deploy.autoscaling_invocations_per_instance),
        "AnalyzerImageTag": analyzer_image_tag() if image_tag is None else image_tag,
        "MwaaEnvironmentName": settings.mwaa.environment_name,
        "MwaaPrefix": posixpath.dirname(settings.mwaa.dags_prefix.strip("/")),
        "MwaaAirflowVersion": settings.mwaa.airflow_version,
        "FrameworkImageRegistryAccount": framework_image_uri(settings, "training").split(".", 1)[0],
        **retention,
    }


def settings_environment(output: str) -> dict[str, str]:
    """The ``SconesEnvironment`` output (``NAME=value`` pairs separated by spaces) as a mapping."""
    pairs = {}
    for item in output.split():
        name, equals, value = item.partition("=")
        if not equals or not name.startswith("SCONES_"):
            raise ValueError(f"SconesEnvironment item {item!r} is not SCONES_<NAME>=<value>")
        pairs[name] = value
    return pairs


def write_parameter_files(parameters: dict[str, str], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    as_json = out / "parameters.json"
    as_json.write_text(json.dumps([{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
                                  indent=1) + "\n")
    overrides = out / "parameter-overrides.txt"
    overrides.write_text(" ".join(f"{k}={v}" for k, v in parameters.items()) + "\n")
    return [as_json, overrides]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the stack parameters the settings decide.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the parameter files")
    parser.add_argument("--image-tag", action="store_true", help="only print the drift analyzer image's tag")
    args = parser.parse_args(argv)
    if args.image_tag:
        print(analyzer_image_tag())
        return 0
    try:
        paths = write_parameter_files(stack_parameters(get_settings()), args.out)
    except (SettingsError, StackParameterError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
