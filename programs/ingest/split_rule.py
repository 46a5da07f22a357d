"""Deterministic split assignment from stable hashes, so items keep their split as data grows."""

from __future__ import annotations

import hashlib


def unit_interval(*parts: str) -> float:
    """A number in [0, 1) fixed by ``parts``."""
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def cifar_train_split(filename: str, seed: int, validation_fraction: float) -> str:
    """``validation`` for a ``validation_fraction`` share of CIFAR train images, else ``train``."""
    return "validation" if unit_interval("cifar", str(seed), filename) < validation_fraction else "train"


def labelled_split(content_sha256: str, seed: int, validation_fraction: float) -> str:
    """Split of a labelled photo by its content: validation and test get one fraction each."""
    value = unit_interval("labelled", str(seed), content_sha256)
    if value < validation_fraction:
        return "validation"
    if value < 2 * validation_fraction:
        return "test"
    return "train"
