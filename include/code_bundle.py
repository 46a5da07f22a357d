"""Ship a program's source folder to the object store, addressed by its content hash.

Jobs read their code from ``s3://BUCKET/code/<program>/<digest>/``, so a run always names
the exact code it ran and re-uploading unchanged code writes nothing new.

What two programs must compute identically lives once in ``programs/shared/`` and appears in each
program's folder as a symbolic link (``programs/ingest/photo_square.py`` and
``programs/model/photo_square.py`` both point at ``programs/shared/photo_square.py``). Links are
followed here, so every bundle carries the shared file's bytes as an ordinary module of its own.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

from include.settings import PROJECT_ROOT, Settings
from include.storage import ObjectStore

PROGRAMS_FOLDER = "programs"
"""A checkout's top-level folder of container programs."""
BUNDLED_PROGRAMS_FOLDER = "scones-programs"
"""Where the MWAA bundle carries them, beside ``include/``: data for the workers (uploaded as job code, the
report program run as a process), under a name no ``import`` can reach although MWAA puts the folder on
``sys.path``."""


def _programs_root() -> Path:
    checkout = PROJECT_ROOT / PROGRAMS_FOLDER
    return checkout if checkout.is_dir() else PROJECT_ROOT / BUNDLED_PROGRAMS_FOLDER


PROGRAMS_ROOT = _programs_root()
PROGRAM_DIRS = {name: PROGRAMS_ROOT / name for name in ("ingest", "model", "monitor")}
_SHIPPED_SUFFIXES = {".py", ".json"}


def source_files(directory: Path) -> list[Path]:
    return sorted(
        p for p in directory.rglob("*")
        if p.is_file() and p.suffix in _SHIPPED_SUFFIXES and "__pycache__" not in p.parts
    )


def source_digest(directory: Path) -> str:
    """sha256 over the shipped files' relative paths and bytes."""
    digest = hashlib.sha256()
    for path in source_files(directory):
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def code_version(program: str) -> str:
    """The program's code version: the first 16 hex digits of its source digest. Jobs ship its code under
    ``code/<program>/<version>/``; the drift analyzer's image is tagged with it."""
    return source_digest(PROGRAM_DIRS[program])[:16]


def upload_program(settings: Settings, store: ObjectStore, program: str) -> str:
    """Upload the program's files once per content version; returns the code prefix URI (ends with /)."""
    directory = PROGRAM_DIRS[program]
    prefix = settings.s3_uri(settings.prefixes.code, program, code_version(program)) + "/"
    for path in source_files(directory):
        uri = prefix + path.relative_to(directory).as_posix()
        if not store.exists(uri):
            store.put_bytes(uri, path.read_bytes())
    return prefix


def source_tarball(directory: Path) -> bytes:
    """A reproducible ``sourcedir.tar.gz`` as SageMaker script mode expects it."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT, dereference=True) as tar:
        for path in source_files(directory):
            info = tar.gettarinfo(str(path), arcname=path.relative_to(directory).as_posix())
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            with path.open("rb") as handle:
                tar.addfile(info, handle)
    return buffer.getvalue()
