"""The ``local`` runtime's model registry: DescribeModelPackage-shaped records under the data root."""

from __future__ import annotations

import fcntl
import json
from contextlib import contextmanager
from datetime import UTC, datetime

from include.registry import ModelVersionNotFoundError
from include.run_keys import RUN_KEY_PROPERTY
from include.runtime.local.store import LocalObjectStore, local_work_root
from include.settings import Settings


class LocalModelRegistry:
    """Versions as JSON under ``s3://BUCKET/<registry prefix>/<group>/versions/NNNNNN.json`` on disk."""

    def __init__(self, settings: Settings) -> None:
        self.group = settings.registry.model_package_group
        self.store = LocalObjectStore(settings.data_root)
        self.prefix = settings.s3_uri(settings.prefixes.registry, self.group, "versions") + "/"
        self.lock_path = local_work_root(settings) / f"registry-{self.group}.lock"

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

    # --- approval decisions ---------------------------------------------------------------

    def update_approval(self, request: dict) -> dict:
        """UpdateModelPackage on the record: status, description and metadata replaced, modification time set."""
        with self._locked():
            record = self.describe(request["ModelPackageArn"])
            updated = {
                **record,
                "ModelApprovalStatus": request["ModelApprovalStatus"],
                "ApprovalDescription": request.get("ApprovalDescription", record.get("ApprovalDescription", "")),
                "CustomerMetadataProperties": request.get("CustomerMetadataProperties",
                                                          record.get("CustomerMetadataProperties", {})),
                "LastModifiedTime": datetime.now(UTC).isoformat(),
            }
            self.store.put_bytes(f"{self.prefix}{record['ModelPackageVersion']:06d}.json",
                                 json.dumps(updated, indent=2).encode())
            return updated
