"""Colour choices shared by vehicles and scenes."""

from __future__ import annotations

import colorsys

import numpy as np

Colour = tuple[int, int, int]


def from_hsv(hue: float, saturation: float, value: float) -> Colour:
    r, g, b = colorsys.hsv_to_rgb(hue % 1.0, saturation, value)
    return (round(r * 255), round(g * 255), round(b * 255))


def paint(rng: np.random.Generator) -> Colour:
    """A vehicle paint: any hue, or black, white, grey or silver (same odds for every class)."""
    roll = rng.random()
    if roll < 0.15:
        return grey(rng, 10, 60)
    if roll < 0.25:
        return grey(rng, 190, 245)
    if roll < 0.35:
        return grey(rng, 110, 180)
    return from_hsv(rng.random(), rng.uniform(0.45, 1.0), rng.uniform(0.35, 1.0))


def grey(rng: np.random.Generator, low: int, high: int) -> Colour:
    level = int(rng.integers(low, high + 1))
    tint = rng.integers(-6, 7, size=3)
    return tuple(int(np.clip(level + t, 0, 255)) for t in tint)  # type: ignore[return-value]


def metal(rng: np.random.Generator) -> Colour:
    """Chrome, aluminium or black metal."""
    return grey(rng, 150, 225) if rng.random() < 0.65 else grey(rng, 25, 70)


def rubber(rng: np.random.Generator) -> Colour:
    """Tyre rubber: near black, sometimes a tan sidewall."""
    return grey(rng, 15, 55) if rng.random() < 0.85 else from_hsv(0.09, 0.45, rng.uniform(0.45, 0.7))


def muted(rng: np.random.Generator) -> Colour:
    """Background clutter colour."""
    return from_hsv(rng.random(), rng.uniform(0.0, 0.55), rng.uniform(0.2, 0.9))


def vivid(rng: np.random.Generator) -> Colour:
    """A saturated, bright colour for the 'new_background' drift."""
    return from_hsv(rng.random(), rng.uniform(0.8, 1.0), rng.uniform(0.85, 1.0))
