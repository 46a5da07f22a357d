"""Training-time augmentation of uint8 image batches with plain torch ops (seeded by a Generator)."""

from __future__ import annotations

import torch
import torch.nn.functional as functional

CROP_PADDING = 4
JITTER_STRENGTH = 0.15


def random_crop(images: torch.Tensor, generator: torch.Generator, padding: int = CROP_PADDING) -> torch.Tensor:
    """Pad each image by reflection and cut a random window of the original size."""
    batch, _, height, width = images.shape
    padded = functional.pad(images, (padding, padding, padding, padding), mode="reflect")
    offsets_y = torch.randint(0, 2 * padding + 1, (batch,), generator=generator)
    offsets_x = torch.randint(0, 2 * padding + 1, (batch,), generator=generator)
    rows = (offsets_y.view(batch, 1) + torch.arange(height).view(1, height)).view(batch, 1, height, 1)
    columns = (offsets_x.view(batch, 1) + torch.arange(width).view(1, width)).view(batch, 1, 1, width)
    batch_index = torch.arange(batch).view(batch, 1, 1, 1)
    channel_index = torch.arange(images.shape[1]).view(1, -1, 1, 1)
    return padded[batch_index, channel_index, rows, columns]


def random_horizontal_flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror a random half of the batch left to right."""
    flip = torch.rand(images.shape[0], generator=generator) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), images.flip(-1), images)


def random_colour_jitter(
    images: torch.Tensor, generator: torch.Generator, strength: float = JITTER_STRENGTH
) -> torch.Tensor:
    """Scale brightness, contrast and saturation of each image by a random factor in [1-s, 1+s]."""
    batch = images.shape[0]

    def factors() -> torch.Tensor:
        return (1.0 + (torch.rand(batch, generator=generator) * 2 - 1) * strength).view(batch, 1, 1, 1)

    images = images * factors()
    overall_mean = images.mean(dim=(1, 2, 3), keepdim=True)
    images = overall_mean + (images - overall_mean) * factors()
    grey = images.mean(dim=1, keepdim=True)
    images = grey + (images - grey) * factors()
    return images.clamp(0.0, 255.0)


def random_low_light(images: torch.Tensor, generator: torch.Generator, probability: float) -> torch.Tensor:
    """Show a random share (``probability``) of the batch as poor light would: brightness x0.25-1, contrast
    x0.5-1, a colour cast of up to 25 % per channel and sensor noise of up to 10 grey levels.

    The random draws do not depend on ``probability``, so the generator advances alike whatever its value.
    """
    batch = images.shape[0]
    chosen = (torch.rand(batch, generator=generator) < probability).view(batch, 1, 1, 1)
    brightness = (0.25 + 0.75 * torch.rand(batch, generator=generator)).view(batch, 1, 1, 1)
    contrast = (0.5 + 0.5 * torch.rand(batch, generator=generator)).view(batch, 1, 1, 1)
    cast = 0.75 + 0.5 * torch.rand(batch, 3, 1, 1, generator=generator)
    noise = torch.randn(images.shape, generator=generator) * (10 * torch.rand(batch, generator=generator)).view(
        batch, 1, 1, 1)
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    dark = ((images - mean) * contrast + mean) * brightness * cast + noise
    return torch.where(chosen, dark.clamp(0.0, 255.0), images)


def augment_batch(images: torch.Tensor, generator: torch.Generator, low_light: float = 0.0) -> torch.Tensor:
    """Crop, flip and colour-jitter a uint8 batch, and darken a ``low_light`` share of it (off at 0); returns
    float images in the 0-255 range."""
    images = random_crop(images.float(), generator)
    images = random_horizontal_flip(images, generator)
    images = random_colour_jitter(images, generator)
    return random_low_light(images, generator, low_light) if low_light > 0 else images
