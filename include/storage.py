"""Object storage behind one interface, and the helpers written once against it.

The implementations sit below the runtime seam: S3 itself (``include/runtime/aws/store.py``), or "S3
on disk" under the data root (``include/runtime/local/store.py``), where ``s3://BUCKET/KEY`` maps to
``DATA_ROOT/BUCKET/KEY`` and any key that would resolve outside ``DATA_ROOT`` is refused with
:class:`DataRootEscapeError`. Both raise this module's errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable


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


@runtime_checkable
class ObjectStore(Protocol):
    """What the pipeline needs from object storage."""

    def get_bytes(self, uri: str) -> bytes: ...
    def put_bytes(self, uri: str, data: bytes) -> None: ...
    def exists(self, uri: str) -> bool: ...
    def list(self, prefix_uri: str) -> list[ObjectInfo]: ...
    def delete(self, uri: str) -> None: ...
    def download_file(self, uri: str, path: Path) -> None: ...
    def upload_file(self, path: Path, uri: str) -> None: ...

    def put_if_absent(self, uri: str, data: bytes) -> bool:
        """Create the object only if none exists (S3 ``If-None-Match: *``); ``False`` when one does."""
        ...

    def get_with_version(self, uri: str) -> tuple[bytes, str]:
        """The object's bytes and a version token (its ETag) for :meth:`put_if_version`."""
        ...

    def put_if_version(self, uri: str, data: bytes, version: str) -> bool:
        """Replace the object only if it is still at ``version`` (S3 ``If-Match``); ``False`` otherwise."""
        ...


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
        target = inside(directory, relative)
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


def inside(root: Path, relative: str) -> Path:
    """``root / relative``, refusing any path that resolves outside ``root``."""
    root = root.resolve()
    target = (root / relative).resolve()
    if target != root and root not in target.parents:
        raise DataRootEscapeError(f"DATA_ROOT escape refused: key {relative!r} resolves outside {root}")
    return target
