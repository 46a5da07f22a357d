"""Unpacking a SageMaker model.tar.gz safely into a working folder."""

from __future__ import annotations

import tarfile
from pathlib import Path

from model_artifacts import MODEL_FILE, ModelArtifactError

ARCHIVE_NAME = "model.tar.gz"


def find_model(source_dir: Path, work_dir: Path) -> Path | None:
    """The folder holding model.pt: source_dir itself, or its model.tar.gz unpacked under work_dir.

    Returns None when source_dir holds neither (e.g. no champion yet).
    """
    if (source_dir / MODEL_FILE).is_file():
        return source_dir
    archives = sorted(source_dir.rglob(ARCHIVE_NAME)) if source_dir.is_dir() else []
    if not archives:
        return None
    return unpack_archive(archives[0], work_dir)


def unpack_archive(archive: Path, destination: Path) -> Path:
    """Extract a model archive, refusing members that would land outside the destination."""
    destination.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            root = destination.resolve()
            for member in members:
                target = (destination / member.name).resolve()
                if not target.is_relative_to(root) or member.issym() or member.islnk() or member.isdev():
                    raise ModelArtifactError(
                        f"model archive {archive} has an unsafe member {member.name!r}: repack it with plain files only"
                    )
            if hasattr(tarfile, "data_filter"):
                tar.extractall(destination, members=members, filter="data")
            else:
                tar.extractall(destination, members=members)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ModelArtifactError(
            f"model archive {archive} is not a readable tar.gz ({error}): re-run the training job"
        ) from error
    if not (destination / MODEL_FILE).is_file():
        raise ModelArtifactError(f"model archive {archive} has no {MODEL_FILE} at its top level: re-run training")
    return destination
