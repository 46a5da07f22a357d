"""The IAM requests behind what the product does, for :mod:`deploy.cloudformation.iam_evaluation`.

- :func:`api_call_requests`: an API call a role's code makes (recorded by :mod:`tests.aws.recorder`), as
  IAM authorizes it: the action (``s3:ListBucket`` for ``ListObjectsV2``), each resource ARN, the role it
  passes (``iam:PassRole``), the tags it sets (``sagemaker:AddTags``) and the KMS use an encrypted bucket or
  topic implies;
- :func:`sagemaker_role_requests`: what SageMaker does with the execution role a request config passes it
  (reads its inputs, writes its outputs, pulls its image, writes logs and metrics), per AWS's documented
  execution-role permissions of each API;
- :func:`state_machine_requests`: what Step Functions does with the state machine's role: invoke each
  task's Lambda, run a Distributed Map's child executions, deliver logs.

Every operation is mapped explicitly: an unmapped one fails with the name to add, so a new call cannot go
unchecked.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from deploy.cloudformation import iam_actions
from deploy.cloudformation.iam_evaluation import Request
from deploy.cloudformation.stack_model import StackModel

SAGEMAKER_SERVICE = "sagemaker.amazonaws.com"


class UnmappedCallError(KeyError):
    """An API call this module does not know how IAM authorizes."""


@dataclass(frozen=True)
class Account:
    """Where the stack runs and which of its resources are encrypted with its key."""

    stack: StackModel
    bucket: str

    @property
    def partition(self) -> str:
        return self.stack.partition

    @property
    def region(self) -> str:
        return self.stack.region

    @property
    def account(self) -> str:
        return self.stack.account

    @property
    def data_key(self) -> str:
        return self.stack.arn("DataKey")

    @property
    def alerts_topic(self) -> str:
        return self.stack.arn("AlertsTopic")

    def arn(self, service: str, resource: str, region: bool = True, account: bool = True) -> str:
        return (f"arn:{self.partition}:{service}:{self.region if region else ''}:"
                f"{self.account if account else ''}:{resource}")


def _request(action: str, resource: str, origin: str, context: dict[str, str] | None = None) -> Request:
    resource = resource if iam_actions.has_resource_type(action) else "*"
    return Request(action, resource, origin, tuple(sorted((context or {}).items())))


# --- S3 and the KMS use it implies ------------------------------------------------------------------------------

def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


def object_arn(account: Account, bucket: str, key: str) -> str:
    return f"arn:{account.partition}:s3:::{bucket}/{key}"


def bucket_arn(account: Account, bucket: str) -> str:
    return f"arn:{account.partition}:s3:::{bucket}"


def _via(account: Account, service: str) -> dict[str, str]:
    return {"kms:ViaService": f"{service}.{account.region}.amazonaws.com"}


def s3_object(account: Account, action: str, bucket: str, key: str, origin: str) -> list[Request]:
    """``action`` on one object, plus the key use SSE-KMS needs when the bucket is the stack's (encrypted) one."""
    requests = [_request(action, object_arn(account, bucket, key), origin)]
    if bucket == account.bucket:
        reads = action in ("s3:GetObject", "s3:GetObjectVersion")
        writes = action == "s3:PutObject"
        if reads or writes:
            kms = "kms:Decrypt" if reads else "kms:GenerateDataKey"
            requests.append(_request(kms, account.data_key, f"{origin}, SSE-KMS", context=_via(account, "s3")))
    return requests


def s3_prefix_read(account: Account, uri: str, origin: str) -> list[Request]:
    """Reading every object under ``uri`` (a prefix or one object), as SageMaker copies an input in."""
    bucket, key = split_s3_uri(uri)
    objects = key if key and not key.endswith("/") and "." in key.rsplit("/", 1)[-1] else key.rstrip("/") + "/*"
    return [_request("s3:ListBucket", bucket_arn(account, bucket), origin),
            *s3_object(account, "s3:GetObject", bucket, objects.lstrip("/"), origin)]


def s3_prefix_write(account: Account, uri: str, origin: str) -> list[Request]:
    bucket, key = split_s3_uri(uri)
    return s3_object(account, "s3:PutObject", bucket, key.rstrip("/") + "/*", origin)


# --- API calls by the calling role ----------------------------------------------------------------------------

