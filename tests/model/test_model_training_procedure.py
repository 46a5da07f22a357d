"""The training procedure: early stopping, best weights, reproducibility, checkpoint resume, backbones, augmentation."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from augmentation import augment_batch, random_low_light
from hyperparameters import Hyperparameters
from model_artifacts import weights_sha256
from resnet18 import ResNet18
from training_job import initial_network, run_training

SMALL = Hyperparameters(epochs=3, batch_size=8, width=0.25, patience=0, augment=True, seed=3)


def random_data(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (count, 3, 32, 32), dtype=torch.uint8, generator=generator)
    return images, torch.randint(0, 2, (count,), generator=generator)


def metric_history(history: list[dict[str, float]]) -> list[dict[str, float]]:
    return [{key: value for key, value in row.items() if key != "seconds"} for row in history]


def test_early_stopping_ends_training_when_validation_accuracy_stalls() -> None:
    hyperparameters = replace(SMALL, epochs=30, patience=2, learning_rate=0.0)
    outcome = run_training(hyperparameters, random_data(16, 0), random_data(16, 1), None, {})
    assert outcome.stopped_early
    assert len(outcome.history) == outcome.best_epoch + 2 < 30


def test_best_epoch_is_the_highest_validation_accuracy() -> None:
    outcome = run_training(replace(SMALL, epochs=4), random_data(24, 0), random_data(16, 1), None, {})
    best = max(outcome.history, key=lambda row: (row["validation_accuracy"], -row["validation_loss"]))
    assert outcome.best_epoch == best["epoch"]


def test_same_seed_gives_the_same_metrics() -> None:
    first = run_training(SMALL, random_data(24, 0), random_data(16, 1), None, {})
    second = run_training(SMALL, random_data(24, 0), random_data(16, 1), None, {})
    assert metric_history(first.history) == metric_history(second.history)


def test_same_data_hyperparameters_and_seed_give_the_same_weights() -> None:
    first = run_training(SMALL, random_data(24, 0), random_data(16, 1), None, {})
    second = run_training(SMALL, random_data(24, 0), random_data(16, 1), None, {})
    assert weights_sha256(first.network.state_dict()) == weights_sha256(second.network.state_dict())
    assert torch.are_deterministic_algorithms_enabled()


def test_another_seed_gives_other_weights() -> None:
    first = run_training(SMALL, random_data(24, 0), random_data(16, 1), None, {})
    other = run_training(replace(SMALL, seed=4), random_data(24, 0), random_data(16, 1), None, {})
    assert weights_sha256(first.network.state_dict()) != weights_sha256(other.network.state_dict())


def test_low_light_darkens_the_chosen_share_of_a_batch_and_leaves_the_rest() -> None:
    images = torch.full((200, 3, 8, 8), 200.0)
    darkened = random_low_light(images, torch.Generator().manual_seed(0), probability=0.5)
    changed = (darkened != images).flatten(1).any(dim=1)
    assert 70 < int(changed.sum()) < 130
    assert float(darkened[changed].mean()) < 160 and torch.equal(darkened[~changed], images[~changed])


def test_low_light_is_off_by_default_and_seeded() -> None:
    images = random_data(8, 0)[0]
    plain = augment_batch(images, torch.Generator().manual_seed(1))
    assert torch.equal(plain, augment_batch(images, torch.Generator().manual_seed(1), low_light=0.0))
    assert torch.equal(augment_batch(images, torch.Generator().manual_seed(1), low_light=1.0),
                       augment_batch(images, torch.Generator().manual_seed(1), low_light=1.0))
    assert not torch.equal(plain, augment_batch(images, torch.Generator().manual_seed(1), low_light=1.0))


def test_resumed_run_continues_exactly_where_the_checkpoint_left_off(tmp_path: Path) -> None:
    uninterrupted = run_training(SMALL, random_data(24, 0), random_data(16, 1), None, {})
    run_training(replace(SMALL, epochs=2), random_data(24, 0), random_data(16, 1), tmp_path, {})
    resumed = run_training(SMALL, random_data(24, 0), random_data(16, 1), tmp_path, {})
    assert resumed.resumed_after_epoch == 2
    assert metric_history(resumed.history) == metric_history(uninterrupted.history)


def test_pretrained_backbone_falls_back_to_scratch_when_weights_are_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    hyperparameters = replace(SMALL, backbone="pretrained-resnet18")
    _, config = initial_network(hyperparameters, random_data(4, 0)[0], {"TORCH_HOME": str(tmp_path)})
    assert config["backbone"] == "scratch"
    assert "pretrained weights unavailable (no weights file at" in capsys.readouterr().out


def test_pretrained_backbone_loads_resnet18_features_from_a_weights_file(tmp_path: Path) -> None:
    imagenet_like = ResNet18(num_classes=1000).state_dict()
    weights = tmp_path / "resnet18-test.pth"
    torch.save(imagenet_like, weights)
    hyperparameters = replace(SMALL, backbone="pretrained-resnet18", pretrained_weights=str(weights))
    network, config = initial_network(hyperparameters, random_data(4, 0)[0], {"TORCH_HOME": str(tmp_path)})
    assert config["architecture"] == "resnet18"
    assert torch.equal(network.state_dict()["layer4.1.conv2.weight"], imagenet_like["layer4.1.conv2.weight"])
    assert network.state_dict()["fc.weight"].shape == (2, 512)
