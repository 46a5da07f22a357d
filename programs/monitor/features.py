"""The flat feature row the analyzer derives from one capture event.

Prediction features come from the model output ``[p_bicycle, p_motorcycle]``; image features
from the decoded request image, measured on the model's 32x32 view of it (which is also kept as
the record's thumbnail). ``None`` is a missing value.
"""

from __future__ import annotations

import io
import json
import warnings
from dataclasses import dataclass

import numpy as np
from capture import CaptureEvent
from PIL import Image

CLASS_NAMES = ("bicycle", "motorcycle")
DEFAULT_CONFIDENCE_THRESHOLD = 0.93
MODEL_INPUT_SIDE = 32  # image properties are measured on the model's view of the photo
MAX_IMAGE_PIXELS = 40_000_000


_LEVEL = np.arange(256, dtype=np.int32)
_HIGH, _LOW = np.meshgrid(_LEVEL, _LEVEL, indexing="ij")
_SATURATION = np.where(_HIGH > 0, (np.clip(_HIGH - _LOW, 0, None) * 255) // np.maximum(_HIGH, 1), 0).astype(
    np.uint8).ravel()

FRACTIONAL = "Fractional"
INTEGRAL = "Integral"
STRING = "String"
UNKNOWN = "Unknown"


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    inferred_type: str
    description: str


FEATURES: tuple[FeatureSpec, ...] = (
    FeatureSpec("predicted_class", STRING, "class with the highest probability"),
    FeatureSpec("confidence", FRACTIONAL, "highest class probability"),
    FeatureSpec("motorcycle_probability", FRACTIONAL, "the model's predicted probability of a motorcycle"),
    FeatureSpec("estimated_accuracy", FRACTIONAL, "estimated probability that the prediction is right"),
    FeatureSpec("low_confidence", INTEGRAL, "1 when confidence is below the threshold"),
    FeatureSpec("brightness", FRACTIONAL, "mean luminance, 0..1"),
    FeatureSpec("contrast", FRACTIONAL, "standard deviation of luminance, 0..1"),
    FeatureSpec("saturation", FRACTIONAL, "mean HSV saturation, 0..1"),
    FeatureSpec("width", INTEGRAL, "image width in pixels"),
    FeatureSpec("height", INTEGRAL, "image height in pixels"),
    FeatureSpec("decode_failure", INTEGRAL, "1 when the request body is not a readable image"),
)
FEATURE_NAMES = tuple(spec.name for spec in FEATURES)
IMAGE_FEATURES = ("brightness", "contrast", "saturation", "width", "height")
PREDICTION_FEATURES = ("predicted_class", "confidence", "motorcycle_probability", "estimated_accuracy",
                       "low_confidence")
SHIFT_TEST_FEATURES = ("motorcycle_probability", "confidence", "brightness", "contrast", "saturation")
"""The continuous features the KS tests compare with the baseline (Bonferroni-corrected across them)."""
ESTIMATE_FEATURE = "estimated_accuracy"

Row = dict[str, float | int | str | None]
Thumbnail = bytes
"""The model's 32x32 RGB view of a request image, raw pixels."""


def _probabilities(output_text: str) -> list[float] | None:
    try:
        parsed = json.loads(output_text)
    except ValueError:
        return None
    if isinstance(parsed, dict):
        parsed = parsed.get("probabilities", parsed.get("predictions"))
    if isinstance(parsed, list) and len(parsed) == 1 and isinstance(parsed[0], list):
        parsed = parsed[0]
    if not isinstance(parsed, list) or len(parsed) != len(CLASS_NAMES):
        return None
    if not all(isinstance(p, int | float) and not isinstance(p, bool) for p in parsed):
        return None
    return [float(p) for p in parsed]


def prediction_features(output_text: str | None, threshold: float) -> Row | None:
    """Predicted class, confidence and the low-confidence flag; ``None`` if the output is unreadable."""
    probabilities = None if output_text is None else _probabilities(output_text)
    if probabilities is None:
        return None
    best = max(range(len(probabilities)), key=probabilities.__getitem__)
    confidence = probabilities[best]
    return {
        "predicted_class": CLASS_NAMES[best],
        "confidence": confidence,
        "motorcycle_probability": probabilities[CLASS_NAMES.index("motorcycle")],
        "estimated_accuracy": estimated_correctness(confidence),
        "low_confidence": int(confidence < threshold),
    }


def estimated_correctness(confidence: float) -> float:
    """P(correct) of one prediction, label-free: the calibrated top-class probability (see accuracy_estimate)."""
    return confidence