def sagemaker_arn(account: Account, kind: str, name: str) -> str:
    if name.startswith("arn:"):
        return name.lower() if ":sagemaker:" in name else name
    return account.arn("sagemaker", f"{kind}/{name.lower()}")


_SAGEMAKER_RESOURCES: dict[str, list[tuple[str, str]]] = {
    **{f"{verb}ProcessingJob": [("processing-job", "ProcessingJobName")] for verb in ("Create", "Describe", "Stop")},
    **{f"{verb}TrainingJob": [("training-job", "TrainingJobName")] for verb in ("Create", "Describe", "Stop")},
    **{f"{verb}HyperParameterTuningJob": [("hyper-parameter-tuning-job", "HyperParameterTuningJobName")]
       for verb in ("Create", "Describe", "Stop")},
    "ListTrainingJobsForHyperParameterTuningJob": [("hyper-parameter-tuning-job", "HyperParameterTuningJobName")],
    **{f"{verb}Model": [("model", "ModelName")] for verb in ("Create", "Describe", "Delete")},
    **{f"{verb}EndpointConfig": [("endpoint-config", "EndpointConfigName")]
       for verb in ("Create", "Describe", "Delete")},
    "CreateEndpoint": [("endpoint", "EndpointName"), ("endpoint-config", "EndpointConfigName")],
    "UpdateEndpoint": [("endpoint", "EndpointName"), ("endpoint-config", "EndpointConfigName")],
    "DescribeEndpoint": [("endpoint", "EndpointName")],
    "DeleteEndpoint": [("endpoint", "EndpointName")],
    "CreateModelPackageGroup": [("model-package-group", "ModelPackageGroupName")],
    "DescribeModelPackageGroup": [("model-package-group", "ModelPackageGroupName")],
    "DescribeModelPackage": [("model-package", "ModelPackageName")],
    "UpdateModelPackage": [("model-package", "ModelPackageArn")],
    **{f"{verb}MonitoringSchedule": [("monitoring-schedule", "MonitoringScheduleName")]
       for verb in ("Create", "Describe", "Update", "Stop", "Start", "Delete")},
}
_SAGEMAKER_UNSCOPED = frozenset({
    "ListEndpoints", "ListEndpointConfigs", "ListModels", "ListMonitoringSchedules", "ListMonitoringExecutions",
    "ListProcessingJobs", "ListTrainingJobs", "ListHyperParameterTuningJobs", "ListModelPackageGroups", "Search",
})
_PASSED_ROLES: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "CreateProcessingJob": lambda p: [p["RoleArn"]],
    "CreateTrainingJob": lambda p: [p["RoleArn"]],
    "CreateHyperParameterTuningJob": lambda p: [d["RoleArn"] for d in
                                                [p.get("TrainingJobDefinition"), *p.get("TrainingJobDefinitions", [])]
                                                if d],
    "CreateModel": lambda p: [p["ExecutionRoleArn"]],
    "CreateMonitoringSchedule": lambda p: [p["MonitoringScheduleConfig"]["MonitoringJobDefinition"]["RoleArn"]],
}


def _sagemaker_call(account: Account, operation: str, params: dict[str, Any], origin: str) -> list[Request]:
    action = f"sagemaker:{operation}"
    if operation in _SAGEMAKER_UNSCOPED:
        return [_request(action, "*", origin)]
    if operation in ("CreateModelPackage", "ListModelPackages"):
        group = params.get("ModelPackageGroupName")
        resource = sagemaker_arn(account, "model-package", f"{group}/*") if group else "*"
        resources = [resource]
    elif operation in ("AddTags", "ListTags"):
        resources = [params["ResourceArn"]]
    elif operation in _SAGEMAKER_RESOURCES:
        resources = [sagemaker_arn(account, kind, params[name]) for kind, name in _SAGEMAKER_RESOURCES[operation]]
    else:
        raise UnmappedCallError(f"sagemaker {operation}: add how IAM authorizes it to tests/support/iam_requests.py")
    requests = [_request(action, resource, origin) for resource in resources]
    if params.get("Tags"):
        requests.append(_request("sagemaker:AddTags", resources[0], f"{origin}, with Tags"))
    for role in _PASSED_ROLES.get(operation, lambda _: [])(params):
        requests.append(_request("iam:PassRole", role, f"{origin}, passes its role",
                                 context={"iam:PassedToService": SAGEMAKER_SERVICE}))
    return requests


