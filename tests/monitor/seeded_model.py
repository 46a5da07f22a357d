"""A seeded, untrained vehicle model packed as SageMaker packs it: real penultimate-layer embeddings in a second."""

from __future__ import annotations

import sys
import tarfile
from pathlib import Path

MODEL_SOURCE = Path(__file__).resolve().parents[2] / "programs" / "model"
CONFIG = {"format_version": 1, "architecture": "vehicle_net", "classes": ["bicycle", "motorcycle"], "width": 0.5,
          "dropout": 0.0, "image_size": 32, "normalisation": {"mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}}


def write_seeded_model(folder: Path, seed: int = 0) -> Path:
    """``folder/model.tar.gz`` holding model.pt, model_config.json and the serving ``code/``; returns its path."""
    if str(MODEL_SOURCE) not in sys.path:
        sys.path.append(str(MODEL_SOURCE))
    import torch
    from model_artifacts import build_network, save_model

    torch.manual_seed(seed)
    model_dir = folder / "model"
    save_model(model_dir, build_network(CONFIG), CONFIG)
    archive = folder / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(model_dir.rglob("*")):
            tar.add(path, arcname=path.relative_to(model_dir).as_posix(), recursive=False)
    return archive
