"""Scan ``<labelled-dir>/<class>/*``: accept JPEG/PNG photos, quarantine everything else with a reason."""

from __future__ import annotations

import hashlib
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from cifar_batches import CLASS_NAMES
from ingest_errors import PhotoRejected
from photo_resize import EXTENSIONS, decode_photo, encode_png


@dataclass(frozen=True)
class LabelledPhoto:
    """An accepted photo: where it came from, its class, content hash, and the 32x32 PNG."""

    source: str  # path relative to the labelled folder
    path: Path
    class_index: int
    sha256: str
    extension: str
    png: bytes


@dataclass(frozen=True)
class Quarantined:
    path: str  # relative to the labelled folder
    reason: str


@dataclass(frozen=True)
class _Candidate:
    source: str
    path: Path
    class_index: int
    sha256: str


def _entries(root: Path) -> list[tuple[str, Path]]:
    """Every non-folder entry under ``root`` (symbolic links included, never followed), sorted."""
    found = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        here = Path(folder)
        links = [d for d in dirs if (here / d).is_symlink()]
        for name in [*files, *links]:
            path = here / name
            found.append((path.relative_to(root).as_posix(), path))
    return sorted(found)


def _check_place(source: str, path: Path) -> int:
    """The class index of a well-placed regular file, else :class:`PhotoRejected`."""
    parts = source.split("/")
    if path.is_symlink():
        raise PhotoRejected("symbolic link; copy the photo itself into its label folder")
    if len(parts) == 1:
        raise PhotoRejected(f"not inside a label folder; move it into one of {', '.join(CLASS_NAMES)}/")
    if parts[0] not in CLASS_NAMES:
        raise PhotoRejected(f"unknown label folder {parts[0]!r}; expected one of {', '.join(CLASS_NAMES)}")
    if len(parts) > 2:
        raise PhotoRejected(f"nested folder inside {parts[0]}/; put photos directly in {parts[0]}/")
    if not path.is_file():
        raise PhotoRejected("not a regular file")
    return CLASS_NAMES.index(parts[0])


def _hash(path: Path, max_bytes: int) -> str:
    size = path.stat().st_size
    if size > max_bytes:
        raise PhotoRejected(f"{size} bytes, over --max-image-bytes {max_bytes}; shrink the photo")
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def _drop_duplicates(candidates: list[_Candidate], quarantine: list[Quarantined]) -> list[_Candidate]:
    """Keep one copy per content; quarantine extra copies and every copy labelled both ways."""
    by_content: dict[str, list[_Candidate]] = defaultdict(list)
    for candidate in candidates:
        by_content[candidate.sha256].append(candidate)
    kept = []
    for copies in by_content.values():
        classes = {c.class_index for c in copies}
        if len(classes) > 1:
            listing = ", ".join(c.source for c in copies)
            reason = f"same image labelled differently ({listing}); keep one label"
            quarantine.extend(Quarantined(c.source, reason) for c in copies)
            continue
        kept.append(copies[0])
        quarantine.extend(Quarantined(c.source, f"duplicate of {copies[0].source}; remove the copy")
                          for c in copies[1:])
    return sorted(kept, key=lambda c: c.source)


def scan_labelled(root: Path, *, max_pixels: int,
                  max_bytes: int) -> tuple[list[LabelledPhoto], list[Quarantined]]:
    """Accepted photos and quarantined entries (both sorted by path); a missing folder means none."""
    if not root.is_dir():
        return [], []
    quarantine: list[Quarantined] = []
    candidates = []
    for source, path in _entries(root):
        try:
            class_index = _check_place(source, path)
            candidates.append(_Candidate(source, path, class_index, _hash(path, max_bytes)))
        except PhotoRejected as rejected:
            quarantine.append(Quarantined(source, rejected.reason))
        except OSError as exc:
            reason = f"cannot be read ({exc.strerror or exc}); check its permissions"
            quarantine.append(Quarantined(source, reason))
    accepted = []
    for candidate in _drop_duplicates(candidates, quarantine):
        try:
            image, image_format = decode_photo(candidate.path.read_bytes(), max_pixels)
        except PhotoRejected as rejected:
            quarantine.append(Quarantined(candidate.source, rejected.reason))
            continue
        accepted.append(LabelledPhoto(candidate.source, candidate.path, candidate.class_index,
                                      candidate.sha256, EXTENSIONS[image_format], encode_png(image)))
    return accepted, sorted(quarantine, key=lambda q: q.path)