def _s3_call(account: Account, operation: str, params: dict[str, Any], origin: str) -> list[Request]:
    bucket = params.get("Bucket", "")
    key = params.get("Key", "")
    versioned = "VersionId" in params
    if operation in ("GetObject", "HeadObject"):
        return s3_object(account, "s3:GetObjectVersion" if versioned else "s3:GetObject", bucket, key, origin)
    if operation in ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"):
        return s3_object(account, "s3:PutObject", bucket, key, origin)
    if operation == "AbortMultipartUpload":
        return s3_object(account, "s3:AbortMultipartUpload", bucket, key, origin)
    if operation == "DeleteObject":
        return s3_object(account, "s3:DeleteObjectVersion" if versioned else "s3:DeleteObject", bucket, key, origin)
    if operation == "DeleteObjects":
        return [r for item in params["Delete"]["Objects"]
                for r in s3_object(account, "s3:DeleteObject", bucket, item["Key"], origin)]
    if operation == "CopyObject":
        source = params["CopySource"]
        source_bucket, _, source_key = (source if isinstance(source, str) else
                                        f"{source['Bucket']}/{source['Key']}").lstrip("/").partition("/")
        return (s3_object(account, "s3:GetObject", source_bucket, source_key, origin)
                + s3_object(account, "s3:PutObject", bucket, key, origin))
    bucket_actions = {"ListObjectsV2": "s3:ListBucket", "ListObjects": "s3:ListBucket", "HeadBucket": "s3:ListBucket",
                      "ListObjectVersions": "s3:ListBucketVersions", "GetBucketLocation": "s3:GetBucketLocation",
                      "GetBucketVersioning": "s3:GetBucketVersioning",
                      "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
                      "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock"}
    if operation in bucket_actions:
        return [_request(bucket_actions[operation], bucket_arn(account, bucket), origin)]
    raise UnmappedCallError(f"s3 {operation}: add how IAM authorizes it to tests/support/iam_requests.py")


def _states_call(account: Account, operation: str, params: dict[str, Any], origin: str) -> list[Request]:
    arn = params.get("stateMachineArn") or params.get("executionArn")
    if operation in ("StartExecution", "ListExecutions", "DescribeStateMachine", "DescribeExecution",
                     "StopExecution") and arn:
        return [_request(f"states:{operation}", arn, origin)]
    raise UnmappedCallError(f"stepfunctions {operation}: add how IAM authorizes it to tests/support/iam_requests.py")


AUTOSCALING_SERVICE = "sagemaker.application-autoscaling.amazonaws.com"
SIMULATED_TARGET_ID = "0123456789abcdef0123456789abcdef"
"""Application Auto Scaling names a scalable target's ARN with an id it generates."""


def _autoscaling_call(account: Account, operation: str, params: dict[str, Any], origin: str) -> list[Request]:
    """An Application Auto Scaling call on a SageMaker variant, and what the service checks with the caller's
    permissions: the endpoint (registration), the target-tracking alarms (policies), its service-linked role."""
    action = f"application-autoscaling:{operation}"
    if operation in ("DescribeScalableTargets", "DescribeScalingPolicies"):
        return [_request(action, "*", origin)]
    if operation not in ("RegisterScalableTarget", "DeregisterScalableTarget", "PutScalingPolicy",
                         "DeleteScalingPolicy"):
        raise UnmappedCallError(f"application-autoscaling {operation}: add how IAM authorizes it to "
                                "tests/support/iam_requests.py")
    resource_id = params["ResourceId"]
    requests = [_request(action, account.arn("application-autoscaling", f"scalable-target/{SIMULATED_TARGET_ID}"),
                         origin)]
    alarms = account.arn("cloudwatch", f"alarm:TargetTracking-{resource_id}-AlarmHigh-0000")
    if operation == "RegisterScalableTarget":
        endpoint = sagemaker_arn(account, "endpoint", resource_id.split("/")[1])
        requests += [
            _request("sagemaker:DescribeEndpoint", endpoint, f"{origin}, checks the variant"),
            _request("sagemaker:UpdateEndpointWeightsAndCapacities", endpoint, f"{origin}, checks the variant"),
            _request("iam:CreateServiceLinkedRole",
                     account.arn("iam", f"role/aws-service-role/{AUTOSCALING_SERVICE}/"
                                        "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint", region=False),
                     f"{origin}, its service-linked role", context={"iam:AWSServiceName": AUTOSCALING_SERVICE}),
        ]
    elif operation == "PutScalingPolicy":
        requests += [_request(f"cloudwatch:{alarm}", alarms, f"{origin}, target-tracking alarms")
                     for alarm in ("PutMetricAlarm", "DescribeAlarms", "DeleteAlarms")]
    else:
        requests.append(_request("cloudwatch:DeleteAlarms", alarms, f"{origin}, removes the policies' alarms"))
    return requests


