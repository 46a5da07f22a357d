"""SageMaker PyTorch serving handler: one photo in, [p_bicycle, p_motorcycle] out as JSON."""

from __future__ import annotations

import json
from typing import Any

import torch
from model_artifacts import load_model
from preprocessing import UnsupportedInputError, decode_image, image_to_uint8_tensor, normalise

__all__ = ["UnsupportedInputError", "input_fn", "model_fn", "output_fn", "predict_fn"]

IMAGE_CONTENT_TYPES = ("image/png", "image/jpeg", "application/x-image")
JSON_CONTENT_TYPE = "application/json"
ACCEPTED_RESPONSE_TYPES = (JSON_CONTENT_TYPE, "*/*", "application/*")
SERVING_THREADS = 1


class VehicleClassifier:
    """A trained network with the normalisation it was trained with."""

    def __init__(self, network: torch.nn.Module, config: dict[str, Any]) -> None:
        self.network = network
        self.config = config
        self.mean = config["normalisation"]["mean"]
        self.std = config["normalisation"]["std"]

    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """Class probabilities (N x classes) of N x 3 x 32 x 32 uint8 images."""
        with torch.inference_mode():
            return torch.softmax(self.network(normalise(images, self.mean, self.std)), dim=1)


def base_content_type(content_type: str | None) -> str:
    """The media type without parameters, lower-cased ('image/PNG; q=1' -> 'image/png')."""
    return (content_type or "").split(";")[0].strip().lower()


def model_fn(model_dir: str) -> VehicleClassifier:
    """Load model.pt (weights only) from the unpacked model directory."""
    torch.set_num_threads(SERVING_THREADS)
    network, config = load_model(model_dir)
    return VehicleClassifier(network, config)


def input_fn(request_body: bytes | bytearray | str, content_type: str) -> torch.Tensor:
    """Decode an image request into a 1 x 3 x 32 x 32 uint8 tensor."""
    media_type = base_content_type(content_type)
    if media_type not in IMAGE_CONTENT_TYPES:
        raise UnsupportedInputError(
            f"content type {content_type!r} is not supported: send {', '.join(IMAGE_CONTENT_TYPES)}"
        )
    if isinstance(request_body, str):
        raise UnsupportedInputError(f"{media_type} request body arrived as text: send the raw image bytes")
    image = decode_image(bytes(request_body))
    return image_to_uint8_tensor(image).unsqueeze(0)


def predict_fn(data: torch.Tensor, model: VehicleClassifier) -> torch.Tensor:
    """Class probabilities (N x 2) for a batch of decoded images."""
    return model.probabilities(data)


def output_fn(prediction: torch.Tensor, accept: str | None) -> tuple[str, str]:
    """Serialise probabilities as JSON: '[p_bicycle,p_motorcycle]' for one image, a list of those for more."""
    media_type = base_content_type(accept) or JSON_CONTENT_TYPE
    if media_type not in ACCEPTED_RESPONSE_TYPES:
        raise UnsupportedInputError(f"accept type {accept!r} is not supported: ask for {JSON_CONTENT_TYPE}")
    rows = prediction.reshape(-1, prediction.shape[-1]).tolist()
    body = rows[0] if len(rows) == 1 else rows
    return json.dumps(body, separators=(",", ":")), JSON_CONTENT_TYPE
