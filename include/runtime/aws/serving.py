"""The ``aws`` runtime's serving: the provider's endpoint and Step Functions operators, verified and
idempotent by run.

Endpoint: creates the model and endpoint config unless an earlier try did, then creates or updates
the endpoint (blue/green, with the request's traffic shifting and rollback alarms) and, once SageMaker
reports the endpoint settled, checks that it really serves the new endpoint config (a silent alarm
rollback fails the task with :class:`EndpointRollbackError`). The wait is bounded by the update's own
``MaximumExecutionTimeoutInSeconds`` (the provider's trigger would poll 480 times whatever the plan).
With autoscaling on, updates keep the running instance count and the variant's scalable target is
handled around an instance type change (:class:`VariantScaling`): SageMaker refuses an UpdateEndpoint that
changes the instance type of a variant registered with Application Auto Scaling, so such an update
deregisters the variant first (its scaling policy goes with it), and once the endpoint is in service again,
on the new config or rolled back, the variant is registered again with the stack's scalable target and
policy (the same settings build both). A retried task registers it too, so an interrupted deployment never
leaves the endpoint unscaled.

Served models: what an endpoint serves is read from the endpoint itself — DescribeEndpoint, its endpoint
config's model, that model's ``scones:model-package-arn`` tag — so a rolled-back update reports the old version.

Executions: an interval's executions (one per chunk of photos), started one after another in one task
with the provider's ``StepFunctionStartExecutionOperator``, each under its deterministic name, the task
deferring to the provider's trigger while each runs. Step Functions never reuses a name, so
``ExecutionAlreadyExists`` means an earlier try or run started it: that execution is described and
reused (waited for if still running). The task returns one
``{"name", "executionArn", "status", "output", "error", "cause"}`` per execution. A ``FAILED`` (or
``TIMED_OUT`` / ``ABORTED``) execution is a result, not a task failure: its photos are routed from
what its ResultWriter wrote. The task fails only for infrastructure errors (AWS unreachable, access
denied, an execution still running when the wait runs out).
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
import math
import time
from typing import Any

from airflow.providers.amazon.aws.operators.sagemaker import SageMakerEndpointOperator, serialize
from airflow.providers.amazon.aws.operators.step_function import StepFunctionStartExecutionOperator
from airflow.providers.amazon.aws.triggers.sagemaker import SageMakerTrigger
from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from botocore.exceptions import ClientError

from include.blue_green import PROVISIONING_ALLOWANCE_SECONDS
from include.builders.deploy import scalable_target_request, scaling_policy_request, update_endpoint_request
from include.registry import MODEL_PACKAGE_TAG
from include.runtime.aws.clients import sagemaker_client
from include.runtime.capabilities import ServedModel
from include.runtime.endpoint_checks import verify_endpoint_serves
from include.settings import Settings

LOG = logging.getLogger(__name__)
ENDPOINT_SETTLING_STATES = {"Creating", "Updating", "SystemUpdating", "RollingBack", "UpdateRollbackFailed"}
SERVING_STATES = {"InService", "Updating", "SystemUpdating", "RollingBack", "UpdateRollbackFailed"}
"""Endpoint states in which the described endpoint config serves traffic (an update's new config is only
``PendingDeploymentSummary`` until it completes)."""
EXECUTION_WAIT_SECONDS = 6 * 3600
SETTLING_ALLOWANCE_SECONDS = 300
"""Beyond an update's own time limit, for SageMaker to report the endpoint settled."""


class ExecutionStillRunningError(RuntimeError):
    """A Step Functions execution did not finish within the task's wait."""


class EndpointStillSettlingError(RuntimeError):
    """The endpoint was still being created or updated when the task's wait ran out."""