def _other_call(account: Account, service: str, operation: str, params: dict[str, Any],
                origin: str) -> list[Request]:
    if service == "application-autoscaling":
        return _autoscaling_call(account, operation, params, origin)
    if service == "sagemaker-runtime" and operation == "InvokeEndpoint":
        return [_request("sagemaker:InvokeEndpoint", sagemaker_arn(account, "endpoint", params["EndpointName"]),
                         origin)]
    if service == "sns" and operation == "Publish":
        topic = params.get("TopicArn") or params["TargetArn"]
        requests = [_request("sns:Publish", topic, origin)]
        if topic == account.alerts_topic:
            requests += [_request(kms, account.data_key, f"{origin}, encrypted topic", context=_via(account, "sns"))
                         for kms in ("kms:GenerateDataKey", "kms:Decrypt")]
        return requests
    if service == "cloudwatch" and operation == "DescribeAlarms":
        return [_request("cloudwatch:DescribeAlarms", account.arn("cloudwatch", f"alarm:{name}"), origin)
                for name in params.get("AlarmNames", ["*"])]
    if service == "cloudwatch" and operation == "PutMetricData":
        return [_request("cloudwatch:PutMetricData", "*", origin)]
    if service == "logs" and operation in ("GetLogEvents", "DescribeLogStreams", "FilterLogEvents"):
        group = account.arn("logs", f"log-group:{params['logGroupName']}")
        stream = params.get("logStreamName")
        return [_request(f"logs:{operation}", f"{group}:log-stream:{stream}" if stream else group, origin)]
    if service == "sts" and operation == "GetCallerIdentity":
        return []  # needs no permission
    raise UnmappedCallError(f"{service} {operation}: add how IAM authorizes it to tests/support/iam_requests.py")


def api_call_requests(account: Account, service: str, operation: str, params: dict[str, Any],
                      origin: str = "") -> list[Request]:
    """The requests IAM authorizes for one API call of the calling role."""
    origin = origin or f"{service} {operation}"
    if service == "sagemaker":
        return _sagemaker_call(account, operation, params, origin)
    if service == "s3":
        return _s3_call(account, operation, params, origin)
    if service == "stepfunctions":
        return _states_call(account, operation, params, origin)
    return _other_call(account, service, operation, params, origin)


# --- what SageMaker does with the execution role ---------------------------------------------------------------

def ecr_pull(account: Account, image_uri: str, origin: str) -> list[Request]:
    registry, _, repository = image_uri.partition("/")
    registry_account, _, rest = registry.partition(".dkr.ecr.")
    region = rest.split(".", 1)[0]
    name = repository.split("@", 1)[0].rsplit(":", 1)[0]
    arn = f"arn:{account.partition}:ecr:{region}:{registry_account}:repository/{name}"
    return [_request(action, arn, f"{origin}, pulls {image_uri}")
            for action in ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability")] + [
        _request("ecr:GetAuthorizationToken", "*", origin)]


def job_logs(account: Account, log_group: str, origin: str) -> list[Request]:
    group = account.arn("logs", f"log-group:{log_group}")
    stream = f"{group}:log-stream:{origin.split()[0]}"
    return [_request("logs:CreateLogGroup", group, origin), _request("logs:DescribeLogStreams", group, origin),
            _request("logs:CreateLogStream", stream, origin), _request("logs:PutLogEvents", stream, origin),
            _request("cloudwatch:PutMetricData", "*", origin)]


def _processing_needs(account: Account, params: dict[str, Any], origin: str) -> list[Request]:
    requests = ecr_pull(account, params["AppSpecification"]["ImageUri"], origin)
    for item in params.get("ProcessingInputs", []):
        if "S3Input" in item:
            requests += s3_prefix_read(account, item["S3Input"]["S3Uri"], f"{origin} input {item['InputName']}")
    for item in params.get("ProcessingOutputConfig", {}).get("Outputs", []):
        requests += s3_prefix_write(account, item["S3Output"]["S3Uri"], f"{origin} output {item['OutputName']}")
    return requests + job_logs(account, "/aws/sagemaker/ProcessingJobs", origin)


