"""The ``aws`` runtime's model registry: SageMaker Model Registry through the provider's SageMaker hook.

A run's version is found with SageMaker ``Search`` on the run-key tag every version is registered with,
not by describing every version of the group. Search is eventually consistent (a version appears in it
seconds after creation), so the newest few versions are also checked, which covers a registration
retried right after the first attempt created its version.
"""

from __future__ import annotations

from typing import Any

from include.run_keys import RUN_KEY_PROPERTY
from include.runtime.aws.clients import sagemaker_client
from include.settings import Settings

RECENT_VERSIONS_CHECKED = 5


class SageMakerModelRegistry:
    """SageMaker Model Registry through the provider's SageMaker hook."""

    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self.group = settings.registry.model_package_group
        self.client = client if client is not None else sagemaker_client(settings)

    def _ensure_group(self) -> None:
        try:
            self.client.describe_model_package_group(ModelPackageGroupName=self.group)
        except self.client.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] != "ValidationException":
                raise
            self.client.create_model_package_group(
                ModelPackageGroupName=self.group,
                ModelPackageGroupDescription="Scones Unlimited vehicle classifier (bicycle vs motorcycle)",
                Tags=[{"Key": "project", "Value": "scones-mlops"}],
            )

    def _summaries(self, **filters: Any) -> list[dict]:
        paginator = self.client.get_paginator("list_model_packages")
        pages = paginator.paginate(ModelPackageGroupName=self.group, SortBy="CreationTime",
                                   SortOrder="Descending", **filters)
        return [s for page in pages for s in page["ModelPackageSummaryList"]]

    def register(self, request: dict) -> dict:
        self._ensure_group()
        existing = self.find_by_run_key(request["CustomerMetadataProperties"][RUN_KEY_PROPERTY])
        if existing:
            return existing
        arn = self.client.create_model_package(**request)["ModelPackageArn"]
        return self.describe(arn)

    def _searched(self, run_key: str) -> list[str]:
        # moto evaluates a Tags filter as the last word on a match, so it goes last.
        response = self.client.search(Resource="ModelPackage", MaxResults=10, SearchExpression={"Filters": [
            {"Name": "ModelPackageGroupName", "Operator": "Equals", "Value": self.group},
            {"Name": f"Tags.{RUN_KEY_PROPERTY}", "Operator": "Equals", "Value": run_key},
        ]})
        return [r["ModelPackage"]["ModelPackageArn"] for r in response.get("Results", []) if "ModelPackage" in r]

    def _recent(self) -> list[str]:
        try:
            summaries = self.client.list_model_packages(ModelPackageGroupName=self.group, SortBy="CreationTime",
                                                        SortOrder="Descending", MaxResults=RECENT_VERSIONS_CHECKED)
        except self.client.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] == "ValidationException":
                return []
            raise
        return [s["ModelPackageArn"] for s in summaries["ModelPackageSummaryList"]]

    def find_by_run_key(self, run_key: str) -> dict | None:
        """The version registered by ``run_key``: Search by its tag, then the newest few versions."""
        for arn in dict.fromkeys([*self._searched(run_key), *self._recent()]):
            record = self.describe(arn)
            if record.get("CustomerMetadataProperties", {}).get(RUN_KEY_PROPERTY) == run_key:
                return record
        return None

    def latest_approved(self) -> dict | None:
        try:
            summaries = self._summaries(ModelApprovalStatus="Approved")
        except self.client.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] == "ValidationException":
                return None
            raise
        return self.describe(summaries[0]["ModelPackageArn"]) if summaries else None

    def describe(self, arn: str) -> dict:
        return self.client.describe_model_package(ModelPackageName=arn)

    def recent_versions(self, limit: int) -> list[dict]:
        """ListModelPackages newest first (one page of at most ``limit``), each version described."""
        try:
            summaries = self.client.list_model_packages(ModelPackageGroupName=self.group, SortBy="CreationTime",
                                                        SortOrder="Descending", MaxResults=min(limit, 100))
        except self.client.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] == "ValidationException":
                return []
            raise
        return [self.describe(s["ModelPackageArn"]) for s in summaries["ModelPackageSummaryList"][:limit]]

    # --- approval decisions ---------------------------------------------------------------

    def update_approval(self, request: dict) -> dict:
        """UpdateModelPackage, then the version as SageMaker now describes it."""
        self.client.update_model_package(**request)
        return self.describe(request["ModelPackageArn"])
