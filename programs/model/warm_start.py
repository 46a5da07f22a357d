"""Retraining from the serving model: its weights as the starting point, and what it has already seen.

The training job gets the serving model's ``model.tar.gz`` as its ``warmstart`` channel. Every model
directory records the content digests of the images it was trained and validated on
(``trained_on.json``), so a retraining knows which of today's images are new to the model it starts
from: the photos labelled since, which each epoch then draws more often (``new-data-share``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from channel_data import list_channel_images
from hyperparameters import Hyperparameters
from model_archive import find_model
from model_artifacts import ModelArtifactError, load_model, weights_sha256

WARM_START_CHANNEL = "warmstart"
WARM_START_CHANNEL_ENV = "SM_CHANNEL_WARMSTART"
TRAINED_ON_FILE = "trained_on.json"
TRAINED_ON_FORMAT = 1
DIGEST_CHARACTERS = 32


def image_digests(channel: str, folder: Path) -> list[str]:
    """The content digest of each image of a channel, in the order :func:`channel_data.load_channel` reads them."""
    return [hashlib.sha256(path.read_bytes()).hexdigest()[:DIGEST_CHARACTERS]
            for path, _ in list_channel_images(channel, folder)]


def write_trained_on(model_dir: Path, train: list[str], validation: list[str],
                     warm_start: WarmStart | None = None) -> None:
    """Record, next to the weights, which images (by content) they learnt from: this training's, and those the
    model it started from had seen."""
    if warm_start is not None:
        train, validation = [*train, *warm_start.seen_train], [*validation, *warm_start.seen_validation]
    document = {"format_version": TRAINED_ON_FORMAT, "train": sorted(set(train)), "validation": sorted(set(validation))}
    (model_dir / TRAINED_ON_FILE).write_text(json.dumps(document, separators=(",", ":")) + "\n")


@dataclass(frozen=True)
class WarmStart:
    """The serving model's weights and config, and the images it saw (empty sets when it predates the record)."""

    state_dict: dict[str, torch.Tensor]
    model_config: dict[str, Any]
    seen_train: frozenset[str]
    seen_validation: frozenset[str]
    source: Path
    weights_sha256: str

    def new_images(self, digests: list[str], split: str) -> torch.Tensor:
        """A boolean mask: which of these images the serving model never trained (or validated) on; none when
        the model keeps no record of what it saw."""
        seen = self.seen_train if split == "train" else self.seen_validation
        if not (self.seen_train or self.seen_validation):
            return torch.zeros(len(digests), dtype=torch.bool)
        return torch.tensor([digest not in seen for digest in digests], dtype=torch.bool)


def incompatibility(config: Mapping[str, Any], hyperparameters: Hyperparameters) -> str | None:
    """Why the serving model's weights cannot start this training (another architecture), or ``None``."""
    wanted = "resnet18" if hyperparameters.backbone == "pretrained-resnet18" else "vehicle_net"
    if config.get("architecture") != wanted:
        return f"it is a {config.get('architecture')}, this training asks for a {wanted} (hyperparameter backbone)"
    if wanted == "vehicle_net" and float(config.get("width", -1)) != float(hyperparameters.width):
        return (f"its width is {config.get('width')}, this training asks for {hyperparameters.width} "
                "(hyperparameter width)")
    if list(config.get("classes", [])) != ["bicycle", "motorcycle"]:
        return f"its classes are {config.get('classes')}"
    return None


def _read_trained_on(model_dir: Path) -> tuple[frozenset[str], frozenset[str]]:
    path = model_dir / TRAINED_ON_FILE
    if not path.is_file():
        print(f"the warm-start model has no {TRAINED_ON_FILE}: no image counts as new, all are drawn alike", flush=True)
        return frozenset(), frozenset()
    document = json.loads(path.read_text())
    return frozenset(document.get("train", [])), frozenset(document.get("validation", []))


def load_warm_start(channel_dir: Path | None, work_dir: Path, hyperparameters: Hyperparameters) -> WarmStart | None:
    """The serving model to start from, or ``None`` (no channel, or a model these hyperparameters cannot use)."""
    if channel_dir is None or not channel_dir.is_dir():
        return None
    model_dir = find_model(channel_dir, work_dir)
    if model_dir is None:
        print(f"warm-start channel {channel_dir} holds no model.tar.gz or model.pt: training from scratch", flush=True)
        return None
    network, config = load_model(model_dir)
    reason = incompatibility(config, hyperparameters)
    if reason is not None:
        print(f"not warm-starting from the serving model: {reason}; training from scratch", flush=True)
        return None
    seen_train, seen_validation = _read_trained_on(model_dir)
    state_dict = {name: tensor.detach().clone() for name, tensor in network.state_dict().items()}
    print(f"warm-starting from the serving model in {channel_dir} ({len(seen_train)} training images seen)", flush=True)
    return WarmStart(state_dict, dict(config), seen_train, seen_validation, channel_dir, weights_sha256(state_dict))


__all__ = ["WARM_START_CHANNEL", "WARM_START_CHANNEL_ENV", "ModelArtifactError", "WarmStart", "image_digests",
           "incompatibility", "load_warm_start", "write_trained_on"]
