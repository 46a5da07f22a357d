"""Check CIFAR-100 batches and pick out the bicycle and motorcycle images."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from ingest_errors import CorruptArchiveError

CLASS_NAMES = ("bicycle", "motorcycle")  # class index 0 = bicycle, 1 = motorcycle
FINE_LABELS = {8: 0, 48: 1}  # CIFAR-100 fine label -> class index
IMAGE_VALUES = 32 * 32 * 3
BATCH_KEYS = (b"data", b"fine_labels", b"coarse_labels", b"filenames", b"batch_label")


@dataclass(frozen=True)
class CifarImage:
    """One kept image: its batch, row, sanitised filename, class index and 32x32x3 pixels."""

    batch: str
    row: int
    filename: str
    class_index: int
    pixels: np.ndarray


def _fail(source: str, problem: str) -> CorruptArchiveError:
    return CorruptArchiveError(f"{source}: {problem}; the archive is not CIFAR-100, re-download it")


def _int_list(value: Any, name: str, size: int, upper: int, source: str) -> list[int]:
    if not isinstance(value, list) or len(value) != size:
        raise _fail(source, f"{name} is not a list of {size} labels")
    if not all(isinstance(v, int) and 0 <= v < upper for v in value):
        raise _fail(source, f"{name} holds values outside 0..{upper - 1}")
    return value


def check_meta(meta: Any, source: str) -> None:
    """The label names must be CIFAR-100's, with bicycle at 8 and motorcycle at 48."""
    if not isinstance(meta, dict):
        raise _fail(source, "meta is not a dict")
    fine, coarse = meta.get(b"fine_label_names"), meta.get(b"coarse_label_names")
    if not isinstance(fine, list) or len(fine) != 100 or not all(isinstance(n, bytes) for n in fine):
        raise _fail(source, "fine_label_names is not a list of 100 names")
    if not isinstance(coarse, list) or len(coarse) != 20:
        raise _fail(source, "coarse_label_names is not a list of 20 names")
    for label, index in FINE_LABELS.items():
        if fine[label] != CLASS_NAMES[index].encode():
            raise _fail(source, f"fine label {label} is {fine[label]!r}, expected {CLASS_NAMES[index]!r}")


def _safe_filename(raw: bytes) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", raw.decode("latin-1")) or "unnamed"


def select_vehicles(batch: Any, batch_name: str, source: str) -> tuple[list[CifarImage], int]:
    """Bicycle and motorcycle images of a checked batch, and the batch's total row count."""
    if not isinstance(batch, dict) or any(key not in batch for key in BATCH_KEYS):
        raise _fail(source, f"batch lacks one of the keys {[k.decode() for k in BATCH_KEYS]}")
    data = batch[b"data"]
    is_image_rows = isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
    if not is_image_rows or data.shape[1] != IMAGE_VALUES:
        shape = getattr(data, "shape", None)
        raise _fail(source, f"data is {type(data).__name__} {shape}, expected uint8 N x {IMAGE_VALUES}")
    rows = data.shape[0]
    fine = _int_list(batch[b"fine_labels"], "fine_labels", rows, 100, source)
    _int_list(batch[b"coarse_labels"], "coarse_labels", rows, 20, source)
    filenames = batch[b"filenames"]
    if not isinstance(filenames, list) or len(filenames) != rows or not all(isinstance(f, bytes)
                                                                            for f in filenames):
        raise _fail(source, f"filenames is not a list of {rows} byte strings")
    kept = [
        CifarImage(batch=batch_name, row=row, filename=_safe_filename(filenames[row]),
                   class_index=FINE_LABELS[label],
                   pixels=np.ascontiguousarray(data[row].reshape(3, 32, 32).transpose(1, 2, 0)))
        for row, label in enumerate(fine)
        if label in FINE_LABELS
    ]
    return kept, rows
