"""The analyzer image installs what the analyzer imports, at the versions the project's lock pins."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "programs" / "monitor" / "Dockerfile"
LOCK = ROOT / "requirements" / "lock.txt"


def _pins(text: str) -> dict[str, str]:
    return {name.lower(): version for name, version in re.findall(r"\b([A-Za-z][\w.-]*)==([\w.+]+)", text)}


def test_the_image_pins_numpy_pillow_boto3_and_torch_as_the_lock_does() -> None:
    image, lock = _pins(DOCKERFILE.read_text()), _pins(LOCK.read_text())
    for package in ("numpy", "pillow", "boto3", "torch"):
        assert image.get(package) == lock[package], package
