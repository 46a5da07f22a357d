"""Compose a photo-like scene: background, clutter, one vehicle, occluders, lighting, blur, noise."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from devtools.synthetic import palette
from devtools.synthetic.drifts import BLUR_SIGMA_AT_MODEL_VIEW, DRIFTS, SCENE_DRIFTS, UnknownDriftError, check_drift
from devtools.synthetic.pen import Pen, Pose
from devtools.synthetic.vehicles import VEHICLES, Vehicle

MODEL_VIEW_SIDE = 32


def _gradient(top: tuple[int, int, int], bottom: tuple[int, int, int], rows: int, width: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, max(rows, 1))[:, None, None]
    column = (1 - t) * np.asarray(top, float) + t * np.asarray(bottom, float)
    return np.broadcast_to(column, (max(rows, 1), width, 3))


def _background(rng: np.random.Generator, width: int, height: int, drift: str | None) -> np.ndarray:
    horizon = int(height * rng.uniform(0.35, 0.8))
    if drift == "new_background":
        if rng.random() < 0.5:  # snow
            sky = (palette.grey(rng, 200, 240), palette.grey(rng, 225, 255))
            ground = (palette.grey(rng, 235, 255), palette.grey(rng, 215, 245))
        else:  # saturated studio or mural
            sky = (palette.vivid(rng), palette.vivid(rng))
            ground = (palette.vivid(rng), palette.vivid(rng))
    else:
        setting = rng.integers(0, 4)
        if setting == 0:  # street
            sky = (palette.from_hsv(0.58, rng.uniform(0.1, 0.6), rng.uniform(0.6, 1.0)),
                   palette.grey(rng, 160, 230))
            ground = (palette.grey(rng, 70, 140), palette.grey(rng, 50, 120))
        elif setting == 1:  # park
            sky = (palette.from_hsv(0.58, rng.uniform(0.2, 0.7), rng.uniform(0.6, 1.0)),
                   palette.grey(rng, 170, 240))
            ground = (palette.from_hsv(rng.uniform(0.2, 0.35), rng.uniform(0.3, 0.8), rng.uniform(0.3, 0.7)),
                      palette.from_hsv(rng.uniform(0.2, 0.35), rng.uniform(0.3, 0.8), rng.uniform(0.2, 0.5)))
        elif setting == 2:  # indoor
            sky = (palette.from_hsv(0.1, rng.uniform(0.0, 0.3), rng.uniform(0.6, 0.95)), palette.muted(rng))
            ground = (palette.from_hsv(0.08, rng.uniform(0.2, 0.6), rng.uniform(0.25, 0.6)),
                      palette.muted(rng))
        else:
            sky = (palette.muted(rng), palette.muted(rng))
            ground = (palette.muted(rng), palette.muted(rng))
    rows = [_gradient(*sky, horizon, width), _gradient(*ground, height - horizon, width)]
    return np.concatenate(rows)[:height]


def _clutter(rng: np.random.Generator, draw: ImageDraw.ImageDraw, width: int, height: int,
             drift: str | None) -> None:
    size = min(width, height)
    colour = palette.vivid if drift == "new_background" else palette.muted
    for _ in range(int(rng.integers(2, 9))):
        x, y = rng.uniform(0, width), rng.uniform(0, height * 0.8)
        w, h = rng.uniform(0.05, 0.5) * size, rng.uniform(0.05, 0.6) * size
        kind = rng.integers(0, 5)
        if kind == 0:
            draw.rectangle([x, y, x + w, y + h], fill=colour(rng))
        elif kind == 1:
            draw.ellipse([x, y, x + w, y + h * 0.7], fill=colour(rng))
        elif kind == 2:
            draw.line([(x, 0), (x + rng.uniform(-0.05, 0.05) * size, height)], fill=colour(rng),
                      width=max(1, round(rng.uniform(0.01, 0.04) * size)))
        elif kind == 3:
            draw.line([(0, y), (width, y + rng.uniform(-0.3, 0.3) * size)], fill=colour(rng),
                      width=max(1, round(rng.uniform(0.005, 0.02) * size)))
        else:
            radius = rng.uniform(0.05, 0.2) * size
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], outline=colour(rng),
                         width=max(1, round(radius * rng.uniform(0.05, 0.4))))
    if drift == "new_background" and rng.random() < 0.6:
        for _ in range(int(rng.integers(20, 80))):
            x, y, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(0.003, 0.012) * size
            draw.ellipse([x - r, y - r, x + r, y + r], fill=palette.grey(rng, 235, 255))


def _place(rng: np.random.Generator, vehicle: Vehicle, width: int, height: int) -> Pose:
    x_min, x_max, y_min, y_max = vehicle.extent
    squash = rng.uniform(0.55, 1.0)
    fill = rng.uniform(0.5, 1.0)
    scale = min(fill * width / ((x_max - x_min) * squash), 0.95 * height / (y_max - y_min))
    half_w = (x_max - x_min) * squash * scale / 2
    half_h = (y_max - y_min) * scale / 2
    slack_x = max(width / 2 - half_w, 0) + 0.08 * half_w
    slack_y = max(height / 2 - half_h, 0) + 0.05 * half_h
    facing = 1 if rng.random() < 0.5 else -1
    centre_x = width / 2 + rng.uniform(-slack_x, slack_x) - (x_max + x_min) / 2 * squash * scale * facing
    centre_y = height / 2 + rng.uniform(-slack_y, slack_y) + (y_max + y_min) / 2 * scale
    return Pose(centre_x=centre_x, centre_y=centre_y, scale=scale, squash=squash,
                tilt=rng.uniform(-0.2, 0.2), facing=facing)


def _shadow(draw: ImageDraw.ImageDraw, pen: Pen, vehicle: Vehicle, rng: np.random.Generator) -> None:
    x_min, x_max, y_min, _ = vehicle.extent
    left, right = pen.to_image(x_min, y_min), pen.to_image(x_max, y_min)
    depth = pen.pose.scale * rng.uniform(0.1, 0.3)
    box = [min(left[0], right[0]), (left[1] + right[1]) / 2 - depth, max(left[0], right[0]),
           (left[1] + right[1]) / 2 + depth]
    draw.ellipse(box, fill=palette.grey(rng, 20, 70))


def _occlude(rng: np.random.Generator, draw: ImageDraw.ImageDraw, width: int, height: int) -> None:
    size = min(width, height)
    kind = rng.integers(0, 3)
    colour = palette.muted(rng)
    if kind == 0:  # post or person's leg
        x, w = rng.uniform(0, width), rng.uniform(0.04, 0.12) * size
        draw.rectangle([x, rng.uniform(-0.2, 0.5) * height, x + w, height], fill=colour)
    elif kind == 1:  # bush or bin in front
        x, w, h = rng.uniform(-0.1, 0.8) * width, rng.uniform(0.2, 0.4) * size, rng.uniform(0.15, 0.35) * size
        draw.ellipse([x, height - h, x + w, height + h], fill=colour)
    else:  # a box at the edge
        w, h = rng.uniform(0.15, 0.3) * size, rng.uniform(0.15, 0.35) * size
        x = 0 if rng.random() < 0.5 else width - w
        y = rng.uniform(0.2, 0.8) * height
        draw.rectangle([x, y, x + w, y + h], fill=colour)


def _light(rng: np.random.Generator, pixels: np.ndarray, drift: str | None) -> np.ndarray:
    contrast, brightness = rng.uniform(0.7, 1.2), rng.uniform(0.8, 1.2)
    mean = pixels.mean()
    pixels = (pixels - mean) * contrast + mean * brightness
    if drift == "night":
        height, width, _ = pixels.shape
        pixels = (pixels - pixels.mean()) * rng.uniform(0.55, 0.8) + pixels.mean()
        pixels = pixels * rng.uniform(0.3, 0.5) * np.array([0.65, 0.8, 1.15]) + np.array([0, 4, 18])
        yy, xx = np.mgrid[0:height, 0:width]
        for _ in range(int(rng.integers(1, 3))):
            cx, cy = rng.uniform(0, width), rng.uniform(0.2, 0.8) * height
            radius = rng.uniform(0.03, 0.1) * min(width, height)
            glare = np.exp(-(((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * radius**2)))
            streak = np.exp(-((yy - cy) ** 2) / (2 * (radius * 0.15) ** 2)) * 0.25
            warm_white = np.array([1.0, 0.97, 0.85])
            pixels = pixels + (glare + streak)[..., None] * rng.uniform(120, 220) * warm_white
    return np.clip(pixels, 0, 255)


def render_scene(rng: np.random.Generator, kind: str, width: int, height: int,
                 drift: str | None = None) -> Image.Image:
    """One vehicle of ``kind`` in a cluttered scene, width x height, RGB, before sensor noise.

    Capture drifts (``heavy_jpeg``, ``low_resolution``, ...) draw the normal scene: they apply later.
    """
    check_drift(drift)
    scene_drift = drift if drift in SCENE_DRIFTS else None
    image = Image.fromarray(_background(rng, width, height, scene_drift).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    _clutter(rng, draw, width, height, scene_drift)
    vehicle = VEHICLES[kind](rng)
    pen = Pen(draw, _place(rng, vehicle, width, height))
    _shadow(draw, pen, vehicle, rng)
    vehicle.draw(pen)
    if rng.random() < 0.35:
        _occlude(rng, draw, width, height)
    blur = rng.uniform(0.0, 1.3) * min(width, height) / 96
    if scene_drift == "blur":  # out of focus or camera shake, sized on what the model sees
        blur = rng.uniform(*BLUR_SIGMA_AT_MODEL_VIEW) * min(width, height) / MODEL_VIEW_SIDE
    if blur > 0.3:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    return Image.fromarray(_light(rng, np.asarray(image, dtype=np.float64), scene_drift).astype(np.uint8), "RGB")


def add_sensor_noise(rng: np.random.Generator, image: Image.Image, drift: str | None = None,
                     scale: float = 1.0) -> Image.Image:
    """Gaussian pixel noise; stronger at night. ``scale`` grows it with the photo's size so that,
    once the model shrinks the photo, the noise left is the same as in the archive's thumbnails."""
    sigma = rng.uniform(2.0, 10.0) * (2.0 if drift == "night" else 1.0) * scale
    pixels = np.asarray(image, dtype=np.float64)
    noisy = pixels + rng.normal(0.0, sigma, size=pixels.shape)
    return Image.fromarray(np.clip(np.rint(noisy), 0, 255).astype(np.uint8), "RGB")


def supersampled_thumbnail(rng: np.random.Generator, kind: str, size: int = 32, factor: int = 3,
                           drift: str | None = None) -> Image.Image:
    """A size x size image drawn and noised at ``factor`` times the size, then box-downsampled.

    Noise is added before downsampling, as a camera adds it before a photo is scaled down, so the
    archive's thumbnails and full-size courier photos look alike once the model resizes them.
    """
    large = render_scene(rng, kind, size * factor, size * factor, drift)
    return add_sensor_noise(rng, large, drift).reduce(factor)


THUMBNAIL_RENDER_SIDE = 96
"""Archive thumbnails are drawn at 96 px and shrunk to 32; photo noise is scaled relative to that."""


__all__ = ["DRIFTS", "SCENE_DRIFTS", "UnknownDriftError", "add_sensor_noise", "check_drift", "render_scene",
           "supersampled_thumbnail"]
