"""The model registry behind one interface: SageMaker Model Registry, or the same records on disk.

Both take a CreateModelPackage request and answer with DescribeModelPackage-shaped records,
so the training and deployment workflows never know which one they use. Registration is
idempotent by run: a run that registered already gets its existing version back.
"""

from __future__ import annotations

import fcntl
import json
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from include.run_keys import RUN_KEY_PROPERTY
from include.settings import Settings
from include.storage import LocalObjectStore


class ModelRegistry(Protocol):
    def register(self, request: dict) -> dict: ...
    def find_by_run_key(self, run_key: str) -> dict | None: ...
    def latest_approved(self) -> dict | None: ...
    def describe(self, arn: str) -> dict: ...


class ModelVersionNotFoundError(LookupError):
    """No registered model version matches."""


class LocalModelRegistry:
    """Versions as JSON under ``s3://BUCKET/<registry prefix>/<group>/versions/NNNNNN.json`` on disk."""

    def __init__(self, settings: Settings) -> None:
        self.group = settings.registry.model_package_group
        self.store = LocalObjectStore(settings.data_root)
        self.prefix = settings.s3_uri(settings.prefixes.registry, self.group, "versions") + "/"
        self.lock_path = settings.data_root / ".work" / f"registry-{self.group}.lock"

    @contextmanager
    def _locked(self):
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        with self.lock_path.open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def versions(self) -> list[dict]:
        records = [json.loads(self.store.get_bytes(o.uri)) for o in self.store.list(self.prefix)
                   if o.uri.endswith(".json")]
        return sorted(records, key=lambda r: r["ModelPackageVersion"])

    def register(self, request: dict) -> dict:
        run_key = request["CustomerMetadataProperties"][RUN_KEY_PROPERTY]
        with self._locked():
            existing = self.find_by_run_key(run_key)
            if existing:
                return existing
            version = len(self.versions()) + 1
            now = datetime.now(UTC).isoformat()
            record = {
                **{k: v for k, v in request.items() if k != "Tags"},
                "ModelPackageArn": f"local:model-package/{self.group}/{version}",
                "ModelPackageVersion": version,
                "ModelPackageStatus": "Completed",
                "CreationTime": now,
                "LastModifiedTime": now,
            }
            self.store.put_bytes(f"{self.prefix}{version:06d}.json", json.dumps(record, indent=2).encode())
            return record

    def find_by_run_key(self, run_key: str) -> dict | None:
        return next((r for r in self.versions()
                     if r.get("CustomerMetadataProperties", {}).get(RUN_KEY_PROPERTY) == run_key), None)

    def latest_approved(self) -> dict | None:
        approved = [r for r in self.versions() if r["ModelApprovalStatus"] == "Approved"]
        return approved[-1] if approved else None

    def describe(self, arn: str) -> dict:
        for record in self.versions():
            if record["ModelPackageArn"] == arn:
                return record
        raise ModelVersionNotFoundError(f"no model version {arn} in group {self.group}")


class SageMakerModelRegistry:
    """SageMaker Model Registry through the provider's SageMaker hook."""

    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self.group = settings.registry.model_package_group
        if client is None:
            from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

            client = SageMakerHook(aws_conn_id=settings.aws_conn_id, region_name=settings.region).conn
        self.client = client

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

    def find_by_run_key(self, run_key: str) -> dict | None:
        for summary in self._summaries():
            record = self.describe(summary["ModelPackageArn"])
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


def registry_for(settings: Settings) -> ModelRegistry:
    return SageMakerModelRegistry(settings) if settings.runtime == "aws" else LocalModelRegistry(settings)


def model_data_url(record: dict) -> str:
    return record["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]


def local_path_of(settings: Settings, uri: str) -> Path:
    return LocalObjectStore(settings.data_root).path_for(uri)
