"""The flat feature row the analyzer derives from one capture event.

Prediction features come from the model output ``[p_bicycle, p_motorcycle]``; image features
from the decoded request image, measured on a downscaled copy. ``None`` is a missing value.
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

_LEVELS = np.arange(256, dtype=np.float64) / 255.0
_LEVELS_SQUARED = _LEVELS**2

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
PREDICTION_FEATURES = ("predicted_class", "confidence", "low_confidence")

Row = dict[str, float | int | str | None]


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
        "low_confidence": int(confidence < threshold),
    }


def model_view(image: Image.Image, side: int = MODEL_INPUT_SIDE) -> Image.Image:
    """The inference handler's preprocessing: shorter side to ``side`` (bicubic), centre crop, RGB."""
    width, height = image.size
    image.draft("RGB", (2 * side * width // min(width, height), 2 * side * height // min(width, height)))
    image = image.convert("RGB")
    width, height = image.size
    if (width, height) == (side, side):
        return image
    scale = side / min(width, height)
    resized_width, resized_height = max(side, round(width * scale)), max(side, round(height * scale))
    resized = image.resize((resized_width, resized_height), Image.Resampling.BICUBIC)
    left, top = (resized_width - side) // 2, (resized_height - side) // 2
    return resized.crop((left, top, left + side, top + side))


def image_features(image_bytes: bytes) -> Row | None:
    """Brightness, contrast, saturation and size; ``None`` when the bytes are not a readable image.

    Brightness, contrast and saturation are measured on what the model sees — the shorter side
    resized to 32 and the centre cropped, as the inference handler does — so a baseline made from
    the model's 32x32 validation images and full-size production photos are comparable. Size is
    the original's. Luminance is ITU-R 601 luma and saturation HSV's (max - min) / max, both 0..1.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image_file = Image.open(io.BytesIO(image_bytes))
        with image_file as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                return None
            image = model_view(image)
            luminance = np.asarray(image.convert("L").histogram(), dtype=np.float64)
            saturation = np.asarray(image.convert("HSV").getchannel("S").histogram(), dtype=np.float64)
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        return None
    pixels = float(luminance.sum())
    brightness = float(luminance @ _LEVELS) / pixels
    spread = max(float(luminance @ _LEVELS_SQUARED) / pixels - brightness * brightness, 0.0)
    return {
        "brightness": brightness,
        "contrast": spread**0.5,
        "saturation": float(saturation @ _LEVELS) / pixels,
        "width": int(width),
        "height": int(height),
    }


def extract_row(event: CaptureEvent, threshold: float) -> Row:
    """All features of one event; what cannot be derived is ``None``."""
    row: Row = dict.fromkeys(FEATURE_NAMES)
    prediction = prediction_features(event.output_text, threshold)
    if prediction is not None:
        row.update(prediction)
    if event.image_bytes is not None:
        image = image_features(event.image_bytes)
        row["decode_failure"] = int(image is None)
        if image is not None:
            row.update(image)
    return row
