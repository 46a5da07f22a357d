"""The boto3 clients of the Airflow AWS connection, built through the Amazon provider's hooks.

Every AWS implementation gets its clients here, so the connection id and region come from one place and
the provider is imported only when a client is first needed (never at DAG parse time).
"""

from __future__ import annotations

from typing import Any

from include.settings import Settings


def sagemaker_client(settings: Settings) -> Any:
    """SageMaker, as the provider's SageMaker hook builds it."""
    from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

    return SageMakerHook(aws_conn_id=settings.aws_conn_id, region_name=settings.region).conn


def s3_client(settings: Settings) -> Any:
    """S3, as the provider's S3 hook builds it (with the connection's S3 settings, e.g. its endpoint)."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id=settings.aws_conn_id).get_conn()


def aws_client(settings: Settings, service: str) -> Any:
    """Any other service, through the provider's generic AWS hook."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    return AwsBaseHook(aws_conn_id=settings.aws_conn_id, client_type=service, region_name=settings.region).conn


class LazyClient:
    """A descriptor for an implementation's ``client``: the injected one (tests), else built on first use.

    The owning class keeps ``settings`` and ``_client``; ``factory`` is one of this module's functions.
    """

    def __init__(self, factory: Any) -> None:
        self.factory = factory

    def __get__(self, owner: Any, owner_type: type | None = None) -> Any:
        if owner is None:
            return self
        if owner._client is None:
            owner._client = self.factory(owner.settings)
        return owner._client
