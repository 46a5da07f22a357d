"""The training procedure: seeded epochs, per-epoch checkpoints, early stopping, best weights kept.

A retraining that starts from the serving model (:mod:`warm_start`) keeps that model's architecture and
input normalisation, draws the images it never trained on more often, and keeps the epoch whose
validation accuracy is best with the new images weighted the same way.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from channel_data import CLASSES
from checkpointing import load_checkpoint, save_checkpoint
from hyperparameters import Hyperparameters
from model_artifacts import build_network
from preprocessing import IMAGE_SIZE
from pretrained import IMAGENET_NORMALISATION, PretrainedWeightsUnavailable, load_pretrained_resnet18
from torch import nn
from training_loop import PassResult, evaluate_pass, train_one_epoch
from warm_start import WarmStart

CHECKPOINT_FORMAT = 1
PREPROCESSING_DESCRIPTION = "RGB, shorter side resized to 32 (bicubic), centre crop 32x32"
LR_REDUCTION_FACTOR = 0.5
LR_REDUCTION_PATIENCE = 2


@dataclass
class TrainingOutcome:
    """The best network and everything the job reports about how it got there."""

    network: nn.Module
    model_config: dict[str, Any]
    best_epoch: int
    history: list[dict[str, float]]
    stopped_early: bool
    resumed_after_epoch: int
    training_seconds: float
    training_images: int


def make_reproducible(seed: int) -> None:
    """Seed Python, NumPy and torch, and have torch (oneDNN included) use deterministic algorithms.

    With the same thread count this gives the same weights run after run on one machine. The debug mode
    "warn" is ``torch.use_deterministic_algorithms(True, warn_only=True)`` without the import of torch's
    compiler stack that function makes (tens of seconds on a busy machine).
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_deterministic_debug_mode("warn")
    torch.backends.mkldnn.deterministic = True


@dataclass(frozen=True)
class Retraining:
    """A training that starts from the serving model, and which of today's images are new to it."""

    warm_start: WarmStart
    new_in_train: torch.Tensor
    new_in_validation: torch.Tensor

    def draw_weights(self, share: float) -> torch.Tensor | None:
        """Per-image draw weights giving the new images ``share`` of the draws; ``None``: draw uniformly.

        Uniform when there are no new images, only new ones, or already at least that share of them.
        """
        new = int(self.new_in_train.sum())
        seen = len(self.new_in_train) - new
        if share <= 0 or new == 0 or seen == 0 or new / len(self.new_in_train) >= share:
            return None
        return torch.where(self.new_in_train, share / new, (1 - share) / seen).double()


def channel_normalisation(images: torch.Tensor) -> dict[str, list[float]]:
    """Per-channel mean and standard deviation (0-1 scale) of uint8 training images."""
    scaled = images.float() / 255.0
    mean = scaled.mean(dim=(0, 2, 3))
    std = scaled.std(dim=(0, 2, 3)).clamp_min(1e-3)
    return {
        "mean": [round(float(value), 6) for value in mean],
        "std": [round(float(value), 6) for value in std],
    }


def resume_signature(hyperparameters: Hyperparameters, warm_start: WarmStart | None = None) -> dict[str, Any]:
    """What a checkpoint must share to be resumed: the hyperparameters (epochs and patience may change) and the
    weights it started from."""
    signature = {k: v for k, v in hyperparameters.as_dict().items()
                 if k not in ("epochs", "patience", "warm-start-patience")}
    signature["warm-start-weights"] = warm_start.weights_sha256 if warm_start is not None else None
    return signature


