"""Finding and loading ImageNet ResNet-18 weights for the `pretrained-resnet18` backbone (never downloads)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from resnet18 import ResNet18

WEIGHTS_ENV = "SCONES_PRETRAINED_WEIGHTS"
PRETRAINED_CHANNEL_ENV = "SM_CHANNEL_PRETRAINED"
HUB_FILE_PATTERN = "resnet18-*.pth"
IMAGENET_NORMALISATION = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}


class PretrainedWeightsUnavailable(RuntimeError):
    """No usable pretrained ResNet-18 weights were found."""


def candidate_weight_files(hyperparameter_path: str, environ: Mapping[str, str]) -> list[Path]:
    """Weight files to try, in order: hyperparameter, env var, a 'pretrained' channel, torch hub cache."""
    candidates = [Path(path) for path in (hyperparameter_path, environ.get(WEIGHTS_ENV, "")) if path]
    channel = environ.get(PRETRAINED_CHANNEL_ENV)
    if channel and Path(channel).is_dir():
        candidates += sorted(Path(channel).glob("*.pth")) + sorted(Path(channel).glob("*.pt"))
    hub_dir = Path(environ["TORCH_HOME"]) / "hub" if environ.get("TORCH_HOME") else Path(torch.hub.get_dir())
    candidates += sorted((hub_dir / "checkpoints").glob(HUB_FILE_PATTERN))
    return candidates


def load_pretrained_resnet18(
    hyperparameter_path: str, environ: Mapping[str, str], num_classes: int, dropout: float
) -> tuple[ResNet18, Path]:
    """A ResNet-18 with ImageNet features loaded and a fresh head, or PretrainedWeightsUnavailable."""
    candidates = candidate_weight_files(hyperparameter_path, environ)
    existing = [path for path in candidates if path.is_file()]
    if not existing:
        looked_in = ", ".join(str(path) for path in candidates) or f"${WEIGHTS_ENV}, the torch hub cache"
        raise PretrainedWeightsUnavailable(f"no weights file at {looked_in}")
    path = existing[0]
    try:
        state_dict = torch.load(path, map_location="cpu", weights_only=True)
        features = {name: tensor for name, tensor in state_dict.items() if not name.startswith("fc.")}
        network = ResNet18(num_classes=num_classes, dropout=dropout)
        result = network.load_state_dict(features, strict=False)
    except Exception as error:
        raise PretrainedWeightsUnavailable(f"{path} is not a ResNet-18 state_dict: {error}") from error
    missing = [name for name in result.missing_keys if not name.startswith("fc.")]
    if missing or result.unexpected_keys:
        raise PretrainedWeightsUnavailable(
            f"{path} does not match ResNet-18 (missing {missing[:3]}, unexpected {result.unexpected_keys[:3]})"
        )
    return network, path
