"""Unpickle CIFAR batches while admitting only numpy's array-reconstruction globals."""

from __future__ import annotations

import io
import pickle
from typing import Any

import numpy as np
from ingest_errors import CorruptArchiveError, IngestError, UnsafePickleError

try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # numpy 1.x
    from numpy.core.multiarray import _reconstruct

ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class PlainDataUnpickler(pickle.Unpickler):
    """Builds dicts, lists, numbers, bytes and numpy arrays; refuses every other global."""

    def __init__(self, payload: bytes, source: str) -> None:
        super().__init__(io.BytesIO(payload), encoding="bytes")
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"{self.source} refers to {module}.{name}; a CIFAR batch may only use numpy array globals. "
                "Do not use this archive: re-download it from the official source"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"{self.source} uses a persistent id; re-download the archive")


def load_plain_data(payload: bytes, source: str) -> Any:
    """Unpickle ``payload`` (named ``source`` in errors) with :class:`PlainDataUnpickler`."""
    try:
        return PlainDataUnpickler(payload, source).load()
    except IngestError:
        raise
    except Exception as exc:  # a malformed pickle raises many kinds of error
        raise CorruptArchiveError(f"{source} is not a readable pickle ({type(exc).__name__}: {exc}); "
                                  "re-download the archive") from exc
