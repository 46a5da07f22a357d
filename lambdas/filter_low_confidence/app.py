"""Pass confident classifications on; stop unsure ones for human review.

Event: the classify step's output ``{"statusCode": 200, "body": {..., "inferences": [p_bicycle,
p_motorcycle]}}`` or its body alone. When the larger probability reaches ``CONFIDENCE_THRESHOLD``
(default 0.93, the same setting the drift monitor uses) the event is returned with
``"vehicle"`` (and ``"predicted_class"`` / ``"confidence"``) set; otherwise
:class:`LowConfidenceError` is raised, which the state machine catches by that name. Inferences that
are not class probabilities (non-finite, outside [0, 1], not summing to 1 within 1e-3) raise
:class:`InvalidProbabilitiesError`: ``[5.0, -4.0]`` is not a confident bicycle.
"""

from __future__ import annotations

import math
import os
from typing import Any

CLASS_NAMES = ("bicycle", "motorcycle")
DEFAULT_CONFIDENCE_THRESHOLD = 0.93
PROBABILITY_SUM_TOLERANCE = 1e-3


class LowConfidenceError(Exception):
    """The classifier is not confident enough to route the courier automatically."""


class MalformedEventError(ValueError):
    """The event has no usable inferences."""


class InvalidProbabilitiesError(MalformedEventError):
    """Two numbers, but not class probabilities."""


class ConfigurationError(ValueError):
    """CONFIDENCE_THRESHOLD is not a number in [0, 1]."""


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    wrapped = isinstance(event, dict) and isinstance(event.get("body"), dict)
    body = event["body"] if wrapped else event
    inferences = probabilities(body)
    threshold = confidence_threshold()
    best = max(range(len(CLASS_NAMES)), key=lambda index: inferences[index])
    confidence = inferences[best]
    if confidence < threshold:
        raise LowConfidenceError(
            f"confidence {confidence:.4f} for {CLASS_NAMES[best]} is below CONFIDENCE_THRESHOLD={threshold} "
            f"(photo s3://{body.get('s3_bucket')}/{body.get('s3_key')}): route the courier by human review"
        )
    vehicle = CLASS_NAMES[best]
    result = {**body, "vehicle": vehicle, "predicted_class": vehicle, "confidence": confidence}
    return {**event, "body": result} if wrapped else result


def probabilities(body: Any) -> list[float]:
    """The two class probabilities from the body's ``inferences``."""
    values = body.get("inferences") if isinstance(body, dict) else None
    well_formed = isinstance(values, list) and len(values) == len(CLASS_NAMES)
    if not well_formed or not all(map(_is_number, values)):
        raise MalformedEventError(
            f"event needs 'inferences': [p_bicycle, p_motorcycle] (two numbers), got {values!r:.200}; "
            "run classify_image first"
        )
    problem = probability_problem(values)
    if problem:
        raise InvalidProbabilitiesError(
            f"inferences {values!r:.200} are not class probabilities: {problem}; refusing to route on them"
        )
    return [float(v) for v in values]


def probability_problem(values: list[float]) -> str | None:
    """Why ``values`` are not class probabilities, or None when they are."""
    if not all(math.isfinite(v) for v in values):
        return "not all finite"
    if not all(0.0 <= v <= 1.0 for v in values):
        return "not all in [0, 1]"
    if abs(math.fsum(values) - 1.0) > PROBABILITY_SUM_TOLERANCE:
        return f"they sum to {math.fsum(values):.6g}, not 1 (tolerance {PROBABILITY_SUM_TOLERANCE:g})"
    return None


def confidence_threshold() -> float:
    raw = os.environ.get("CONFIDENCE_THRESHOLD", "")
    if not raw:
        return DEFAULT_CONFIDENCE_THRESHOLD
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise ConfigurationError(f"CONFIDENCE_THRESHOLD={raw!r} must be a number between 0 and 1")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
