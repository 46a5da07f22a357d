"""Lay out the partition: split/class PNGs, originals, ``.lst`` files and ``manifest.json``."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from cifar_batches import CLASS_NAMES
from ingest_errors import OutputDirError

SPLITS = ("train", "validation", "test")
MANIFEST = "manifest.json"
OWNED_ENTRIES = frozenset({*SPLITS, "originals", *(f"{s}.lst" for s in SPLITS), MANIFEST})


def prepare_output_dir(root: Path) -> None:
    """Create ``root``; remove this program's earlier outputs; refuse if anything else is there."""
    root.mkdir(parents=True, exist_ok=True)
    foreign = sorted(entry.name for entry in root.iterdir() if entry.name not in OWNED_ENTRIES)
    if foreign:
        raise OutputDirError(f"output dir {root} holds {', '.join(foreign)}, which ingest did not write; "
                             "empty it or choose another --output-dir")
    for name in OWNED_ENTRIES:
        entry = root / name
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        elif entry.exists() or entry.is_symlink():
            entry.unlink()


def content_sha256(files: dict[str, str]) -> str:
    """One digest of what a model learns from: the split images and the ``.lst`` label lists.

    Run metadata (run key, code version, originals, quarantine notes) is left out, so two ingests of the
    same archive and labelled photos on different dates have the same content digest.
    """
    lines = [f"{path}\t{digest}\n" for path, digest in sorted(files.items())
             if path.split("/", 1)[0] in SPLITS or path.endswith(".lst")]
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def sha256_of_files(root: Path, skip: frozenset[str] = frozenset({MANIFEST})) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``root`` except ``skip``."""
    hashes = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root).as_posix()
        if relative not in skip:
            with path.open("rb") as stream:
                hashes[relative] = hashlib.file_digest(stream, "sha256").hexdigest()
    return hashes


class PartitionWriter:
    """Writes images under ``root`` and remembers them for the ``.lst`` files and counts."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.entries: dict[str, list[tuple[str, int]]] = {split: [] for split in SPLITS}

    def add_image(self, split: str, class_index: int, name: str, png: bytes) -> str:
        """Write ``<split>/<class>/<name>``; return its path relative to the partition."""
        within_split = f"{CLASS_NAMES[class_index]}/{name}"
        target = self.root / split / within_split
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(png)
        self.entries[split].append((within_split, class_index))
        return f"{split}/{within_split}"

    def add_original(self, class_index: int, name: str, source: Path) -> str:
        """Copy a photo's original bytes to ``originals/<class>/<name>``; return the relative path."""
        relative = f"originals/{CLASS_NAMES[class_index]}/{name}"
        target = self.root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        return relative

    def counts(self) -> dict[str, dict[str, int]]:
        result = {}
        for split, entries in self.entries.items():
            per_class = Counter(class_index for _, class_index in entries)
            result[split] = {name: per_class.get(index, 0) for index, name in enumerate(CLASS_NAMES)}
        return result

    def write_lists(self) -> None:
        """SageMaker image-classification ``.lst`` files: ``index<TAB>label<TAB>path``.

        Paths are relative to the split folder (the training channel); indices are unique across
        the three lists.
        """
        index = 0
        for split in SPLITS:
            lines = []
            for within_split, class_index in sorted(self.entries[split]):
                lines.append(f"{index}\t{class_index}\t{within_split}\n")
                index += 1
            (self.root / f"{split}.lst").write_text("".join(lines), encoding="utf-8")

    def write_manifest(self, content: dict[str, Any]) -> dict[str, Any]:
        """Add counts, file hashes and the content digest to ``content`` and write ``manifest.json``; return it."""
        files = sha256_of_files(self.root)
        manifest = {**content, "counts": self.counts(), "files": files, "content_sha256": content_sha256(files)}
        text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=True) + "\n"
        (self.root / MANIFEST).write_text(text, encoding="utf-8")
        return manifest