def _training_needs(account: Account, definition: dict[str, Any], origin: str) -> list[Request]:
    requests = ecr_pull(account, definition["AlgorithmSpecification"]["TrainingImage"], origin)
    for channel in definition.get("InputDataConfig", []):
        uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
        requests += s3_prefix_read(account, uri, f"{origin} channel {channel['ChannelName']}")
    requests += s3_prefix_write(account, definition["OutputDataConfig"]["S3OutputPath"], f"{origin} output")
    if "CheckpointConfig" in definition:
        uri = definition["CheckpointConfig"]["S3Uri"]
        requests += s3_prefix_read(account, uri, f"{origin} checkpoints")
        requests += s3_prefix_write(account, uri, f"{origin} checkpoints")
    hyperparameters = definition.get("HyperParameters") or definition.get("StaticHyperParameters") or {}
    if "sagemaker_submit_directory" in hyperparameters:
        source = json.loads(hyperparameters["sagemaker_submit_directory"])
        requests += s3_prefix_read(account, source, f"{origin} source")
    return requests + job_logs(account, "/aws/sagemaker/TrainingJobs", origin)


def _model_needs(account: Account, params: dict[str, Any], origin: str) -> list[Request]:
    container = params["PrimaryContainer"]
    requests = ecr_pull(account, container["Image"], origin)
    requests += s3_prefix_read(account, container["ModelDataUrl"], f"{origin} model data")
    submit = container.get("Environment", {}).get("SAGEMAKER_SUBMIT_DIRECTORY", "")
    if submit.startswith("s3://"):
        requests += s3_prefix_read(account, submit, f"{origin} source")
    return requests + job_logs(account, f"/aws/sagemaker/Endpoints/{params['ModelName']}", origin)


def _endpoint_config_needs(account: Account, params: dict[str, Any], origin: str) -> list[Request]:
    capture = params.get("DataCaptureConfig")
    return s3_prefix_write(account, capture["DestinationS3Uri"], f"{origin} Data Capture") if capture else []


def _monitoring_needs(account: Account, params: dict[str, Any], capture_uri: str, origin: str) -> list[Request]:
    job = params["MonitoringScheduleConfig"]["MonitoringJobDefinition"]
    requests = ecr_pull(account, job["MonitoringAppSpecification"]["ImageUri"], origin)
    for resource in job.get("BaselineConfig", {}).values():
        requests += s3_prefix_read(account, resource["S3Uri"], f"{origin} baseline")
    for item in job.get("MonitoringInputs", []):
        endpoint = item["EndpointInput"]["EndpointName"]
        requests += s3_prefix_read(account, f"{capture_uri.rstrip('/')}/{endpoint}/", f"{origin} Data Capture")
    for output in job["MonitoringOutputConfig"]["MonitoringOutputs"]:
        requests += s3_prefix_write(account, output["S3Output"]["S3Uri"], f"{origin} reports")
    return requests + job_logs(account, "/aws/sagemaker/ProcessingJobs", origin)


def sagemaker_role_requests(account: Account, operation: str, params: dict[str, Any], capture_uri: str,
                            origin: str = "") -> list[Request]:
    """What SageMaker does with the role a create request passes (empty for other operations)."""
    origin = origin or f"{operation} {_name_of(params)}"
    if operation == "CreateProcessingJob":
        return _processing_needs(account, params, origin)
    if operation == "CreateTrainingJob":
        return _training_needs(account, params, origin)
    if operation == "CreateHyperParameterTuningJob":
        definitions = [params.get("TrainingJobDefinition"), *params.get("TrainingJobDefinitions", [])]
        return [r for d in definitions if d for r in _training_needs(account, d, origin)]
    if operation == "CreateModel":
        return _model_needs(account, params, origin)
    if operation == "CreateEndpointConfig":
        return _endpoint_config_needs(account, params, origin)
    if operation == "CreateMonitoringSchedule":
        return _monitoring_needs(account, params, capture_uri, origin)
    return []


def _name_of(params: dict[str, Any]) -> str:
    return next((str(v) for k, v in params.items() if k.endswith("Name") and isinstance(v, str)), "")


