"""The ingest workflow's steps: stage the archive, build the job request, publish the partition."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import urllib.request
from pathlib import Path

from include.builders.ingest import ingest_processing_request
from include.code_bundle import upload_program
from include.settings import Settings
from include.storage import ObjectStore, publish_prefix

ARCHIVE_NAME = "cifar-100-python.tar.gz"
MANIFEST = "manifest.json"


class ArchiveChecksumError(ValueError):
    """The CIFAR archive's MD5 does not match the published one."""


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_archive(source: str, store: ObjectStore, target: Path) -> None:
    """Copy the archive from a URL, a local path or an ``s3://`` mirror to ``target``."""
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=120) as response, target.open("wb") as handle:
            shutil.copyfileobj(response, handle, 1 << 20)
    elif source.startswith("s3://"):
        store.download_file(source, target)
    else:
        path = Path(source).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"CIFAR archive source {source!r} is not a file (setting cifar.source)")
        shutil.copyfile(path, target)


def stage_archive(settings: Settings, store: ObjectStore) -> dict[str, str]:
    """Put the verified archive at ``raw/cifar/<md5>/``; a staged copy is reused as is."""
    expected = settings.cifar.md5
    uri = settings.s3_uri(settings.prefixes.raw, "cifar", expected, ARCHIVE_NAME)
    if not store.exists(uri):
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / ARCHIVE_NAME
            fetch_archive(settings.cifar.source, store, local)
            actual = _md5(local)
            if actual != expected:
                raise ArchiveChecksumError(
                    f"CIFAR archive from {settings.cifar.source} has md5 {actual}, expected {expected} "
                    "(setting cifar.md5): the download is corrupt or tampered; nothing was staged"
                )
            store.upload_file(local, uri)
    return {"archive_uri": uri, "archive_md5": expected}


def has_labelled_photos(settings: Settings, store: ObjectStore) -> bool:
    return bool(store.list(settings.s3_uri(settings.prefixes.incoming_labelled) + "/"))


def staging_uri(settings: Settings, job_name: str) -> str:
    return settings.s3_uri(settings.prefixes.staging, "datasets", job_name) + "/"


def partition_uri(settings: Settings, run_key: str) -> str:
    return settings.s3_uri(settings.prefixes.datasets, run_key) + "/"


def build_request(settings: Settings, store: ObjectStore, *, run_key: str, job_name: str,
                  archive: dict[str, str]) -> dict:
    return ingest_processing_request(
        settings,
        run_key=run_key,
        job_name=job_name,
        code_uri=upload_program(settings, store, "ingest"),
        archive_uri=archive["archive_uri"],
        archive_md5=archive["archive_md5"],
        staging_uri=staging_uri(settings, job_name),
        include_labelled=has_labelled_photos(settings, store),
    )


def publish_partition(settings: Settings, store: ObjectStore, *, run_key: str, job_result: dict) -> dict:
    """Replace the run's partition with the job's staged output; returns what the Asset event carries."""
    outputs = job_result["Processing"]["ProcessingOutputConfig"]["Outputs"]
    staged = next(o["S3Output"]["S3Uri"] for o in outputs if o["OutputName"] == "partition")
    final = partition_uri(settings, run_key)
    if store.exists(staged + MANIFEST) or not store.exists(final + MANIFEST):
        publish_prefix(store, staged, final, MANIFEST)
    # else: a reused job whose output this run published already; publishing again is a no-op.
    manifest_bytes = store.get_bytes(final + MANIFEST)
    manifest = json.loads(manifest_bytes)
    if manifest.get("run_key") != run_key:
        raise ValueError(f"partition {final} holds run {manifest.get('run_key')!r}, not {run_key!r}: "
                         "its manifest does not belong to this run; re-run ingest for this date")
    return {
        "partition": final,
        "run_key": run_key,
        "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
        "content_sha256": manifest.get("content_sha256"),
        "counts": manifest.get("counts", {}),
        "quarantined": len(manifest.get("quarantine", [])),
    }

