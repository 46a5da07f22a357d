"""Pickle plain data the way Python 2's cPickle wrote the CIFAR batches.

Python 3 pickles ``bytes`` at protocol 2 through ``_codecs.encode``; Python 2 wrote its ``str``
as ``BINSTRING`` opcodes, and numpy arrays through ``numpy.core.multiarray._reconstruct``.
This pickler emits exactly those opcodes, so a file loads with ``encoding='bytes'`` into the
same objects as the real archive and names no other global.
"""

from __future__ import annotations

import io
import pickle
import struct
from typing import Any

import numpy as np

_UINT8 = np.dtype(np.uint8)


class _Python2Pickler(pickle._Pickler):  # the pure-Python pickler exposes its dispatch table
    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, obj: bytes) -> None:
        size = len(obj)
        if size < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([size]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", size) + obj)
        self.memoize(obj)

    def save_uint8_dtype(self, dtype: np.dtype) -> None:
        self.write(pickle.GLOBAL + b"numpy\ndtype\n")
        self.save((b"u1", 0, 1))
        self.write(pickle.REDUCE)
        self.save((3, b"|", None, None, None, -1, -1, 0))
        self.write(pickle.BUILD)

    def save_ndarray(self, array: np.ndarray) -> None:
        if array.dtype != _UINT8:
            raise TypeError(f"py2 pickle supports uint8 arrays only, got {array.dtype}; convert it first")
        self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
        self.write(pickle.GLOBAL + b"numpy\nndarray\n")
        self.save((0,))
        self.save(b"b")
        self.write(pickle.TUPLE3)
        self.write(pickle.REDUCE)
        shape = tuple(int(n) for n in array.shape)
        self.save((1, shape, _UINT8, False, np.ascontiguousarray(array).tobytes()))
        self.write(pickle.BUILD)

    dispatch[bytes] = save_py2_str
    dispatch[type(_UINT8)] = save_uint8_dtype
    dispatch[np.ndarray] = save_ndarray


def dumps_like_python2(obj: Any) -> bytes:
    """Protocol-2 pickle of dicts, lists, tuples, ints, ``bytes`` and uint8 arrays, as Python 2 wrote it."""
    buffer = io.BytesIO()
    _Python2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue()
