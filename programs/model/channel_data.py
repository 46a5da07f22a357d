"""Reading a channel folder (one dataset split: bicycle/*.png, motorcycle/*.png) into tensors."""

from __future__ import annotations

from pathlib import Path

import torch
from preprocessing import UnsupportedInputError, decode_image, image_to_uint8_tensor

CLASSES = ["bicycle", "motorcycle"]
IMAGE_SUFFIXES = (".png",)


class ChannelError(RuntimeError):
    """A data channel is missing, empty or holds an unreadable image."""


def list_channel_images(channel: str, folder: str | Path) -> list[tuple[Path, int]]:
    """All (image path, class index) pairs of a channel, sorted, each class required to be non-empty."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ChannelError(
            f"channel '{channel}' at {folder} does not exist: point the channel at a split folder "
            f"holding {'/, '.join(CLASSES)}/"
        )
    labelled_paths: list[tuple[Path, int]] = []
    for label, class_name in enumerate(CLASSES):
        class_folder = folder / class_name
        paths = (
            sorted(path for path in class_folder.glob("*") if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES)
            if class_folder.is_dir()
            else []
        )
        if not paths:
            raise ChannelError(
                f"channel '{channel}' at {folder} has no images in {class_name}/: "
                f"each of {', '.join(c + '/' for c in CLASSES)} needs at least one .png image"
            )
        labelled_paths.extend((path, label) for path in paths)
    return labelled_paths


def read_channel_image(channel: str, path: Path) -> torch.Tensor:
    """One channel image as a 3 x 32 x 32 uint8 tensor, or a ChannelError naming the file."""
    try:
        return image_to_uint8_tensor(decode_image(path.read_bytes(), source=str(path)))
    except UnsupportedInputError as error:
        raise ChannelError(
            f"channel '{channel}' has an unreadable image {path}: {error}. Remove or re-export the file"
        ) from error


def load_channel(channel: str, folder: str | Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N x 3 x 32 x 32 uint8) and labels (N, int64) of a channel folder."""
    labelled_paths = list_channel_images(channel, folder)
    images = torch.stack([read_channel_image(channel, path) for path, _ in labelled_paths])
    labels = torch.tensor([label for _, label in labelled_paths], dtype=torch.int64)
    return images, labels
