"""Upload the MWAA bundle to the bucket and point the environment at the new object versions.

Dry run by default: prints which objects would be uploaded or deleted (compared by the sha256
stored in each object's metadata) and the ``UpdateEnvironment`` request. ``--apply`` does it.
``dags/`` lands under ``settings.mwaa.dags_prefix``; ``plugins.zip``, ``requirements.txt`` and
``startup.sh`` beside it, where the CloudFormation template's MWAA environment reads them.

Usage: ``python -m deploy.mwaa.deploy [--bundle build/mwaa] [--apply]``
"""

from __future__ import annotations

import argparse
import posixpath
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from deploy.mwaa.bundle import Bundle, sha256_of
from include.settings import PROJECT_ROOT, Settings, export_dotenv_aws_variables, get_settings

VERSIONED_FILES = {"plugins.zip": "Plugins", "requirements.txt": "Requirements", "startup.sh": "StartupScript"}
SHA256_METADATA = "sha256"


class DeployError(RuntimeError):
    """The bundle could not be deployed."""


@dataclass(frozen=True)
class PlannedObject:
    """One bundle file and what deploying it means: ``upload`` or ``unchanged``."""

    path: str
    key: str
    sha256: str
    action: str


@dataclass(frozen=True)
class DeployPlan:
    objects: list[PlannedObject]
    stale_keys: list[str]

    @property
    def uploads(self) -> list[PlannedObject]:
        return [item for item in self.objects if item.action == "upload"]

    @property
    def changes_environment(self) -> bool:
        """Whether plugins, requirements or the startup script change (DAG files need no update)."""
        return any(item.path in VERSIONED_FILES for item in self.uploads)


def read_bundle(root: Path) -> Bundle:
    """A bundle built earlier by ``deploy.mwaa.bundle``."""
    missing = [name for name in (*VERSIONED_FILES, "dags") if not (root / name).exists()]
    if missing:
        raise DeployError(f"{root} is not an MWAA bundle (missing {', '.join(missing)}): run make mwaa-bundle first")
    files = {p.relative_to(root).as_posix(): sha256_of(p) for p in sorted(root.rglob("*")) if p.is_file()}
    return Bundle(root=root, files=files)


def mwaa_prefix(settings: Settings) -> str:
    """The folder holding dags/, plugins.zip, requirements.txt and startup.sh."""
    return posixpath.dirname(settings.mwaa.dags_prefix.strip("/"))


def object_key(settings: Settings, path: str) -> str:
    """The S3 key of a bundle file: ``dags/x`` goes under ``mwaa.dags_prefix``."""
    if path.startswith("dags/"):
        return posixpath.join(settings.mwaa.dags_prefix.strip("/"), path[len("dags/"):])
    return posixpath.join(mwaa_prefix(settings), path)


def _stored_sha256(s3: Any, bucket: str, key: str) -> str | None:
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return head.get("Metadata", {}).get(SHA256_METADATA)


def _existing_dag_keys(s3: Any, bucket: str, prefix: str) -> set[str]:
    keys: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix.rstrip("/") + "/"):
        keys.update(item["Key"] for item in page.get("Contents", []))
    return keys


def plan_deploy(bundle: Bundle, settings: Settings, s3: Any) -> DeployPlan:
    """Compare the bundle with the bucket: what to upload, and which old DAG-folder objects to delete."""
    objects = []
    for path, digest in sorted(bundle.files.items()):
        key = object_key(settings, path)
        action = "unchanged" if _stored_sha256(s3, settings.bucket, key) == digest else "upload"
        objects.append(PlannedObject(path=path, key=key, sha256=digest, action=action))
    wanted = {item.key for item in objects}
    stale = sorted(_existing_dag_keys(s3, settings.bucket, settings.mwaa.dags_prefix) - wanted)
    return DeployPlan(objects=objects, stale_keys=stale)


