"""The drifts the generator draws, and how severe each one is.

Scene drifts change what the camera sees, so they apply to archive thumbnails and courier photos
alike; capture drifts change how photos are taken, sent or chosen, so they apply to courier photos
only. Severities are stated on the model's 32x32 view of a photo where that is what matters.
"""

from __future__ import annotations

SCENE_DRIFTS: tuple[str, ...] = ("night", "new_background", "blur")
CAPTURE_DRIFTS: tuple[str, ...] = ("heavy_jpeg", "low_resolution", "class_mix", "ood_vehicles")
DRIFTS: tuple[str, ...] = SCENE_DRIFTS + CAPTURE_DRIFTS
"""Order matters: a drift's position seeds its photos, so new drifts are only ever appended."""

BLUR_SIGMA_AT_MODEL_VIEW = (0.7, 1.1)
JPEG_QUALITY = (5, 10)
LOW_RESOLUTION_SIDE = (18, 26)
CLASS_MIX_MOTORCYCLE_SHARE = 0.85
OOD_VEHICLES: tuple[str, ...] = ("bus", "pickup_truck", "tractor")

SEVERITY: dict[str, str] = {
    "night": "brightness x0.3-0.5, contrast x0.55-0.8, blue cast, 1-2 street-light glares, sensor noise x2",
    "new_background": "snow (grey-white) or saturated studio/mural backgrounds and clutter",
    "blur": f"Gaussian blur, sigma {BLUR_SIGMA_AT_MODEL_VIEW[0]}-{BLUR_SIGMA_AT_MODEL_VIEW[1]} px "
            "on the model's 32x32 view",
    "heavy_jpeg": f"every photo a JPEG at quality {JPEG_QUALITY[0]}-{JPEG_QUALITY[1]}",
    "low_resolution": f"a low-resolution camera: shorter side {LOW_RESOLUTION_SIDE[0]}-{LOW_RESOLUTION_SIDE[1]} px "
                      "(the model upsamples to 32)",
    "class_mix": f"{CLASS_MIX_MOTORCYCLE_SHARE:.0%} motorcycles, {1 - CLASS_MIX_MOTORCYCLE_SHARE:.0%} bicycles "
                 "(normally 50/50)",
    "ood_vehicles": f"no bicycles or motorcycles: {', '.join(OOD_VEHICLES)} in equal shares",
}


class UnknownDriftError(ValueError):
    """A drift name that the generator does not draw."""


def check_drift(drift: str | None, allowed: tuple[str, ...] = DRIFTS) -> None:
    if drift is not None and drift not in allowed:
        raise UnknownDriftError(f"drift {drift!r} is not drawn here; use one of {', '.join(allowed)} or None")


def drift_code(drift: str | None) -> int:
    """The drift's part of a photo's seed: 0 for none, else its position in :data:`DRIFTS` plus one."""
    return 0 if drift is None else 1 + DRIFTS.index(drift)
