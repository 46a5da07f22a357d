"""The ``aws`` runtime's object store: Amazon S3 through the provider's S3 hook, raising the store's own errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from include.runtime.aws.clients import s3_client
from include.settings import Settings
from include.storage import ObjectInfo, ObjectNotFoundError, S3Uri

MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
# 412: the condition failed; 409: a concurrent conditional write to the same key won the race.
LOST_CONDITION_CODES = frozenset({"412", "PreconditionFailed", "409", "ConditionalRequestConflict"})


def s3_object_store(settings: Settings) -> S3ObjectStore:
    return S3ObjectStore(s3_client(settings))


class S3ObjectStore:
    """Amazon S3 through a boto3 client."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def get_bytes(self, uri: str) -> bytes:
        parsed = S3Uri.parse(uri)
        try:
            return self.client.get_object(Bucket=parsed.bucket, Key=parsed.key)["Body"].read()
        except self.client.exceptions.NoSuchKey as exc:
            raise ObjectNotFoundError(f"no object at {uri}") from exc

    def put_bytes(self, uri: str, data: bytes) -> None:
        parsed = S3Uri.parse(uri)
        self.client.put_object(Bucket=parsed.bucket, Key=parsed.key, Body=data)

    def _conditional_put(self, uri: str, data: bytes, **condition: str) -> bool:
        parsed = S3Uri.parse(uri)
        try:
            self.client.put_object(Bucket=parsed.bucket, Key=parsed.key, Body=data, **condition)
        except self.client.exceptions.ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code in LOST_CONDITION_CODES or (condition.get("IfMatch") and code in MISSING_CODES):
                return False
            raise
        return True

    def put_if_absent(self, uri: str, data: bytes) -> bool:
        return self._conditional_put(uri, data, IfNoneMatch="*")

    def get_with_version(self, uri: str) -> tuple[bytes, str]:
        parsed = S3Uri.parse(uri)
        try:
            response = self.client.get_object(Bucket=parsed.bucket, Key=parsed.key)
        except self.client.exceptions.NoSuchKey as exc:
            raise ObjectNotFoundError(f"no object at {uri}") from exc
        return response["Body"].read(), response["ETag"].strip('"')

    def put_if_version(self, uri: str, data: bytes, version: str) -> bool:
        return self._conditional_put(uri, data, IfMatch=f'"{version.strip(chr(34))}"')

    def exists(self, uri: str) -> bool:
        parsed = S3Uri.parse(uri)
        if not parsed.key or parsed.key.endswith("/"):
            return False
        try:
            self.client.head_object(Bucket=parsed.bucket, Key=parsed.key)
        except self.client.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] in MISSING_CODES:
                return False
            raise
        return True

    def list(self, prefix_uri: str) -> list[ObjectInfo]:
        parsed = S3Uri.parse(prefix_uri)
        return list(self._iter(parsed))

    def _iter(self, parsed: S3Uri) -> Iterator[ObjectInfo]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=parsed.bucket, Prefix=parsed.key):
            for item in page.get("Contents", []):
                yield ObjectInfo(f"s3://{parsed.bucket}/{item['Key']}", item["Size"], item["LastModified"])

    def delete(self, uri: str) -> None:
        parsed = S3Uri.parse(uri)
        self.client.delete_object(Bucket=parsed.bucket, Key=parsed.key)

    def download_file(self, uri: str, path: Path) -> None:
        parsed = S3Uri.parse(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.client.download_file(parsed.bucket, parsed.key, str(path))
        except self.client.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] in MISSING_CODES:
                raise ObjectNotFoundError(f"no object at {uri}") from exc
            raise

    def upload_file(self, path: Path, uri: str) -> None:
        parsed = S3Uri.parse(uri)
        self.client.upload_file(str(path), parsed.bucket, parsed.key)
