"""Saving and loading the model directory that SageMaker packs into model.tar.gz."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import torch
from resnet18 import ResNet18
from torch import nn
from vehicle_net import VehicleNet

MODEL_FILE = "model.pt"
CONFIG_FILE = "model_config.json"
CODE_FOLDER = "code"
SERVING_MODULES = ("inference.py", "preprocessing.py", "photo_square.py", "model_artifacts.py", "vehicle_net.py",
                   "resnet18.py")
ARCHITECTURES = ("vehicle_net", "resnet18")


class ModelArtifactError(RuntimeError):
    """A model directory is missing files or holds an unusable model."""


def build_network(config: dict[str, Any]) -> nn.Module:
    """The untrained network described by a model config."""
    architecture = config.get("architecture")
    num_classes = len(config["classes"])
    if architecture == "vehicle_net":
        return VehicleNet(num_classes=num_classes, width=float(config["width"]), dropout=float(config["dropout"]))
    if architecture == "resnet18":
        return ResNet18(num_classes=num_classes, dropout=float(config["dropout"]))
    raise ModelArtifactError(
        f"model config names architecture {architecture!r}: expected one of {', '.join(ARCHITECTURES)}"
    )


def weights_sha256(state_dict: dict[str, torch.Tensor]) -> str:
    """One digest of a network's weights: every tensor's name, dtype, shape and bytes, in name order.

    Two trainings that end with bit-identical weights have the same digest, whatever the archive's bytes.
    """
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        digest.update(f"{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def save_model(model_dir: str | Path, network: nn.Module, config: dict[str, Any]) -> None:
    """Write model.pt (state_dict + config), model_config.json and the serving code/ folder."""
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    state_dict = {name: tensor.detach().cpu().clone() for name, tensor in network.state_dict().items()}
    torch.save({"state_dict": state_dict, "config": config}, model_dir / MODEL_FILE)
    (model_dir / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    code_dir = model_dir / CODE_FOLDER
    code_dir.mkdir(exist_ok=True)
    source_dir = Path(__file__).resolve().parent
    for module in SERVING_MODULES:
        shutil.copy2(source_dir / module, code_dir / module)


def load_model(model_dir: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """The trained network (in eval mode, on CPU) and its config from a model directory."""
    model_path = Path(model_dir) / MODEL_FILE
    if not model_path.is_file():
        raise ModelArtifactError(
            f"model file {model_path} not found: the model directory must hold train.py's {MODEL_FILE}"
        )
    try:
        saved = torch.load(model_path, map_location="cpu", weights_only=True)
        config = saved["config"]
        network = build_network(config)
        network.load_state_dict(saved["state_dict"])
    except Exception as error:
        raise ModelArtifactError(
            f"model file {model_path} is unusable ({type(error).__name__}: {error}); retrain or re-upload it"
        ) from error
    network.eval()
    return network, config