# --- what Step Functions does with the state machine's role -----------------------------------------------------

def _states(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in definition.get("States", {}).items():
        yield name, state
        for nested in (state.get("ItemProcessor"), state.get("Iterator"), *state.get("Branches", [])):
            if nested:
                yield from _states(nested)


def _lambda_invocation(resource: str, state: dict[str, Any]) -> str | None:
    if resource.startswith("arn:") and ":lambda:" in resource and ":function:" in resource:
        return resource
    if resource.startswith("arn:aws:states:::lambda:invoke"):
        parameters = state.get("Parameters") or state.get("Arguments") or {}
        return parameters.get("FunctionName")
    return None


def state_machine_requests(account: Account, definition: dict[str, Any], state_machine_arn: str,
                           logs_to_cloudwatch: bool, execution_input: dict[str, Any] | None = None) -> list[Request]:
    """What Step Functions needs the state machine's role for, from its (substituted) definition.

    ``execution_input`` (what the product starts executions with) resolves ``.$`` parameters such as the
    item reader's bucket and key; without it a dynamic bucket is the stack's and a dynamic key any key."""
    requests = []
    machine_name = state_machine_arn.rsplit(":", 1)[1]
    for name, state in _states(definition):
        origin = f"state {name}"
        if state.get("Type") == "Task":
            function = _lambda_invocation(state["Resource"], state)
            if function is None:
                raise UnmappedCallError(f"{origin}: integration {state['Resource']} is not mapped to its IAM needs "
                                        "in tests/support/iam_requests.py")
            requests.append(_request("lambda:InvokeFunction", function, origin))
        if state.get("Type") == "Map" and (state.get("ItemProcessor", {}).get("ProcessorConfig", {})
                                           .get("Mode") == "DISTRIBUTED"):
            child = account.arn("states", f"execution:{machine_name}/{name}:00000000-0000-0000-0000-000000000000")
            requests += [_request("states:StartExecution", state_machine_arn, f"{origin}, child executions"),
                         _request("states:DescribeExecution", child, f"{origin}, child executions"),
                         _request("states:StopExecution", child, f"{origin}, child executions")]
            requests += _map_s3_needs(account, state, origin, execution_input or {})
    if logs_to_cloudwatch:
        requests += [_request(action, "*", "execution logging") for action in (
            "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
            "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies",
            "logs:DescribeLogGroups")]
    return requests


def _resolved(parameters: dict[str, Any], execution_input: dict[str, Any]) -> dict[str, Any]:
    """``{"Key.$": "$.photos.Key"}`` -> ``{"Key": <value in the input>}`` where the input has the path."""
    resolved = {name: value for name, value in parameters.items() if not name.endswith(".$")}
    for name, path in parameters.items():
        if name.endswith(".$") and isinstance(path, str) and path.startswith("$."):
            value: Any = execution_input
            for part in path[2:].split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if value is not None:
                resolved[name[:-2]] = value
    return resolved


def _map_s3_needs(account: Account, state: dict[str, Any], origin: str,
                  execution_input: dict[str, Any]) -> list[Request]:
    """A Distributed Map's item reader and result writer (a dynamic bucket or key not in the input is taken as the
    stack's bucket and any key)."""
    requests = []
    for part, reads in (("ItemReader", True), ("ResultWriter", False)):
        config = state.get(part)
        if not config:
            continue
        parameters = _resolved(config.get("Parameters") or config.get("Arguments") or {}, execution_input)
        bucket = parameters.get("Bucket") or account.bucket
        key = parameters.get("Key") or parameters.get("Prefix") or "*"
        key = key if "Key" in parameters else key.rstrip("/") + "/*"
        where = f"{origin} {part}"
        if reads:
            if config.get("Resource", "").endswith(":listObjectsV2"):  # a listing; s3:getObject reads one object
                requests.append(_request("s3:ListBucket", bucket_arn(account, bucket), where))
            requests += s3_object(account, "s3:GetObject", bucket, key, where)
        else:
            requests += s3_object(account, "s3:PutObject", bucket, key, where)
            requests += s3_object(account, "s3:GetObject", bucket, key, where)
            requests.append(_request("s3:AbortMultipartUpload", object_arn(account, bucket, key), where))
            requests.append(_request("s3:ListMultipartUploadParts", object_arn(account, bucket, key), where))
    return requests
