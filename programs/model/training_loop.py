"""One training epoch and one evaluation pass over in-memory uint8 image tensors."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as functional
from augmentation import augment_batch
from preprocessing import normalise
from torch import nn


@dataclass(frozen=True)
class PassResult:
    """Mean loss and accuracy of one pass, with its image count and duration."""

    loss: float
    accuracy: float
    images: int
    seconds: float


def batch_starts(count: int, batch_size: int) -> list[int]:
    """Batch start offsets; a trailing batch of one image is dropped (BatchNorm cannot train on it)."""
    starts = list(range(0, count, batch_size))
    if len(starts) > 1 and count - starts[-1] == 1:
        starts.pop()
    return starts


def train_one_epoch(
    network: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    batch_size: int,
    augment: bool,
    normalisation: dict[str, list[float]],
    draw_weights: torch.Tensor | None = None,
    low_light: float = 0.0,
) -> PassResult:
    """Shuffle (or, with ``draw_weights``, draw as many images in proportion to them), optionally augment (and
    darken a ``low_light`` share of each batch), and take one optimiser step per batch."""
    started = time.perf_counter()
    network.train()
    if draw_weights is None:
        order = torch.randperm(len(labels), generator=generator)
    else:
        order = torch.multinomial(draw_weights, len(labels), replacement=True, generator=generator)
    total_loss, correct, seen = 0.0, 0, 0
    for start in batch_starts(len(order), batch_size):
        index = order[start : start + batch_size]
        batch_images, batch_labels = images[index], labels[index]
        if augment:
            batch_images = augment_batch(batch_images, generator, low_light)
        logits = network(normalise(batch_images, normalisation["mean"], normalisation["std"]))
        loss = functional.cross_entropy(logits, batch_labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * len(index)
        correct += int((logits.argmax(dim=1) == batch_labels).sum())
        seen += len(index)
    return PassResult(total_loss / seen, correct / seen, seen, time.perf_counter() - started)


def evaluate_pass(
    network: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int,
    normalisation: dict[str, list[float]],
) -> PassResult:
    """Loss and accuracy without augmentation or gradient."""
    started = time.perf_counter()
    network.eval()
    total_loss, correct = 0.0, 0
    with torch.inference_mode():
        for start in range(0, len(labels), batch_size):
            batch_images = images[start : start + batch_size]
            batch_labels = labels[start : start + batch_size]
            logits = network(normalise(batch_images, normalisation["mean"], normalisation["std"]))
            total_loss += functional.cross_entropy(logits, batch_labels, reduction="sum").item()
            correct += int((logits.argmax(dim=1) == batch_labels).sum())
    count = len(labels)
    return PassResult(total_loss / count, correct / count, count, time.perf_counter() - started)
