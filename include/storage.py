"""Object storage behind one interface: S3 itself, or "S3 on disk" under the data root.

``s3://BUCKET/KEY`` maps to ``DATA_ROOT/BUCKET/KEY`` locally; any key that would resolve
outside ``DATA_ROOT`` is refused with :class:`DataRootEscapeError`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol


class DataRootEscapeError(ValueError):
    """A key tried to leave the local object store's root."""


class ObjectNotFoundError(KeyError):
    """No object at that URI."""


@dataclass(frozen=True)
class S3Uri:
    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> S3Uri:
        if not uri.startswith("s3://"):
            raise ValueError(f"not an S3 URI: {uri!r} (expected s3://bucket/key)")
        bucket, _, key = uri[len("s3://") :].partition("/")
        if not bucket:
            raise ValueError(f"S3 URI without a bucket: {uri!r}")
        return cls(bucket, key)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def join(self, *parts: str) -> S3Uri:
        key = "/".join([self.key.rstrip("/"), *(p.strip("/") for p in parts)]).lstrip("/")
        return S3Uri(self.bucket, key)


@dataclass(frozen=True)
class ObjectInfo:
    uri: str
    size: int
    last_modified: datetime


class ObjectStore(Protocol):
    """What the pipeline needs from object storage."""

    def get_bytes(self, uri: str) -> bytes: ...
    def put_bytes(self, uri: str, data: bytes) -> None: ...
    def exists(self, uri: str) -> bool: ...
    def list(self, prefix_uri: str) -> list[ObjectInfo]: ...
    def delete(self, uri: str) -> None: ...
    def download_file(self, uri: str, path: Path) -> None: ...
    def upload_file(self, path: Path, uri: str) -> None: ...


def relative_key(prefix_uri: str, object_uri: str) -> str:
    """The part of ``object_uri`` below ``prefix_uri``."""
    prefix = prefix_uri.rstrip("/") + "/"
    if not object_uri.startswith(prefix):
        raise ValueError(f"{object_uri} is not under {prefix}")
    return object_uri[len(prefix) :]


def download_prefix(store: ObjectStore, prefix_uri: str, directory: Path) -> list[Path]:
    """Copy every object under ``prefix_uri`` (or the single object it names) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    objects = store.list(prefix_uri)
    written = []
    for info in objects:
        # An S3Prefix naming one object whole downloads it by its base name, as SageMaker does.
        relative = info.uri.rsplit("/", 1)[-1] if info.uri == prefix_uri else relative_key(prefix_uri, info.uri)
        target = _inside(directory, relative)
        store.download_file(info.uri, target)
        written.append(target)
    return written


def upload_directory(store: ObjectStore, directory: Path, prefix_uri: str) -> list[str]:
    """Upload every file under ``directory`` below ``prefix_uri``; returns the URIs."""
    uris = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        uri = f"{prefix_uri.rstrip('/')}/{path.relative_to(directory).as_posix()}"
        store.upload_file(path, uri)
        uris.append(uri)
    return uris


def publish_prefix(store: ObjectStore, staging_uri: str, final_uri: str, commit_marker: str) -> list[str]:
    """Replace ``final_uri`` with the objects under ``staging_uri``.

    Objects are copied first, the ``commit_marker`` object (e.g. ``manifest.json``) last, then
    objects the new version no longer has are deleted and the staging copy removed. Readers
    that trust the marker never see a half-published prefix as complete.
    """
    staged = {relative_key(staging_uri, o.uri): o.uri for o in store.list(staging_uri)}
    if commit_marker not in staged:
        raise ObjectNotFoundError(f"staging prefix {staging_uri} has no {commit_marker}: nothing to publish")
    final = final_uri.rstrip("/")
    for rel in sorted(staged, key=lambda r: r == commit_marker):
        store.put_bytes(f"{final}/{rel}", store.get_bytes(staged[rel]))
    for info in store.list(final_uri):
        if relative_key(final_uri, info.uri) not in staged:
            store.delete(info.uri)
    for uri in staged.values():
        store.delete(uri)
    return [f"{final}/{rel}" for rel in sorted(staged)]


def _inside(root: Path, relative: str) -> Path:
    root = root.resolve()
    target = (root / relative).resolve()
    if target != root and root not in target.parents:
        raise DataRootEscapeError(f"DATA_ROOT escape refused: key {relative!r} resolves outside {root}")
    return target


class LocalObjectStore:
    """S3 on disk: ``s3://BUCKET/KEY`` is ``root/BUCKET/KEY``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def path_for(self, uri: str) -> Path:
        parsed = S3Uri.parse(uri)
        if (parsed.key.startswith("/") or "\\" in parsed.key or parsed.bucket in (".", "..")
                or ".." in parsed.key.split("/")):
            raise DataRootEscapeError(f"DATA_ROOT escape refused: {uri!r} is not a plain bucket/key")
        return _inside(self.root, f"{parsed.bucket}/{parsed.key}")

    def get_bytes(self, uri: str) -> bytes:
        path = self.path_for(uri)
        if not path.is_file():
            raise ObjectNotFoundError(f"no object at {uri} (looked in {path})")
        return path.read_bytes()

    def put_bytes(self, uri: str, data: bytes) -> None:
        path = self.path_for(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)

    def exists(self, uri: str) -> bool:
        return self.path_for(uri).is_file()

    def list(self, prefix_uri: str) -> list[ObjectInfo]:
        parsed = S3Uri.parse(prefix_uri)
        base = self.path_for(f"s3://{parsed.bucket}/{parsed.key.rsplit('/', 1)[0] if '/' in parsed.key else ''}")
        if not base.is_dir():
            return []
        bucket_root = self.path_for(f"s3://{parsed.bucket}/")
        found = []
        for path in sorted(base.rglob("*")):
            if not path.is_file() or path.name.startswith(".tmp-"):
                continue
            key = path.relative_to(bucket_root).as_posix()
            if key.startswith(parsed.key):
                stat = path.stat()
                found.append(ObjectInfo(f"s3://{parsed.bucket}/{key}", stat.st_size,
                                        datetime.fromtimestamp(stat.st_mtime, UTC)))
        return found

    def delete(self, uri: str) -> None:
        path = self.path_for(uri)
        path.unlink(missing_ok=True)
        bucket_root = self.path_for(f"s3://{S3Uri.parse(uri).bucket}/")
        for parent in path.parents:
            if parent == bucket_root or bucket_root not in parent.parents:
                break
            try:
                parent.rmdir()
            except OSError:
                break

    def download_file(self, uri: str, path: Path) -> None:
        source = self.path_for(uri)
        if not source.is_file():
            raise ObjectNotFoundError(f"no object at {uri}")
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, path)

    def upload_file(self, path: Path, uri: str) -> None:
        target = self.path_for(uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        os.close(fd)
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)


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

    def exists(self, uri: str) -> bool:
        parsed = S3Uri.parse(uri)
        if not parsed.key or parsed.key.endswith("/"):
            return False
        try:
            self.client.head_object(Bucket=parsed.bucket, Key=parsed.key)
        except self.client.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
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
        self.client.download_file(parsed.bucket, parsed.key, str(path))

    def upload_file(self, path: Path, uri: str) -> None:
        parsed = S3Uri.parse(uri)
        self.client.upload_file(str(path), parsed.bucket, parsed.key)
