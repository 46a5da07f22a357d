"""The serving model's penultimate-layer embeddings of captured photos.

The model comes as SageMaker packs it (``model.tar.gz``, or its unpacked folder) and carries its own
serving code in ``code/``: the photos are decoded by that code's ``input_fn`` and the model is loaded
by its ``model_fn``, so they become exactly the inputs the endpoint saw. The embedding is the input of
the network's last linear layer (the classifier head), taken with a forward hook, so any of the
model's architectures works unchanged. torch is imported only here, only when an embedding is asked for.

Model Monitor gives a custom container no inputs besides the capture and the baseline files, so a
model or embeddings file named by an ``s3://`` URI is downloaded first (boto3, the container's role).
"""

from __future__ import annotations

import importlib
import random
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from capture import TimeWindow, capture_files, read_events

MODEL_ARCHIVE = "model.tar.gz"
MODEL_FILE = "model.pt"
CODE_FOLDER = "code"
EMBEDDINGS_FILE = "embeddings.npy"
BATCH = 64
IMAGE_CONTENT_TYPE = "application/x-image"


class EmbeddingError(RuntimeError):
    """The model or the embeddings cannot be used; the message names the file and the fix."""


def fetch_input(location: str, work_dir: Path) -> Path:
    """A local path for ``location``: itself, or the ``s3://`` object it names downloaded under ``work_dir``."""
    if not location.startswith("s3://"):
        return Path(location)
    import boto3  # only a Model Monitor container needs it

    bucket, _, key = location[len("s3://"):].partition("/")
    if not bucket or not key or key.endswith("/"):
        raise EmbeddingError(f"{location!r} does not name one S3 object: give s3://bucket/key")
    target = work_dir / key.rsplit("/", 1)[-1]
    work_dir.mkdir(parents=True, exist_ok=True)
    try:
        boto3.client("s3").download_file(bucket, key, str(target))
    except Exception as exc:  # botocore's errors: the role, the bucket or the key
        raise EmbeddingError(f"could not download {location} ({exc}): check the URI and the job role's "
                             "s3:GetObject on it") from exc
    return target


def _unpack(archive: Path, destination: Path) -> Path:
    destination.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            root = destination.resolve()
            for member in tar.getmembers():
                target = (destination / member.name).resolve()
                if not target.is_relative_to(root) or member.issym() or member.islnk() or member.isdev():
                    raise EmbeddingError(f"model archive {archive} has an unsafe member {member.name!r}: "
                                         "repack it with plain files only")
            tar.extractall(destination, filter="data")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise EmbeddingError(f"model archive {archive} is not a readable tar.gz ({exc}): re-run training") from exc
    return destination


def model_folder(source: Path, work_dir: Path) -> Path:
    """The folder holding ``model.pt`` and ``code/``: ``source`` itself, or its ``model.tar.gz`` unpacked."""
    if (source / MODEL_FILE).is_file():
        return source
    archive = source if source.is_file() else (source / MODEL_ARCHIVE)
    if not archive.is_file():
        found = sorted(source.rglob(MODEL_ARCHIVE)) if source.is_dir() else []
        if not found:
            raise EmbeddingError(f"embedding model {str(source)!r} holds neither {MODEL_FILE} nor {MODEL_ARCHIVE}: "
                                 "give the serving model's model.tar.gz")
        archive = found[0]
    folder = _unpack(archive, work_dir / "model")
    if not (folder / MODEL_FILE).is_file() or not (folder / CODE_FOLDER / "inference.py").is_file():
        raise EmbeddingError(f"model archive {archive} lacks {MODEL_FILE} or {CODE_FOLDER}/inference.py: re-run "
                             "training (the archive carries its serving code)")
    return folder


class Embedder:
    """The model's embedding of photos: the input of its classifier head."""

    def __init__(self, model_dir: Path, threads: int = 1) -> None:
        code = str(model_dir / CODE_FOLDER)
        if code not in sys.path:
            sys.path.insert(0, code)
        import torch

        inference = importlib.import_module("inference")
        self._torch = torch
        self._inference = inference
        self.model = inference.model_fn(str(model_dir))
        torch.set_num_threads(max(1, threads))
        heads = [module for module in self.model.network.modules() if isinstance(module, torch.nn.Linear)]
        if not heads:
            raise EmbeddingError(f"the model in {model_dir} has no linear layer: no penultimate layer to embed")
        self._captured: list[Any] = []
        heads[-1].register_forward_hook(lambda _module, inputs, _output: self._captured.append(inputs[0]))

    def _decode(self, image: bytes) -> Any | None:
        try:
            return self._inference.input_fn(image, IMAGE_CONTENT_TYPE)
        except (ValueError, OSError):
            return None

    def embed(self, images: list[bytes]) -> tuple[np.ndarray, int]:
        """The embeddings (N x D float32) of the photos that decode, and how many did not."""
        tensors = [tensor for tensor in map(self._decode, images) if tensor is not None]
        parts = []
        for start in range(0, len(tensors), BATCH):
            self._captured.clear()
            self.model.probabilities(self._torch.cat(tensors[start:start + BATCH]))
            parts.append(self._captured[-1].detach().float().reshape(len(tensors[start:start + BATCH]), -1).numpy())
        width = parts[0].shape[1] if parts else 0
        embeddings = np.concatenate(parts) if parts else np.zeros((0, width), dtype=np.float32)
        return embeddings.astype(np.float32), len(images) - len(tensors)


def window_images(dataset_source: Path, window: TimeWindow) -> Iterator[bytes]:
    """The request photos of the window's capture records, in file order."""
    for event in read_events(capture_files(dataset_source, window), window):
        if event.image_bytes:
            yield event.image_bytes


def sample(items: Iterator[bytes], limit: int, seed: int) -> tuple[list[bytes], int]:
    """A uniform sample of at most ``limit`` items (reservoir, seeded) and how many there were."""
    rng = random.Random(seed)
    chosen: list[bytes] = []
    seen = 0
    for item in items:
        seen += 1
        if len(chosen) < limit:
            chosen.append(item)
        else:
            slot = rng.randrange(seen)
            if slot < limit:
                chosen[slot] = item
    return chosen, seen


def read_embeddings(path: Path) -> np.ndarray:
    """A baseline's N x D embeddings; a missing or malformed file is a named error."""
    try:
        embeddings = np.load(path, allow_pickle=False)
    except FileNotFoundError as exc:
        raise EmbeddingError(f"baseline embeddings {str(path)!r} do not exist: re-run the baseline job with "
                             "monitor.embedding_drift on") from exc
    except (OSError, ValueError) as exc:
        raise EmbeddingError(f"baseline embeddings {str(path)!r} are not a .npy array ({exc}): re-run the "
                             "baseline job") from exc
    if embeddings.ndim != 2 or not np.issubdtype(embeddings.dtype, np.floating):
        raise EmbeddingError(f"baseline embeddings {str(path)!r} are {embeddings.dtype} of shape {embeddings.shape}: "
                             "expected a float N x D array; re-run the baseline job")
    return embeddings