def model_view(image: Image.Image, side: int = MODEL_INPUT_SIDE) -> Image.Image:
    """The inference handler's preprocessing: shorter side to ``side`` (bicubic), centre crop, RGB."""
    width, height = image.size
    image.draft("RGB", (2 * side * width // min(width, height), 2 * side * height // min(width, height)))
    image = image if image.mode == "RGB" else image.convert("RGB")
    width, height = image.size
    if (width, height) == (side, side):
        return image
    scale = side / min(width, height)
    resized_width, resized_height = max(side, round(width * scale)), max(side, round(height * scale))
    resized = image.resize((resized_width, resized_height), Image.Resampling.BICUBIC)
    left, top = (resized_width - side) // 2, (resized_height - side) // 2
    return resized.crop((left, top, left + side, top + side))


def image_features(image_bytes: bytes) -> Row | None:
    """Brightness, contrast, saturation and size; ``None`` when the bytes are not a readable image."""
    measured = measure_image(image_bytes)
    if measured is None:
        return None
    row, thumbnail = measured
    add_view_statistics([row], [thumbnail])
    return row


def measure_image(image_bytes: bytes) -> tuple[Row, Thumbnail] | None:
    """The original's size and the model's view of it; ``None`` when the bytes are not a readable image.

    Brightness, contrast and saturation are then measured on that view (:func:`add_view_statistics`,
    a batch at a time) — the shorter side resized to 32 and the centre cropped, as the inference
    handler does — so a baseline made from the model's 32x32 validation images and full-size
    production photos are comparable.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image_file = Image.open(io.BytesIO(image_bytes))
        with image_file as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                return None
            thumbnail = model_view(image).tobytes()
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        return None
    return {"width": int(width), "height": int(height)}, thumbnail


def view_statistics(thumbnails: list[Thumbnail]) -> np.ndarray:
    """Per thumbnail: mean and spread of luma, mean HSV saturation (0..1), exactly as PIL's ``L`` and
    ``HSV`` conversions compute them (ITU-R 601 luma in PIL's fixed point; S = 255 (max - min) / max,
    truncated). One pass of array operations per batch keeps it a few microseconds a photo."""
    pixels = np.frombuffer(b"".join(thumbnails), dtype=np.uint8).reshape(len(thumbnails), -1, 3)
    red, green, blue = np.ascontiguousarray(pixels.transpose(2, 0, 1))  # one plane per channel
    luma = (red.astype(np.int32) * 19595 + green.astype(np.int32) * 38470 + blue.astype(np.int32) * 7471
            + 0x8000) >> 16
    high = np.maximum(np.maximum(red, green), blue).astype(np.uint16)
    low = np.minimum(np.minimum(red, green), blue)
    saturation = np.take(_SATURATION, (high << 8) | low)
    count = luma.shape[1]
    mean = luma.sum(axis=1, dtype=np.int64) / count
    mean_square = (luma * luma).sum(axis=1, dtype=np.int64) / count
    spread = np.sqrt(np.maximum(mean_square - mean * mean, 0.0))
    return np.stack([mean, spread, saturation.sum(axis=1, dtype=np.int64) / count], axis=1) / 255.0


def add_view_statistics(rows: list[Row], thumbnails: list[Thumbnail | None]) -> None:
    """Fill brightness, contrast and saturation of the rows that have a thumbnail."""
    measured = [index for index, thumbnail in enumerate(thumbnails) if thumbnail is not None]
    if not measured:
        return
    values = view_statistics([thumbnails[index] for index in measured])  # type: ignore[misc]
    for index, (brightness, contrast, saturation) in zip(measured, values.tolist(), strict=True):
        rows[index].update(brightness=brightness, contrast=contrast, saturation=saturation)


def extract(event: CaptureEvent, threshold: float) -> tuple[Row, Thumbnail | None]:
    """An event's features but for the view statistics (see :func:`add_view_statistics`), and its thumbnail."""
    row: Row = dict.fromkeys(FEATURE_NAMES)
    prediction = prediction_features(event.output_text, threshold)
    if prediction is not None:
        row.update(prediction)
    thumbnail = None
    if event.image_bytes is not None:
        measured = measure_image(event.image_bytes)
        row["decode_failure"] = int(measured is None)
        if measured is not None:
            row.update(measured[0])
            thumbnail = measured[1]
    return row, thumbnail


def extract_row(event: CaptureEvent, threshold: float) -> Row:
    """All features of one event; what cannot be derived is ``None``."""
    row, thumbnail = extract(event, threshold)
    add_view_statistics([row], [thumbnail])
    return row
