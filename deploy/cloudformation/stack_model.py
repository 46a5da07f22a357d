"""The stack the template creates, for given parameters, account and region: names, ARNs and resolved properties.

CloudFormation resolves ``!Ref``, ``!Sub``, ``!GetAtt`` and friends when it deploys; this module does the same
offline, so tests and the preflight can read what a deployed stack would hold (a role's policy statements with
real ARNs, a Lambda's environment, the ``SconesEnvironment`` output) without an account. Physical names follow
each resource's name property; a resource without one gets ``<stack>-<LogicalId>-SIMULATED``, as CloudFormation
generates a name of its own.
"""

from __future__ import annotations

import functools
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from deploy.cloudformation.cfn_template import load_template

NO_VALUE = object()
"""``!Ref AWS::NoValue``: the property is left out."""
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


@functools.cache
def _template() -> dict[str, Any]:
    """The repository's template, read once (the model only reads it)."""
    return load_template()


class StackModelError(ValueError):
    """The template uses something this model cannot resolve."""


@dataclass(frozen=True)
class _Kind:
    """How a resource type names itself: its name property, what ``Ref`` returns, and its ARN."""

    name_property: str | None
    arn: str
    ref: str = "name"  # "name" or "arn"
    attributes: dict[str, str] = field(default_factory=dict)


_KINDS: dict[str, _Kind] = {
    "AWS::S3::Bucket": _Kind("BucketName", "arn:{partition}:s3:::{name}"),
    "AWS::KMS::Key": _Kind(None, "arn:{partition}:kms:{region}:{account}:key/{name}"),
    "AWS::KMS::Alias": _Kind("AliasName", "arn:{partition}:kms:{region}:{account}:{name}"),
    "AWS::SNS::Topic": _Kind("TopicName", "arn:{partition}:sns:{region}:{account}:{name}", ref="arn",
                             attributes={"TopicArn": "{arn}", "TopicName": "{name}"}),
    "AWS::SQS::Queue": _Kind("QueueName", "arn:{partition}:sqs:{region}:{account}:{name}",
                             attributes={"QueueName": "{name}", "QueueUrl": "https://sqs.{region}.amazonaws.com/{account}/{name}"}),
    "AWS::CloudWatch::Alarm": _Kind("AlarmName", "arn:{partition}:cloudwatch:{region}:{account}:alarm:{name}"),
    "AWS::ECR::Repository": _Kind("RepositoryName", "arn:{partition}:ecr:{region}:{account}:repository/{name}",
                                  attributes={"RepositoryUri": "{account}.dkr.ecr.{region}.amazonaws.com/{name}"}),
    "AWS::IAM::Role": _Kind("RoleName", "arn:{partition}:iam::{account}:role/{name}"),
    "AWS::Logs::LogGroup": _Kind("LogGroupName", "arn:{partition}:logs:{region}:{account}:log-group:{name}:*"),
    "AWS::Serverless::Function": _Kind("FunctionName", "arn:{partition}:lambda:{region}:{account}:function:{name}"),
    "AWS::Lambda::Function": _Kind("FunctionName", "arn:{partition}:lambda:{region}:{account}:function:{name}"),
    "AWS::Serverless::StateMachine": _Kind("Name", "arn:{partition}:states:{region}:{account}:stateMachine:{name}",
                                           ref="arn", attributes={"Name": "{name}"}),
    "AWS::StepFunctions::StateMachine": _Kind("StateMachineName",
                                              "arn:{partition}:states:{region}:{account}:stateMachine:{name}",
                                              ref="arn", attributes={"Name": "{name}"}),
    "AWS::MWAA::Environment": _Kind("Name", "arn:{partition}:airflow:{region}:{account}:environment/{name}"),
}


