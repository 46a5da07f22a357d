"""The object store and local work folder for the configured runtime."""

from __future__ import annotations

from pathlib import Path

from include.settings import Settings
from include.storage import LocalObjectStore, ObjectStore, S3ObjectStore


def object_store(settings: Settings) -> ObjectStore:
    """S3 in the ``aws`` runtime, S3 on disk under ``data_root`` in ``local``."""
    if settings.runtime == "aws":
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3ObjectStore(S3Hook(aws_conn_id=settings.aws_conn_id).get_conn())
    return LocalObjectStore(settings.data_root)


def local_work_root(settings: Settings) -> Path:
    """Where local jobs keep their folders and records (not a bucket: bucket names can't start with '.')."""
    return settings.data_root / ".work"
