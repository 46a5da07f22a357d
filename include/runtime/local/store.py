"""The ``local`` runtime's object store: S3 on disk, ``s3://BUCKET/KEY`` is ``DATA_ROOT/BUCKET/KEY``."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from include.runtime.local.notifications import notify, queue_configurations
from include.settings import Settings
from include.storage import DataRootEscapeError, ObjectInfo, ObjectNotFoundError, S3Uri, inside


def local_work_root(settings: Settings) -> Path:
    """Where local jobs keep their folders and records (not a bucket: bucket names can't start with '.')."""
    return settings.data_root / ".work"


def local_object_store(settings: Settings) -> LocalObjectStore:
    return LocalObjectStore(settings.data_root)


class LocalObjectStore:
    """S3 on disk: ``s3://BUCKET/KEY`` is ``root/BUCKET/KEY``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def path_for(self, uri: str) -> Path:
        parsed = S3Uri.parse(uri)
        if (parsed.key.startswith("/") or "\\" in parsed.key or parsed.bucket in (".", "..")
                or ".." in parsed.key.split("/")):
            raise DataRootEscapeError(f"DATA_ROOT escape refused: {uri!r} is not a plain bucket/key")
        return inside(self.root, f"{parsed.bucket}/{parsed.key}")

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
        self._notify_created(uri, lambda: data)

    def _notify_created(self, uri: str, read: Callable[[], bytes]) -> None:
        """Send the bucket's event notifications for a new object, as S3 does (nothing when none is configured)."""
        parsed = S3Uri.parse(uri)
        if queue_configurations(self.root, parsed.bucket):
            data = read()
            notify(self.root, parsed.bucket, parsed.key, size=len(data), etag=_etag(data))

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
        if path.is_file():
            path.unlink(missing_ok=True)
            parsed = S3Uri.parse(uri)
            notify(self.root, parsed.bucket, parsed.key, event_name="ObjectRemoved:Delete")
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

    def _write_aside(self, path: Path, data: bytes) -> str:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return tmp

    @contextmanager
    def _locked(self, path: Path) -> Iterator[None]:
        """One writer at a time for ``path``, across processes (lock files live outside every bucket)."""
        locks = self.root / ".work" / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        lock = locks / hashlib.sha256(str(path).encode()).hexdigest()
        with lock.open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield

    def put_if_absent(self, uri: str, data: bytes) -> bool:
        path = self.path_for(uri)
        tmp = self._write_aside(path, data)
        try:
            os.link(tmp, path)  # atomic: fails if the name exists, whoever wrote it
        except FileExistsError:
            return False
        finally:
            os.unlink(tmp)
        self._notify_created(uri, lambda: data)
        return True

    def get_with_version(self, uri: str) -> tuple[bytes, str]:
        data = self.get_bytes(uri)
        return data, _etag(data)

    def put_if_version(self, uri: str, data: bytes, version: str) -> bool:
        path = self.path_for(uri)
        with self._locked(path):
            if not path.is_file() or _etag(path.read_bytes()) != version.strip('"'):
                return False
            os.replace(self._write_aside(path, data), path)
        self._notify_created(uri, lambda: data)
        return True

    def upload_file(self, path: Path, uri: str) -> None:
        target = self.path_for(uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        os.close(fd)
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)
        self._notify_created(uri, target.read_bytes)


def _etag(data: bytes) -> str:
    """What S3 answers as the ETag of a single-part object: the hex MD5 of its bytes."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()
