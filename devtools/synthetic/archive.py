"""Write a synthetic ``cifar-100-python.tar.gz`` in the real archive's exact layout."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from pathlib import Path

import numpy as np

from devtools.synthetic.cifar_names import (
    COARSE_LABEL_NAMES,
    FINE_LABEL_NAMES,
    GENERATED_CLASSES,
    coarse_label,
    fine_label,
)
from devtools.synthetic.drifts import SCENE_DRIFTS, check_drift, drift_code
from devtools.synthetic.py2_pickle import dumps_like_python2
from devtools.synthetic.scenes import supersampled_thumbnail

TOP_FOLDER = "cifar-100-python"
ARCHIVE_NAME = f"{TOP_FOLDER}.tar.gz"
FIXED_MTIME = 1_230_768_000  # 2009-01-01, the era of the real archive; keeps the bytes reproducible
_SPLIT_CODES = {"train": 1, "test": 2}
_BATCH_LABELS = {"train": b"synthetic training batch 1 of 1", "test": b"synthetic testing batch 1 of 1"}


def _cifar_row(image: np.ndarray) -> np.ndarray:
    """32x32x3 uint8 image -> 3072 values: all red, then all green, then all blue (row-major)."""
    return image.transpose(2, 0, 1).reshape(-1)


def build_batch(split: str, per_class: int, seed: int, drift: str | None) -> dict[bytes, object]:
    """One CIFAR-100 batch dict (``train`` or ``test``) with ``per_class`` images of each class."""
    rows, fine, coarse, names = [], [], [], []
    for name in GENERATED_CLASSES:
        label = fine_label(name)
        for index in range(per_class):
            rng = np.random.default_rng([seed, _SPLIT_CODES[split], label, index, drift_code(drift)])
            image = np.asarray(supersampled_thumbnail(rng, name, drift=drift), dtype=np.uint8)
            rows.append(_cifar_row(image))
            fine.append(label)
            coarse.append(coarse_label(name))
            names.append(f"{name}_synthetic_{split}_{index:06d}.png".encode())
    order = np.random.default_rng([seed, _SPLIT_CODES[split], 999]).permutation(len(rows))
    data = np.stack(rows)[order] if rows else np.zeros((0, 3072), np.uint8)
    return {
        b"filenames": [names[i] for i in order],
        b"batch_label": _BATCH_LABELS[split],
        b"fine_labels": [fine[i] for i in order],
        b"coarse_labels": [coarse[i] for i in order],
        b"data": np.ascontiguousarray(data, dtype=np.uint8),
    }


def build_meta() -> dict[bytes, object]:
    return {
        b"fine_label_names": [name.encode() for name in FINE_LABEL_NAMES],
        b"coarse_label_names": [name.encode() for name in COARSE_LABEL_NAMES],
    }


def _tar_info(name: str, size: int = 0, *, directory: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.mode = 0o755 if directory else 0o644
    info.size = size
    info.mtime = FIXED_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def tar_gz_bytes(members: dict[str, bytes]) -> bytes:
    """A gzip'd tar of ``TOP_FOLDER/<name>`` members, sorted, with fixed times and owners."""
    raw = io.BytesIO()
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.GNU_FORMAT) as tar,
    ):
        tar.addfile(_tar_info(TOP_FOLDER, directory=True))
        for name in sorted(members):
            payload = members[name]
            tar.addfile(_tar_info(f"{TOP_FOLDER}/{name}", len(payload)), io.BytesIO(payload))
    return raw.getvalue()


def _write_atomically(path: Path, payload: bytes) -> None:
    temporary = path.with_name(f".{path.name}.partial")
    temporary.write_bytes(payload)
    os.replace(temporary, path)


def write_cifar_archive(path: str | os.PathLike[str], *, seed: int = 0, train_per_class: int = 500,
                        test_per_class: int = 100, drift: str | None = None) -> str:
    """Write a synthetic CIFAR-100 archive to ``path`` and return its MD5 hex digest.

    Same arguments give a byte-identical file. Classes: bicycle (8), bus (13), motorcycle (48),
    pickup_truck (58), tractor (89).
    """
    check_drift(drift, SCENE_DRIFTS)  # capture drifts concern photos, not an archive
    if train_per_class < 0 or test_per_class < 0:
        raise ValueError("train_per_class and test_per_class must be >= 0")
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(f"archive path {target} is a directory; pass a file path such as "
                                f"{target / ARCHIVE_NAME}")
    target.parent.mkdir(parents=True, exist_ok=True)
    members = {
        "meta": dumps_like_python2(build_meta()),
        "test": dumps_like_python2(build_batch("test", test_per_class, seed, drift)),
        "train": dumps_like_python2(build_batch("train", train_per_class, seed, drift)),
    }
    payload = tar_gz_bytes(members)
    _write_atomically(target, payload)
    return hashlib.md5(payload).hexdigest()
