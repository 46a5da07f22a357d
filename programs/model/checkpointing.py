"""Per-epoch training checkpoints, so a managed Spot job resumes where it was interrupted."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

CHECKPOINT_FILE = "checkpoint.pt"


def save_checkpoint(checkpoint_dir: Path, state: dict[str, Any]) -> None:
    """Write the checkpoint aside, then move it into place, so an interruption never leaves half a file."""
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    partial = checkpoint_dir / f"{CHECKPOINT_FILE}.partial"
    torch.save(state, partial)
    os.replace(partial, checkpoint_dir / CHECKPOINT_FILE)


def load_checkpoint(checkpoint_dir: Path | None) -> dict[str, Any] | None:
    """The saved training state, or None when there is none or it cannot be read."""
    if checkpoint_dir is None or not (checkpoint_dir / CHECKPOINT_FILE).is_file():
        return None
    path = checkpoint_dir / CHECKPOINT_FILE
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        print(f"checkpoint {path} is unreadable ({type(error).__name__}: {error}); starting from scratch")
        return None