def update_environment_request(settings: Settings, versions: dict[str, str]) -> dict[str, Any]:
    """The ``UpdateEnvironment`` request pointing MWAA at the given object versions (by bundle path)."""
    request: dict[str, Any] = {"Name": settings.mwaa.environment_name, "DagS3Path": settings.mwaa.dags_prefix}
    for path, field in VERSIONED_FILES.items():
        request[f"{field}S3Path"] = object_key(settings, path)
        request[f"{field}S3ObjectVersion"] = versions[path]
    return request


def _current_version(s3: Any, bucket: str, key: str) -> str:
    version = s3.head_object(Bucket=bucket, Key=key).get("VersionId")
    if not version or version == "null":
        raise DeployError(
            f"s3://{bucket}/{key} has no object version: MWAA needs versioning enabled on bucket {bucket} "
            "(the CloudFormation template's bucket has it)"
        )
    return version


def apply_plan(plan: DeployPlan, bundle: Bundle, settings: Settings, s3: Any) -> dict[str, str]:
    """Upload changed files, delete stale DAG-folder objects; returns the versioned files' versions."""
    for item in plan.uploads:
        s3.put_object(Bucket=settings.bucket, Key=item.key, Body=(bundle.root / item.path).read_bytes(),
                      Metadata={SHA256_METADATA: item.sha256})
    for start in range(0, len(plan.stale_keys), 1000):
        batch = plan.stale_keys[start:start + 1000]
        s3.delete_objects(Bucket=settings.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
    return {path: _current_version(s3, settings.bucket, object_key(settings, path)) for path in VERSIONED_FILES}


def describe_plan(plan: DeployPlan, settings: Settings) -> list[str]:
    lines = [f"s3://{settings.bucket}/{item.key}: {item.action}" for item in plan.objects if item.action == "upload"]
    lines += [f"s3://{settings.bucket}/{key}: delete (no longer in the bundle)" for key in plan.stale_keys]
    unchanged = len(plan.objects) - len(plan.uploads)
    lines.append(f"{len(plan.uploads)} to upload, {len(plan.stale_keys)} to delete, {unchanged} unchanged")
    return lines


def deploy(bundle_dir: Path, settings: Settings, s3: Any, mwaa: Any, apply: bool) -> dict[str, Any] | None:
    """Plan (and with ``apply`` carry out) the deployment; returns the UpdateEnvironment request if one is due."""
    bundle = read_bundle(bundle_dir)
    plan = plan_deploy(bundle, settings, s3)
    for line in describe_plan(plan, settings):
        print(line)
    if not apply:
        if plan.changes_environment:
            print(f"would call UpdateEnvironment on {settings.mwaa.environment_name} with the new object versions")
        print("dry run: nothing changed (pass --apply to deploy)")
        return None
    versions = apply_plan(plan, bundle, settings, s3)
    if not plan.changes_environment:
        print("plugins, requirements and startup script unchanged: MWAA picks up DAG files by itself")
        return None
    request = update_environment_request(settings, versions)
    try:
        mwaa.update_environment(**request)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            raise DeployError(
                f"MWAA environment {settings.mwaa.environment_name!r} not found: the bundle is uploaded; create the "
                "environment (stack parameter CreateMwaaEnvironment=true) or set SCONES_MWAA__ENVIRONMENT_NAME"
            ) from exc
        raise
    print(f"UpdateEnvironment {settings.mwaa.environment_name}: {request}")
    return request


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Deploy the MWAA bundle (dry run unless --apply).")
    parser.add_argument("--bundle", type=Path, default=PROJECT_ROOT / "build" / "mwaa")
    parser.add_argument("--apply", action="store_true", help="upload and update the environment")
    args = parser.parse_args(argv)
    import boto3

    export_dotenv_aws_variables()
    settings = get_settings()
    session = boto3.session.Session(region_name=settings.region)
    try:
        deploy(args.bundle.resolve(), settings, session.client("s3"), session.client("mwaa"), args.apply)
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
