"""Retraining from the serving model: warm start, new images drawn more often, what a model has seen, recovery."""

from __future__ import annotations

import json
import shutil
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from channel_data import load_channel
from hyperparameters import Hyperparameters
from model_artifacts import save_model, weights_sha256
from model_test_support import TrainingRun, run_program, training_environment
from PIL import Image
from preprocessing import image_to_uint8_tensor, normalise
from training_job import Retraining, initial_network, run_training
from warm_start import TRAINED_ON_FILE, WarmStart, image_digests, incompatibility, load_warm_start

SMALL = Hyperparameters(epochs=3, batch_size=8, width=0.25, patience=0, augment=False, seed=3)


def night(images: torch.Tensor) -> torch.Tensor:
    """The same scenes after dark: a third of the light, a blue cast, less contrast."""
    scaled = images.float() * torch.tensor([0.25, 0.3, 0.45]).view(1, 3, 1, 1) + 10
    return scaled.round().clamp(0, 255).to(torch.uint8)


def accuracy(network: torch.nn.Module, config: dict, data: tuple[torch.Tensor, torch.Tensor]) -> float:
    network.eval()
    with torch.inference_mode():
        logits = network(normalise(data[0], config["normalisation"]["mean"], config["normalisation"]["std"]))
    return float((logits.argmax(dim=1) == data[1]).float().mean())


def warm_start_from(network: torch.nn.Module, config: dict, seen: int) -> WarmStart:
    state = {name: tensor.clone() for name, tensor in network.state_dict().items()}
    return WarmStart(state, config, frozenset(f"seen-{index}" for index in range(seen)), frozenset({"v"}),
                     Path("serving"), weights_sha256(state))


def test_a_warm_start_begins_from_the_serving_models_weights_and_normalisation() -> None:
    images = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
    serving, config = initial_network(SMALL, images, {})
    warm = warm_start_from(serving, config, seen=4)
    network, started_config = initial_network(SMALL, images // 3, {}, warm)
    assert weights_sha256(network.state_dict()) == weights_sha256(serving.state_dict())
    assert started_config["normalisation"] == config["normalisation"]


def test_a_warm_start_begins_at_the_warm_start_learning_rate_and_a_first_training_at_the_learning_rate() -> None:
    images, labels = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8), torch.tensor([0, 1] * 4)
    hyperparameters = replace(SMALL, epochs=1, learning_rate=0.004, warm_start_learning_rate=0.0005)
    first = run_training(hyperparameters, (images, labels), (images, labels), None, {})
    new = torch.tensor([True] + [False] * 7)
    retraining = Retraining(warm_start_from(first.network, first.model_config, seen=7), new, new)
    retrained = run_training(hyperparameters, (images, labels), (images, labels), None, {}, retraining)
    assert (first.history[0]["learning_rate"], retrained.history[0]["learning_rate"]) == (0.004, 0.0005)


def test_a_warm_start_stops_early_by_its_own_patience() -> None:
    images, labels = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8), torch.tensor([0, 1] * 4)
    stalled = replace(SMALL, epochs=30, learning_rate=1e-9, warm_start_learning_rate=1e-9, patience=1,
                      warm_start_patience=3)
    first = run_training(stalled, (images, labels), (images, labels), None, {})
    new = torch.tensor([True] + [False] * 7)
    retraining = Retraining(warm_start_from(first.network, first.model_config, seen=7), new, new)
    retrained = run_training(stalled, (images, labels), (images, labels), None, {}, retraining)
    assert (len(first.history), len(retrained.history)) == (first.best_epoch + 1, retrained.best_epoch + 3)


def test_new_images_get_the_new_data_share_of_the_draws() -> None:
    new = torch.tensor([True] * 10 + [False] * 90)
    weights = Retraining(warm_start_from(torch.nn.Linear(1, 1), {}, 1), new, new[:4]).draw_weights(0.5)
    assert weights is not None
    assert float(weights[new].sum() / weights.sum()) == pytest.approx(0.5)


def test_no_extra_weight_when_the_new_images_are_already_that_share_or_absent() -> None:
    warm = warm_start_from(torch.nn.Linear(1, 1), {}, 1)
    assert Retraining(warm, torch.tensor([True, True, False]), torch.tensor([True])).draw_weights(0.5) is None
    assert Retraining(warm, torch.zeros(5, dtype=torch.bool), torch.tensor([True])).draw_weights(0.5) is None
    assert Retraining(warm, torch.tensor([True] + [False] * 9), torch.tensor([True])).draw_weights(0.0) is None


