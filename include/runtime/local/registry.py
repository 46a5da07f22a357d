"""The ``local`` runtime's model registry: DescribeModelPackage-shaped records under the data root."""

from __future__ import annotations

import fcntl
import json
from contextlib import contextmanager
from datetime import UTC, datetime

from include.registry import ModelVersionNotFoundError
from include.run_keys import RUN_KEY_PROPERTY, sanitise
from include.runtime.local.store import LocalObjectStore, local_work_root
from include.settings import Settings
from include.storage import ObjectNotFoundError


class LocalModelRegistry:
    """Versions as JSON under ``s3://BUCKET/<registry prefix>/<group>/versions/NNNNNN.json`` on disk, and an index
    ``run-keys/<run key>.json`` naming each run's version (what a tag search finds on AWS)."""

    def __init__(self, settings: Settings) -> None:
        self.group = settings.registry.model_package_group
        self.store = LocalObjectStore(settings.data_root)
        self.prefix = settings.s3_uri(settings.prefixes.registry, self.group, "versions") + "/"
        self.run_keys_prefix = settings.s3_uri(settings.prefixes.registry, self.group, "run-keys") + "/"
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

    def recent_versions(self, limit: int) -> list[dict]:
        return self.versions()[::-1][:limit]

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
            self.store.put_bytes(self._version_uri(version), json.dumps(record, indent=2).encode())
            index = {"run_key": run_key, "ModelPackageVersion": version}
            self.store.put_bytes(self._run_key_uri(run_key), json.dumps(index).encode())
            return record

    def _version_uri(self, version: int) -> str:
        return f"{self.prefix}{version:06d}.json"

    def _run_key_uri(self, run_key: str) -> str:
        return f"{self.run_keys_prefix}{sanitise(run_key, 200)}.json"

    def find_by_run_key(self, run_key: str) -> dict | None:
        """The run's version, through the run-key index."""
        try:
            index = json.loads(self.store.get_bytes(self._run_key_uri(run_key)))
        except ObjectNotFoundError:
            return None
        record = json.loads(self.store.get_bytes(self._version_uri(index["ModelPackageVersion"])))
        return record if record.get("CustomerMetadataProperties", {}).get(RUN_KEY_PROPERTY) == run_key else None

    def latest_approved(self) -> dict | None:
        approved = [r for r in self.versions() if r["ModelApprovalStatus"] == "Approved"]
        return approved[-1] if approved else None

    def describe(self, arn: str) -> dict:
        group, _, version = arn.removeprefix("local:model-package/").rpartition("/")
        try:
            record = json.loads(self.store.get_bytes(self._version_uri(int(version))))
        except (ValueError, ObjectNotFoundError):
            record = None
        if group != self.group or record is None or record["ModelPackageArn"] != arn:
            raise ModelVersionNotFoundError(f"no model version {arn} in group {self.group}")
        return record

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
            self.store.put_bytes(self._version_uri(record["ModelPackageVersion"]),
                                 json.dumps(updated, indent=2).encode())
            return updated
