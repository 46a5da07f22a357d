"""Verify the CIFAR-100 archive's MD5, then read its three batch files from a checked tar."""

from __future__ import annotations

import hashlib
import tarfile
import zlib
from pathlib import Path, PurePosixPath

from ingest_errors import ArchiveChecksumError, ArchiveMissingError, CorruptArchiveError, UnsafeArchiveError

ARCHIVE_NAME = "cifar-100-python.tar.gz"
TOP_FOLDER = "cifar-100-python"
BATCH_FILES = ("meta", "test", "train")
MAX_MEMBER_BYTES = 1 << 30


def file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_archive(archive_dir: Path, expected_md5: str) -> Path:
    """The archive's path once its MD5 matches ``expected_md5``; nothing is unpacked before that."""
    path = archive_dir / ARCHIVE_NAME
    if not path.is_file():
        raise ArchiveMissingError(f"archive {path} not found; put {ARCHIVE_NAME} in the --archive-dir folder")
    actual = file_md5(path)
    if actual != expected_md5.lower():
        raise ArchiveChecksumError(f"archive {path} md5 {actual} != expected {expected_md5}; re-download it")
    return path


def _member_key(member: tarfile.TarInfo, path: Path) -> str | None:
    """The batch file a member holds, None for a harmless extra, or raise for anything unsafe."""
    name = member.name
    parts = PurePosixPath(name).parts
    if not parts or name.startswith("/") or ".." in parts or "\\" in name or parts[0] != TOP_FOLDER:
        raise UnsafeArchiveError(f"archive {path} member {member.name!r} is outside {TOP_FOLDER}/; "
                                 "re-download the archive")
    if member.isdir():
        if len(parts) == 1:
            return None
        raise UnsafeArchiveError(f"archive {path} has an unexpected folder {member.name!r}; re-download it")
    if not member.isreg():
        raise UnsafeArchiveError(f"archive {path} member {member.name!r} is a link or special file; "
                                 "re-download the archive")
    if len(parts) != 2:
        raise UnsafeArchiveError(f"archive {path} member {member.name!r} is nested too deep; re-download it")
    return parts[1] if parts[1] in BATCH_FILES else None


def read_batch_files(path: Path) -> dict[str, bytes]:
    """``{'meta': ..., 'test': ..., 'train': ...}`` raw pickle bytes from the verified archive."""
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                key = _member_key(member, path)
                if key is None:
                    continue
                if key in found:
                    raise UnsafeArchiveError(f"archive {path} holds {member.name!r} twice; re-download it")
                if member.size > MAX_MEMBER_BYTES:
                    raise CorruptArchiveError(f"archive {path} member {member.name!r} is {member.size} "
                                              f"bytes, over {MAX_MEMBER_BYTES}; re-download it")
                stream = tar.extractfile(member)
                if stream is None:
                    raise CorruptArchiveError(f"archive {path} member {member.name!r} has no data; "
                                              "re-download it")
                found[key] = stream.read()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise CorruptArchiveError(f"archive {path} cannot be read ({exc}); re-download it") from exc
    missing = [name for name in BATCH_FILES if name not in found]
    if missing:
        raise CorruptArchiveError(f"archive {path} lacks {', '.join(f'{TOP_FOLDER}/{m}' for m in missing)}; "
                                  "re-download it")
    return found