def endpoint_wait_seconds(endpoint_request: dict) -> int:
    """How long a deployment may take by its own request: the update's ``MaximumExecutionTimeoutInSeconds``
    (a creation, or an update without a blue/green policy, gets the provisioning allowance), plus settling."""
    policy = (endpoint_request.get("DeploymentConfig") or {}).get("BlueGreenUpdatePolicy") or {}
    limit = int(policy.get("MaximumExecutionTimeoutInSeconds", PROVISIONING_ALLOWANCE_SECONDS))
    return limit + SETTLING_ALLOWANCE_SECONDS


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN Step Functions gives the execution ``name`` of ``state_machine_arn``."""
    if ":stateMachine:" not in state_machine_arn:
        raise ValueError(f"{state_machine_arn!r} is not a state machine ARN (arn:aws:states:...:stateMachine:NAME)")
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"


def execution_outcome(description: dict) -> dict:
    """The task's result from a DescribeExecution answer."""
    output = description.get("output")
    return {
        "name": description["name"],
        "executionArn": description["executionArn"],
        "status": description["status"],
        "output": json.loads(output) if output else None,
        "error": description.get("error"),
        "cause": description.get("cause"),
    }


def _missing(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "ValidationException" and "Could not find" in (
        error.response["Error"].get("Message", "")
    )


def variant_instance_type(endpoint_config: dict) -> str | None:
    """The (first) production variant's instance type; ``None`` for serverless."""
    return endpoint_config["ProductionVariants"][0].get("InstanceType")


class VariantScaling:
    """Registers, checks and deregisters the endpoint variant as a scalable target (Application Auto Scaling)."""

    def __init__(self, client: Any, scalable_target: dict, scaling_policy: dict) -> None:
        self.client = client
        self.scalable_target = scalable_target
        self.scaling_policy = scaling_policy

    @property
    def _target(self) -> dict[str, str]:
        return {key: self.scalable_target[key] for key in ("ServiceNamespace", "ResourceId", "ScalableDimension")}

    def registered(self) -> bool:
        target = self._target
        response = self.client.describe_scalable_targets(
            ServiceNamespace=target["ServiceNamespace"], ResourceIds=[target["ResourceId"]],
            ScalableDimension=target["ScalableDimension"])
        return bool(response.get("ScalableTargets"))

    def deregister(self) -> bool:
        """Deregister the variant (its policies go with it); ``False`` when it was not registered."""
        if not self.registered():
            return False
        LOG.info("Deregistering %s from autoscaling before its instance type changes.", self._target["ResourceId"])
        self.client.deregister_scalable_target(**self._target)
        return True

    def ensure_registered(self) -> bool:
        """Register the variant and its policy unless it is registered; ``True`` when it had to be."""
        if self.registered():
            return False
        LOG.info("Registering %s for autoscaling (%s to %s instances).", self._target["ResourceId"],
                 self.scalable_target["MinCapacity"], self.scalable_target["MaxCapacity"])
        self.client.register_scalable_target(**self.scalable_target)
        self.client.put_scaling_policy(**self.scaling_policy)
        return True


class VerifiedEndpointOperator(SageMakerEndpointOperator):
    """``SageMakerEndpointOperator`` that creates or updates as needed, is safe to retry, and verifies the result.

    ``scalable_target`` / ``scaling_policy`` (RegisterScalableTarget / PutScalingPolicy requests) mean autoscaling
    is on: updates retain the running instance count, and the variant stays registered.
    """

    def __init__(self, *, scalable_target: dict | None = None, scaling_policy: dict | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scalable_target = scalable_target
        self.scaling_policy = scaling_policy

    @property
    def _endpoint(self) -> dict:
        return self.config["Endpoint"]

    @functools.cached_property
    def scaling(self) -> VariantScaling | None:
        if self.scalable_target is None or self.scaling_policy is None:
            return None
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        client = AwsBaseHook(aws_conn_id=self.aws_conn_id, client_type="application-autoscaling",
                             region_name=self.region_name).conn
        return VariantScaling(client, self.scalable_target, self.scaling_policy)

    def _describe(self, operation: str, **name: str) -> dict | None:
        try:
            return getattr(self.hook.conn, operation)(**name)
        except ClientError as error:
            if _missing(error):
                return None
            raise

    def _drop_existing_resources(self) -> None:
        """A retry must not create the model or endpoint config an earlier try created."""
        if "Model" in self.config and self._describe("describe_model", ModelName=self.config["Model"]["ModelName"]):
            self.log.info("Model %s exists already; not creating it again.", self.config["Model"]["ModelName"])
            del self.config["Model"]
        config_name = self.config.get("EndpointConfig", {}).get("EndpointConfigName")
        if config_name and self._describe("describe_endpoint_config", EndpointConfigName=config_name):
            self.log.info("Endpoint config %s exists already; not creating it again.", config_name)
            del self.config["EndpointConfig"]

    def _wait_attempts(self) -> int:
        return max(1, math.ceil(endpoint_wait_seconds(self._endpoint) / self.check_interval))

    def _defer_until_settled(self, name: str) -> None:
        attempts = self._wait_attempts()
        self.defer(
            trigger=SageMakerTrigger(job_name=name, job_type="endpoint", waiter_delay=self.check_interval,
                                     waiter_max_attempts=attempts, aws_conn_id=self.aws_conn_id),
            method_name="execute_complete",
            timeout=datetime.timedelta(seconds=attempts * self.check_interval),
        )

    def _wait_for_settling(self, name: str) -> None:
        if self.deferrable:
            self._defer_until_settled(name)
        self.hook.get_waiter("endpoint_in_service").wait(
            EndpointName=name, WaiterConfig={"Delay": self.check_interval, "MaxAttempts": self._wait_attempts()})

    def _changes_instance_type(self, current: dict) -> bool:
        config_name = self._endpoint["EndpointConfigName"]
        new = self.config.get("EndpointConfig") or self.hook.conn.describe_endpoint_config(
            EndpointConfigName=config_name)
        old = self.hook.conn.describe_endpoint_config(EndpointConfigName=current["EndpointConfigName"])
        return variant_instance_type(new) != variant_instance_type(old)

    def _start(self, current: dict | None) -> None:
        """Create or update the endpoint (deregistering its autoscaling first if the update needs it), then wait."""
        name = self._endpoint["EndpointName"]
        scaling = self.scaling
        if current and scaling and self._changes_instance_type(current):
            scaling.deregister()
        self._drop_existing_resources()
        if "Model" in self.config:
            self.log.info("Creating SageMaker model %s.", self.config["Model"]["ModelName"])
            self.hook.create_model(self.config["Model"])
        if "EndpointConfig" in self.config:
            self.log.info("Creating endpoint config %s.", self.config["EndpointConfig"]["EndpointConfigName"])
            self.hook.create_endpoint_config(self.config["EndpointConfig"])
        if current:
            request = update_endpoint_request(self._endpoint, retain_instance_count=scaling is not None)
            self.log.info("Updating endpoint %s to %s (%s).", name, request["EndpointConfigName"],
                          request.get("DeploymentConfig", {}).get("BlueGreenUpdatePolicy", {})
                          .get("TrafficRoutingConfiguration", {}).get("Type", "no blue/green policy"))
            self.hook.update_endpoint(request, wait_for_completion=False)
        else:
            self.log.info("Creating endpoint %s on %s.", name, self._endpoint["EndpointConfigName"])
            self.hook.create_endpoint(self._endpoint, wait_for_completion=False)
        self._wait_for_settling(name)

    def verified_result(self) -> dict:
        """``{"EndpointConfig", "Endpoint"}`` descriptions, after checking the endpoint serves the new config.

        An endpoint in service (on the new config or rolled back) gets its autoscaling registered first.
        """
        name, config_name = self._endpoint["EndpointName"], self._endpoint["EndpointConfigName"]
        endpoint = self.hook.conn.describe_endpoint(EndpointName=name)
        if endpoint["EndpointStatus"] in ENDPOINT_SETTLING_STATES - {"UpdateRollbackFailed"}:
            raise EndpointStillSettlingError(
                f"endpoint {name} is still {endpoint['EndpointStatus']} after the deployment's wait of "
                f"{self._wait_attempts() * self.check_interval} s: clear the task to wait again (it reuses the "
                "deployment), or look at the endpoint's events in the SageMaker console")
        scaling = self.scaling
        if scaling and endpoint["EndpointStatus"] == "InService":
            scaling.ensure_registered()
        verify_endpoint_serves(endpoint, config_name)
        self.log.info("Endpoint %s is InService on endpoint config %s.", name, config_name)
        config = self.hook.conn.describe_endpoint_config(EndpointConfigName=config_name)
        return {"EndpointConfig": serialize(config), "Endpoint": serialize(endpoint)}

    def execute(self, context: Any) -> dict:
        name, config_name = self._endpoint["EndpointName"], self._endpoint["EndpointConfigName"]
        current = self._describe("describe_endpoint", EndpointName=name)
        if current and current["EndpointStatus"] == "InService" and current["EndpointConfigName"] == config_name:
            self.log.info("Endpoint %s already serves %s (an earlier try deployed it).", name, config_name)
            return self.verified_result()
        if current and current["EndpointStatus"] in ENDPOINT_SETTLING_STATES:
            self.log.info("Endpoint %s is %s; waiting for it before deciding.", name, current["EndpointStatus"])
            self._wait_for_settling(name)
            return self.verified_result()
        self.preprocess_config()
        self._start(current)
        return self.verified_result()

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict:
        validated = validate_execute_complete_event(event)
        if validated.get("status") != "success":
            self.log.warning("Endpoint wait ended with %s; checking the endpoint itself.", validated)
        return self.verified_result()


class RunScopedExecutionsOperator(StepFunctionStartExecutionOperator):
    """``StepFunctionStartExecutionOperator`` over a list of ``{"name", "input"}``: starts each in turn (reusing
    one that exists), defers while it runs, and returns every execution's outcome.

    Where it stands is read back from Step Functions, not carried through the deferral: each time the task
    runs or resumes it walks the list, reusing the executions that ended, waiting for the one running and
    starting the first that does not exist yet. A cleared or retried task therefore picks up where the
    executions are.
    """

    template_fields = (*StepFunctionStartExecutionOperator.template_fields, "executions")
    template_fields_renderers = {"executions": "json"}

    def __init__(self, *, executions: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.executions = executions

    def execute(self, context: Any) -> list[dict]:
        outcomes = [self._start_or_reuse(context, execution) for execution in self.executions]
        ended = ", ".join(f"{o['name']} {o['status']}" for o in outcomes) or "none to run"
        self.log.info("%d executions: %s", len(outcomes), ended)
        return outcomes

    def resume(self, context: Any, event: dict[str, Any] | None = None, **_: Any) -> list[dict]:
        """Back from the trigger (a FAILED execution makes it report an error; the execution's own status
        decides), on to the next execution."""
        validate_execute_complete_event(event)
        return self.execute(context)

    execute_complete = resume

    def defer(self, *, trigger: Any, method_name: str, kwargs: dict[str, Any] | None = None,
              timeout: Any = None) -> Any:
        # Every wait, the provider's own included, resumes in `resume`.
        super().defer(trigger=trigger, method_name="resume", kwargs=kwargs, timeout=timeout)

    def _describe(self, arn: str) -> dict | None:
        try:
            return self.hook.conn.describe_execution(executionArn=arn)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ExecutionDoesNotExist":
                return None
            raise

    def _start_or_reuse(self, context: Any, execution: dict) -> dict:
        self.name, self.state_machine_input = execution["name"], execution["input"]
        arn = execution_arn(self.state_machine_arn, self.name)
        description = self._describe(arn)
        if description is None:
            photos = execution.get("photos")
            self.log.info("Starting execution %s (%s photos)", self.name,
                          f"{photos:,}" if isinstance(photos, int) else "its")
            try:
                super().execute(context)
            except ClientError as error:
                if error.response["Error"]["Code"] != "ExecutionAlreadyExists":
                    raise
                self.log.info("Execution %s was started meanwhile; reusing it.", self.name)
            description = self.hook.conn.describe_execution(executionArn=arn)
        if description["status"] == "RUNNING":
            if self.deferrable:
                self.defer(trigger=self._completion_trigger(arn), method_name="resume",
                           timeout=datetime.timedelta(seconds=self.waiter_max_attempts * self.waiter_delay))
            self._wait(arn)
            description = self.hook.conn.describe_execution(executionArn=arn)
        return self.ended(description)

    def ended(self, description: dict) -> dict:
        """The outcome of an execution that ended (one still running has outlasted the task's wait)."""
        arn = description["executionArn"]
        if description["status"] == "RUNNING":
            raise ExecutionStillRunningError(
                f"execution {arn} still runs after the task's wait of {self.waiter_delay * self.waiter_max_attempts} s;"
                " clear the task to wait again (it reuses the execution), or stop the execution in the console"
            )
        outcome = execution_outcome(description)
        self.log.info("Execution %s ended %s %s", outcome["name"], outcome["status"], outcome["error"] or "")
        return outcome

    def _wait(self, arn: str) -> None:
        for _ in range(self.waiter_max_attempts):
            if self.hook.conn.describe_execution(executionArn=arn)["status"] != "RUNNING":
                return
            time.sleep(self.waiter_delay)

    def _completion_trigger(self, arn: str) -> Any:
        from airflow.providers.amazon.aws.triggers.step_function import StepFunctionsExecutionCompleteTrigger

        return StepFunctionsExecutionCompleteTrigger(
            execution_arn=arn, waiter_delay=self.waiter_delay, waiter_max_attempts=self.waiter_max_attempts,
            aws_conn_id=self.aws_conn_id, region_name=self.region_name, botocore_config=self.botocore_config,
            verify=self.verify,
        )


class AwsEndpoints:
    """:class:`~include.runtime.capabilities.EndpointDeployment` on SageMaker."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def endpoint_deployment(self, *, task_id: str, config: Any, **kwargs: Any) -> VerifiedEndpointOperator:
        settings = self.settings
        autoscaling = settings.deploy.autoscaling and not settings.deploy.serverless
        return VerifiedEndpointOperator(
            task_id=task_id,
            config=config,
            aws_conn_id=settings.aws_conn_id,
            region_name=settings.region,
            check_interval=settings.poll_interval_seconds,
            deferrable=True,
            scalable_target=scalable_target_request(settings) if autoscaling else None,
            scaling_policy=scaling_policy_request(settings) if autoscaling else None,
            **kwargs,
        )


class SageMakerServedModels:
    """:class:`~include.runtime.capabilities.ServedModels` read from SageMaker."""

    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self.client = client if client is not None else sagemaker_client(settings)

    def served_model(self, endpoint_name: str) -> ServedModel | None:
        try:
            endpoint = self.client.describe_endpoint(EndpointName=endpoint_name)
        except ClientError as error:
            if _missing(error):
                return None
            raise
        if endpoint["EndpointStatus"] not in SERVING_STATES:
            return None
        config_name = endpoint["EndpointConfigName"]
        config = self.client.describe_endpoint_config(EndpointConfigName=config_name)
        model_name = config["ProductionVariants"][0]["ModelName"]
        model_arn = self.client.describe_model(ModelName=model_name)["ModelArn"]
        tags = self.client.list_tags(ResourceArn=model_arn).get("Tags", [])
        package_arn = next((tag["Value"] for tag in tags if tag["Key"] == MODEL_PACKAGE_TAG), None)
        return ServedModel(endpoint_name, config_name, model_name, package_arn,
                           serving_since=endpoint.get("LastModifiedTime"))


class AwsExecutions:
    """:class:`~include.runtime.capabilities.StateMachineExecutions` on Step Functions."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def state_machine_executions(self, *, task_id: str, executions: Any, **kwargs: Any) -> RunScopedExecutionsOperator:
        """One deferrable task running every ``{"name", "input"}`` of ``executions`` in turn."""
        settings = self.settings
        return RunScopedExecutionsOperator(
            task_id=task_id,
            executions=executions,
            state_machine_arn=settings.inference.state_machine_arn,
            aws_conn_id=settings.aws_conn_id,
            region_name=settings.region,
            deferrable=True,
            waiter_delay=settings.poll_interval_seconds,
            waiter_max_attempts=max(1, EXECUTION_WAIT_SECONDS // settings.poll_interval_seconds),
            **kwargs,
        )