def initial_network(
    hyperparameters: Hyperparameters,
    train_images: torch.Tensor,
    environ: Mapping[str, str],
    warm_start: WarmStart | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """The starting network and its config: the serving model's when warm-starting, else pretrained ResNet-18 if
    asked and found, else the scratch CNN."""
    if warm_start is not None:
        config = {**warm_start.model_config, "dropout": hyperparameters.dropout}
        network = build_network(config)
        network.load_state_dict(warm_start.state_dict)
        return network, config
    config: dict[str, Any] = {
        "format_version": 1,
        "classes": list(CLASSES),
        "image_size": IMAGE_SIZE,
        "preprocessing": PREPROCESSING_DESCRIPTION,
        "dropout": hyperparameters.dropout,
    }
    if hyperparameters.backbone == "pretrained-resnet18":
        try:
            network, weights_path = load_pretrained_resnet18(
                hyperparameters.pretrained_weights, environ, len(CLASSES), hyperparameters.dropout
            )
        except PretrainedWeightsUnavailable as reason:
            print(f"pretrained weights unavailable ({reason}); training the scratch CNN instead", flush=True)
        else:
            print(f"loaded pretrained ResNet-18 weights from {weights_path}", flush=True)
            config.update(architecture="resnet18", backbone="pretrained-resnet18", normalisation=IMAGENET_NORMALISATION)
            return network, config
    config.update(
        architecture="vehicle_net",
        backbone="scratch",
        width=hyperparameters.width,
        normalisation=channel_normalisation(train_images),
    )
    return build_network(config), config


def metrics_line(epoch: int, epochs: int, train: PassResult, validation: PassResult, learning_rate: float,
                 selection: PassResult | None = None) -> str:
    """One line per epoch a person can follow, its figures as ``name=value`` for metric_definitions.json (a
    retraining adds the weighted ``selection_accuracy`` its best epoch is chosen by)."""
    chosen_by = f" selection_accuracy={selection.accuracy:.4f}" if selection is not None else ""
    return (
        f"epoch {epoch}/{epochs}: train_loss={train.loss:.4f} train_accuracy={train.accuracy:.4f} "
        f"validation_loss={validation.loss:.4f} validation_accuracy={validation.accuracy:.4f}{chosen_by} "
        f"learning_rate={learning_rate:.6f} epoch_seconds={train.seconds + validation.seconds:.2f}"
    )


def selection_pass(
    network: nn.Module,
    validation_data: tuple[torch.Tensor, torch.Tensor],
    retraining: Retraining | None,
    share: float,
    batch_size: int,
    normalisation: dict[str, list[float]],
) -> PassResult | None:
    """When retraining, validation with the new images weighted as training draws them: ``share`` for the new,
    the rest for those the serving model had seen. ``None`` otherwise (plain validation accuracy decides)."""
    if retraining is None or share <= 0:
        return None
    new = retraining.new_in_validation
    if not bool(new.any()) or bool(new.all()):
        return None
    images, labels = validation_data
    fresh = evaluate_pass(network, images[new], labels[new], batch_size, normalisation)
    seen = evaluate_pass(network, images[~new], labels[~new], batch_size, normalisation)
    weight = max(share, float(new.float().mean()))
    return PassResult(
        loss=weight * fresh.loss + (1 - weight) * seen.loss,
        accuracy=weight * fresh.accuracy + (1 - weight) * seen.accuracy,
        images=fresh.images + seen.images,
        seconds=fresh.seconds + seen.seconds,
    )


@dataclass
class Progress:
    """What a checkpoint carries besides model and optimiser state."""

    completed_epochs: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    best: dict[str, Any] = field(
        default_factory=lambda: {"epoch": 0, "accuracy": -1.0, "loss": float("inf"), "state_dict": None}
    )
    epochs_since_improvement: int = 0
    stopped_early: bool = False

    def record(self, epoch: int, validation: PassResult, network: nn.Module) -> None:
        """Count the epoch; keep the weights when validation accuracy improves (lower loss breaks ties)."""
        self.completed_epochs = epoch
        best = self.best
        if validation.accuracy > best["accuracy"] or (
            validation.accuracy == best["accuracy"] and validation.loss < best["loss"]
        ):
            self.best = {
                "epoch": epoch,
                "accuracy": validation.accuracy,
                "loss": validation.loss,
                "state_dict": copy.deepcopy(network.state_dict()),
            }
            self.epochs_since_improvement = 0
        else:
            self.epochs_since_improvement += 1


@dataclass
class Trainer:
    """A network with its optimiser, learning-rate schedule and the generator that shuffles and augments."""

    network: nn.Module
    model_config: dict[str, Any]
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.ReduceLROnPlateau
    generator: torch.Generator

    @classmethod
    def create(cls, network: nn.Module, model_config: dict[str, Any], hyperparameters: Hyperparameters,
               warm_start: bool = False) -> Trainer:
        """The optimiser starts at ``learning-rate``, or at ``warm-start-learning-rate`` (when set) for a training
        that starts from the serving model's weights."""
        optimizer = torch.optim.AdamW(network.parameters(), lr=hyperparameters.starting_learning_rate(warm_start),
                                      weight_decay=hyperparameters.weight_decay)
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max", factor=LR_REDUCTION_FACTOR, patience=LR_REDUCTION_PATIENCE
        )
        generator = torch.Generator().manual_seed(hyperparameters.seed)
        return cls(network, model_config, optimizer, scheduler, generator)

    def checkpoint(self, signature: dict[str, Any], progress: Progress) -> dict[str, Any]:
        """Everything needed to continue bit-for-bit after the current epoch."""
        return {
            "format_version": CHECKPOINT_FORMAT,
            "signature": signature,
            "model_config": self.model_config,
            "network": self.network.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "generator_state": self.generator.get_state(),
            "torch_rng_state": torch.get_rng_state(),
            "progress": asdict(progress),
        }

    def restore(self, checkpoint: dict[str, Any]) -> Progress:
        """Load a checkpoint's state into this trainer and return its progress."""
        self.network.load_state_dict(checkpoint["network"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.scheduler.load_state_dict(checkpoint["scheduler"])
        self.generator.set_state(checkpoint["generator_state"])
        torch.set_rng_state(checkpoint["torch_rng_state"])
        return Progress(**checkpoint["progress"])


def prepare_trainer(
    hyperparameters: Hyperparameters,
    train_images: torch.Tensor,
    checkpoint_dir: Path | None,
    environ: Mapping[str, str],
    warm_start: WarmStart | None = None,
) -> tuple[Trainer, Progress]:
    """A fresh trainer, or one restored from a checkpoint written with the same hyperparameters."""
    checkpoint = load_checkpoint(checkpoint_dir)
    if checkpoint is not None and checkpoint.get("signature") != resume_signature(hyperparameters, warm_start):
        print(f"checkpoint in {checkpoint_dir} was written with other hyperparameters or starting weights; "
              "starting afresh")
        checkpoint = None
    if checkpoint is None:
        network, model_config = initial_network(hyperparameters, train_images, environ, warm_start)
        return Trainer.create(network, model_config, hyperparameters, warm_start is not None), Progress()
    trainer = Trainer.create(build_network(checkpoint["model_config"]), checkpoint["model_config"], hyperparameters,
                             warm_start is not None)
    progress = trainer.restore(checkpoint)
    print(f"resuming from checkpoint in {checkpoint_dir} after epoch {progress.completed_epochs}", flush=True)
    return trainer, progress


def run_training(
    hyperparameters: Hyperparameters,
    train_data: tuple[torch.Tensor, torch.Tensor],
    validation_data: tuple[torch.Tensor, torch.Tensor],
    checkpoint_dir: Path | None,
    environ: Mapping[str, str],
    retraining: Retraining | None = None,
) -> TrainingOutcome:
    """Train with early stopping on validation accuracy; resume from a compatible checkpoint if present."""
    make_reproducible(hyperparameters.seed)
    warm_start = retraining.warm_start if retraining is not None else None
    trainer, progress = prepare_trainer(hyperparameters, train_data[0], checkpoint_dir, environ, warm_start)
    resumed_after_epoch = progress.completed_epochs
    normalisation = trainer.model_config["normalisation"]
    draw_weights = retraining.draw_weights(hyperparameters.new_data_share) if retraining is not None else None
    patience = hyperparameters.stopping_patience(retraining is not None)
    training_seconds, training_images = 0.0, 0
    for epoch in range(progress.completed_epochs + 1, hyperparameters.epochs + 1):
        if progress.stopped_early:
            break
        train = train_one_epoch(
            trainer.network, *train_data, trainer.optimizer, trainer.generator,
            hyperparameters.batch_size, hyperparameters.augment, normalisation, draw_weights,
            hyperparameters.low_light,
        )  # fmt: skip
        batch = max(256, hyperparameters.batch_size)
        validation = evaluate_pass(trainer.network, *validation_data, batch, normalisation)
        selection = selection_pass(trainer.network, validation_data, retraining, hyperparameters.new_data_share,
                                   batch, normalisation)
        learning_rate = trainer.optimizer.param_groups[0]["lr"]
        print(metrics_line(epoch, hyperparameters.epochs, train, validation, learning_rate, selection), flush=True)
        chosen_by = selection or validation
        trainer.scheduler.step(chosen_by.accuracy)
        training_seconds += train.seconds
        training_images += train.images
        progress.history.append(history_row(epoch, train, validation, learning_rate, selection))
        progress.record(epoch, chosen_by, trainer.network)
        if 0 < patience <= progress.epochs_since_improvement:
            progress.stopped_early = True
            print(
                f"early stopping after epoch {epoch}: validation accuracy has not improved for "
                f"{patience} epochs (best epoch {progress.best['epoch']})",
                flush=True,
            )
        if checkpoint_dir is not None:
            save_checkpoint(checkpoint_dir, trainer.checkpoint(resume_signature(hyperparameters, warm_start), progress))

    if progress.best["state_dict"] is not None:
        trainer.network.load_state_dict(progress.best["state_dict"])
    return TrainingOutcome(
        network=trainer.network,
        model_config=trainer.model_config,
        best_epoch=progress.best["epoch"],
        history=progress.history,
        stopped_early=progress.stopped_early,
        resumed_after_epoch=resumed_after_epoch,
        training_seconds=training_seconds,
        training_images=training_images,
    )


def history_row(epoch: int, train: PassResult, validation: PassResult, learning_rate: float,
                selection: PassResult | None = None) -> dict[str, float]:
    """One epoch's entry in training_summary.json's history."""
    row = {
        "epoch": epoch,
        "train_loss": train.loss,
        "train_accuracy": train.accuracy,
        "validation_loss": validation.loss,
        "validation_accuracy": validation.accuracy,
        "learning_rate": learning_rate,
        "seconds": train.seconds + validation.seconds,
    }
    if selection is not None:
        row.update(selection_accuracy=selection.accuracy, selection_loss=selection.loss)
    return row