@dataclass(frozen=True)
class StackModel:
    """The template as deployed with ``parameters`` (others take their defaults) in ``account`` and ``region``."""

    parameters: dict[str, str]
    account: str
    region: str
    template: dict[str, Any] = field(default_factory=_template)
    stack_name: str = "scones-mlops"
    partition: str = "aws"

    def __post_init__(self) -> None:
        unknown = sorted(set(self.parameters) - set(self.template.get("Parameters", {})))
        if unknown:
            raise StackModelError(f"parameters {', '.join(unknown)} are not parameters of the template")

    # --- parameters and conditions ----------------------------------------------------------------

    def parameter(self, name: str) -> Any:
        declared = self.template.get("Parameters", {}).get(name)
        if declared is None:
            raise StackModelError(f"!Ref {name}: no such parameter or resource")
        if name in self.parameters:
            value = self.parameters[name]
        elif "Default" in declared:
            value = declared["Default"]
        else:
            raise StackModelError(f"parameter {name} has no default: give it a value")
        value = str(value)
        if declared.get("Type") == "CommaDelimitedList":
            return [item.strip() for item in value.split(",")] if value else [""]
        return value

    def condition(self, name: str) -> bool:
        conditions = self.template.get("Conditions", {})
        if name not in conditions:
            raise StackModelError(f"condition {name} is not in the template")
        return bool(self._evaluate_condition(conditions[name]))

    def _evaluate_condition(self, expression: Any) -> Any:
        if isinstance(expression, dict) and len(expression) == 1:
            (function, argument), = expression.items()
            if function == "Condition":
                return self.condition(argument)
            if function == "Fn::Equals":
                left, right = (self.resolve(part) for part in argument)
                return str(left) == str(right)
            if function == "Fn::Not":
                return not self._evaluate_condition(argument[0])
            if function == "Fn::And":
                return all(self._evaluate_condition(part) for part in argument)
            if function == "Fn::Or":
                return any(self._evaluate_condition(part) for part in argument)
        return self.resolve(expression)

    # --- resources --------------------------------------------------------------------------------

    def resource(self, logical_id: str) -> dict[str, Any]:
        resources = self.template["Resources"]
        if logical_id not in resources:
            raise StackModelError(f"{logical_id} is not a resource of the template")
        return resources[logical_id]

    def creates(self, logical_id: str) -> bool:
        """Whether the stack creates the resource (its condition, if any, holds)."""
        condition = self.resource(logical_id).get("Condition")
        return condition is None or self.condition(condition)

    def properties(self, logical_id: str) -> dict[str, Any]:
        """The resource's properties with every intrinsic function resolved."""
        return self.resolve(self.resource(logical_id).get("Properties", {}) or {})

    def physical_name(self, logical_id: str) -> str:
        resource = self.resource(logical_id)
        kind = _KINDS.get(resource["Type"])
        properties = resource.get("Properties", {}) or {}
        if kind and kind.name_property and kind.name_property in properties:
            return str(self.resolve(properties[kind.name_property]))
        if resource["Type"] == "AWS::KMS::Key":
            return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.stack_name}/{logical_id}"))
        return f"{self.stack_name}-{logical_id}-SIMULATED"

    def arn(self, logical_id: str) -> str:
        resource = self.resource(logical_id)
        kind = _KINDS.get(resource["Type"])
        if kind is None:
            raise StackModelError(f"{logical_id}: the stack model does not know the ARN of {resource['Type']}: "
                                  "add the type to _KINDS")
        return kind.arn.format(**self._names(logical_id))

    def _names(self, logical_id: str) -> dict[str, str]:
        return {"partition": self.partition, "region": self.region, "account": self.account,
                "name": self.physical_name(logical_id)}

    def ref(self, name: str) -> Any:
        pseudo = {"AWS::Region": self.region, "AWS::AccountId": self.account, "AWS::Partition": self.partition,
                  "AWS::StackName": self.stack_name, "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": NO_VALUE}
        if name in pseudo:
            return pseudo[name]
        if name in self.template.get("Resources", {}):
            kind = _KINDS.get(self.resource(name)["Type"])
            return self.arn(name) if kind and kind.ref == "arn" else self.physical_name(name)
        return self.parameter(name)

    def get_att(self, logical_id: str, attribute: str) -> str:
        if attribute == "Arn":
            return self.arn(logical_id)
        kind = _KINDS.get(self.resource(logical_id)["Type"])
        if kind is None or attribute not in kind.attributes:
            raise StackModelError(f"!GetAtt {logical_id}.{attribute}: the stack model does not know this attribute")
        return kind.attributes[attribute].format(arn=self.arn(logical_id), **self._names(logical_id))

    def output(self, name: str) -> Any:
        outputs = self.template.get("Outputs", {})
        if name not in outputs:
            raise StackModelError(f"output {name} is not in the template")
        return self.resolve(outputs[name]["Value"])

    # --- intrinsic functions ----------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic function replaced by what CloudFormation would put there."""
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, argument), = value.items()
            if key == "Ref":
                return self.ref(argument)
            if key == "Fn::GetAtt":
                logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self.get_att(logical_id, attribute)
            if key == "Fn::Sub":
                return self._sub(argument)
            if key == "Fn::If":
                name, when_true, when_false = argument
                return self.resolve(when_true if self.condition(name) else when_false)
            if key == "Fn::Join":
                separator, items = argument
                return str(separator).join(str(item) for item in self.resolve(items))
            if key == "Fn::Select":
                index, items = argument
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                separator, text = argument
                return str(self.resolve(text)).split(separator)
            if key.startswith("Fn::") or key == "Condition":
                raise StackModelError(f"{key} is not resolved by the stack model: add it")
        return {k: v for k, v in ((k, self.resolve(v)) for k, v in value.items()) if v is not NO_VALUE}

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
        given = {name: self.resolve(v) for name, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in given:
                return str(given[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return self.get_att(logical_id, attribute)
            resolved = self.ref(name)
            if isinstance(resolved, list):
                raise StackModelError(f"!Sub cannot use the list parameter {name}")
            return str(resolved)

        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")
