"""Fixtures for training and tuning: a tiny drawn partition in the local object store, request builders."""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from include.builders.training import training_job_request, upload_training_source
from include.runtime.local.store import LocalObjectStore
from include.settings import Settings
from tests.training.probe import probe_tarball

RUN_KEY = "20260101T0000"
PARTITION_URI = f"s3://scones-mlops/datasets/{RUN_KEY}/"
OUTPUT_URI = f"s3://scones-mlops/models/{RUN_KEY}/"
PROBE_SOURCE_URI = "s3://scones-mlops/code/probe/sourcedir.tar.gz"
TINY_HYPERPARAMETERS = {"epochs": 1, "batch-size": 8, "width": 0.5, "augment": False, "patience": 1}


def vehicle_png(class_name: str, rng: random.Random) -> bytes:
    """Bicycles as thin rings, motorcycles as filled discs under a body: learnable in one epoch."""
    image = Image.new("RGB", (32, 32), tuple(rng.randint(170, 255) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    ink = tuple(rng.randint(0, 70) for _ in range(3))
    y = rng.randint(18, 22)
    for x in (rng.randint(7, 10), rng.randint(22, 25)):
        box = (x - 5, y - 5, x + 5, y + 5)
        if class_name == "bicycle":
            draw.ellipse(box, outline=ink)
        else:
            draw.ellipse(box, fill=ink)
    if class_name == "motorcycle":
        draw.rectangle((8, y - 12, 24, y - 4), fill=ink)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def put_partition(store: LocalObjectStore, partition_uri: str = PARTITION_URI, per_class: int = 12,
                  seed: int = 0) -> None:
    """``train/`` and ``validation/`` splits with ``per_class`` PNGs of each class."""
    rng = random.Random(seed)
    for split in ("train", "validation"):
        for class_name in ("bicycle", "motorcycle"):
            for index in range(per_class):
                store.put_bytes(f"{partition_uri}{split}/{class_name}/{class_name}_{index:03d}.png",
                                vehicle_png(class_name, rng))


def build_request(settings: Settings, store: LocalObjectStore, *, job_name: str = "scones-training-test",
                  source_uri: str | None = None, hyperparameters: dict | None = None,
                  partition_uri: str = PARTITION_URI, warm_start_model_url: str | None = None) -> dict:
    """A training request built by the product's builder, on the tiny partition."""
    return training_job_request(
        settings, run_key=RUN_KEY, job_name=job_name, partition_uri=partition_uri,
        source_uri=source_uri or upload_training_source(settings, store),
        hyperparameters={**settings.training.hyperparameters(), **TINY_HYPERPARAMETERS, **(hyperparameters or {})},
        output_uri=OUTPUT_URI, warm_start_model_url=warm_start_model_url,
    )


@pytest.fixture
def store(settings: Settings) -> LocalObjectStore:
    store = LocalObjectStore(settings.data_root)
    put_partition(store)
    store.put_bytes(PROBE_SOURCE_URI, probe_tarball())
    return store


@pytest.fixture
def probe_request(settings: Settings, store: LocalObjectStore) -> Callable[..., dict]:
    """Requests whose entry point is the probe program, with extra hyperparameters."""

    def make(job_name: str = "scones-training-probe", **hyperparameters: object) -> dict:
        return build_request(settings, store, job_name=job_name, source_uri=PROBE_SOURCE_URI,
                             hyperparameters=hyperparameters)

    return make


@pytest.fixture
def work_root(settings: Settings) -> Path:
    return settings.data_root / ".work"