def test_another_architecture_cannot_be_warm_started_from() -> None:
    _, config = initial_network(SMALL, torch.zeros(2, 3, 32, 32, dtype=torch.uint8), {})
    assert incompatibility(config, SMALL) is None
    assert "width" in incompatibility(config, replace(SMALL, width=2.0))
    assert "resnet18" in incompatibility(config, replace(SMALL, backbone="pretrained-resnet18"))


def test_warm_started_retraining_recovers_on_drifted_photos_and_keeps_clean_accuracy(
    tiny_partition: Path,
) -> None:
    """Small scale of the recovery benchmark: the serving model fails on night photos; retrained from it with
    a few labelled night photos drawn as often as all the rest, it recovers without losing clean accuracy."""
    clean_train, clean_validation = load_channel("train", tiny_partition / "train"), load_channel(
        "validation", tiny_partition / "validation")
    clean_test = load_channel("test", tiny_partition / "test")
    hyperparameters = replace(SMALL, epochs=6, width=0.5, learning_rate=0.01)
    serving = run_training(hyperparameters, clean_train, clean_validation, None, {})
    night_test = (night(clean_test[0]), clean_test[1])
    before = accuracy(serving.network, serving.model_config, night_test)

    labelled = slice(0, 16)  # a few labelled night photos, in train and validation alike
    train = (torch.cat([clean_train[0], night(clean_validation[0][labelled])]),
             torch.cat([clean_train[1], clean_validation[1][labelled]]))
    new_in_train = torch.cat([torch.zeros(len(clean_train[1]), dtype=torch.bool), torch.ones(16, dtype=torch.bool)])
    validation = (torch.cat([clean_validation[0], night(clean_validation[0])]),
                  torch.cat([clean_validation[1], clean_validation[1]]))
    new_in_validation = torch.arange(len(validation[1])) >= len(clean_validation[1])
    retraining = Retraining(warm_start_from(serving.network, serving.model_config, seen=1), new_in_train,
                            new_in_validation)
    retrained = run_training(replace(hyperparameters, learning_rate=0.005), train, validation, None, {}, retraining)

    after = accuracy(retrained.network, retrained.model_config, night_test)
    assert before <= 0.75
    assert after >= before + 0.2
    assert accuracy(retrained.network, retrained.model_config, clean_test) >= accuracy(
        serving.network, serving.model_config, clean_test) - 0.1


def pack(model_dir: Path, folder: Path) -> Path:
    folder.mkdir(parents=True)
    with tarfile.open(folder / "model.tar.gz", "w:gz") as archive:
        for path in sorted(model_dir.rglob("*")):
            archive.add(path, arcname=path.relative_to(model_dir).as_posix(), recursive=False)
    return folder


def test_a_job_with_the_warmstart_channel_counts_the_new_images_and_records_what_it_saw(
    trained_job: TrainingRun, tmp_path: Path
) -> None:
    partition = tmp_path / "partition"
    shutil.copytree(trained_job.partition, partition)
    seen = sorted((partition / "train" / "bicycle").glob("*.png"))[0]
    shutil.copy(seen, partition / "train" / "bicycle" / "same-content-new-name.png")  # not new: same content
    dark = night(image_to_uint8_tensor(Image.open(seen).convert("RGB")).unsqueeze(0))[0]
    Image.fromarray(dark.permute(1, 2, 0).numpy()).save(partition / "train" / "bicycle" / "labelled-night.png")
    environment = training_environment(partition, tmp_path / "job",
                                       SM_CHANNEL_WARMSTART=str(pack(trained_job.model_dir, tmp_path / "serving")))
    result = run_program("train.py", ["--epochs", "1", "--batch-size", "16"], environment)
    assert result.returncode == 0, result.stderr
    assert "warm-starting from the serving model" in result.stdout
    summary = json.loads((tmp_path / "job" / "output" / "data" / "training_summary.json").read_text())
    assert (summary["warm_start"]["new_train_images"], summary["warm_start"]["new_validation_images"]) == (1, 0)
    trained_on = json.loads((tmp_path / "job" / "model" / TRAINED_ON_FILE).read_text())
    assert set(image_digests("train", partition / "train")) <= set(trained_on["train"])


def test_a_serving_model_without_a_record_of_what_it_saw_still_starts_the_training(
    trained_job: TrainingRun, tmp_path: Path
) -> None:
    model_dir = tmp_path / "model"
    network, _ = initial_network(replace(SMALL, width=2.0), torch.zeros(2, 3, 32, 32, dtype=torch.uint8), {})
    save_model(model_dir, network, json.loads((trained_job.model_dir / "model_config.json").read_text()))
    warm = load_warm_start(model_dir, tmp_path / "work", replace(SMALL, width=2.0))
    assert warm is not None and not warm.seen_train
    assert not bool(warm.new_images(["a", "b"], "train").any())
