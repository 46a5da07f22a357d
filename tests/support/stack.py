"""The stack as CloudFormation would deploy it in a fake account, and the settings its outputs give.

Tests that need deployable settings take them the way a user does: derive the stack's parameters from the
settings, "deploy" the template (:class:`~deploy.cloudformation.stack_model.StackModel`) and read the
``SconesEnvironment`` output back into the settings.
"""

from __future__ import annotations

from collections.abc import Mapping

from deploy.cloudformation.stack_model import StackModel
from deploy.cloudformation.stack_parameters import settings_environment, stack_parameters
from include.settings import Settings, load_settings

ACCOUNT = "123456789012"
"""moto's default account; never the settings file's sample account."""
REGION = "us-east-1"
BUCKET = f"scones-mlops-{ACCOUNT}-{REGION}"


def simulated_stack(settings: Settings, image_tag: str | None = None) -> StackModel:
    """The template deployed with the parameters ``settings`` decide, in :data:`ACCOUNT` and the settings' region."""
    return StackModel(stack_parameters(settings, image_tag=image_tag), ACCOUNT, settings.region)


def stack_environment(environ: Mapping[str, str] | None = None, image_tag: str | None = None) -> dict[str, str]:
    """The ``SconesEnvironment`` output of the stack deployed for the settings ``environ`` gives."""
    environ = {"SCONES_BUCKET": BUCKET, **(environ or {})}
    stack = simulated_stack(load_settings(environ=environ), image_tag=image_tag)
    return settings_environment(stack.output("SconesEnvironment"))


def deployable_settings(environ: Mapping[str, str] | None = None, image_tag: str | None = None) -> Settings:
    """Settings filled from the stack's outputs (``environ`` on top), as a user's ``.env`` holds them."""
    return load_settings(environ={**stack_environment(environ, image_tag), **(environ or {})})
