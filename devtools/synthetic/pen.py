"""Draw in a vehicle's own coordinates (wheel radius 1, y up) onto a Pillow canvas.

The pen maps local points through pose (facing, yaw squash, tilt) and placement (centre,
scale), so one vehicle drawing serves every view.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import ImageDraw

Colour = tuple[int, int, int]
Point = tuple[float, float]


@dataclass(frozen=True)
class Pose:
    """Where and how a vehicle sits in the image."""

    centre_x: float
    centre_y: float
    scale: float  # pixels per local unit
    squash: float  # horizontal foreshortening from the yaw angle, 0 < squash <= 1
    tilt: float  # in-plane rotation, radians
    facing: int  # +1 faces right, -1 faces left


class Pen:
    """Primitives in local units, drawn through a :class:`Pose`."""

    def __init__(self, draw: ImageDraw.ImageDraw, pose: Pose) -> None:
        self.draw = draw
        self.pose = pose
        self._cos = math.cos(pose.tilt)
        self._sin = math.sin(pose.tilt)

    def to_image(self, x: float, y: float) -> Point:
        pose = self.pose
        x = x * pose.squash * pose.facing
        rx = x * self._cos - y * self._sin
        ry = x * self._sin + y * self._cos
        return (pose.centre_x + rx * pose.scale, pose.centre_y - ry * pose.scale)

    def pixels(self, width: float) -> int:
        return max(1, round(width * self.pose.scale))

    def line(self, points: Sequence[Point], colour: Colour, width: float) -> None:
        self.draw.line([self.to_image(x, y) for x, y in points], fill=colour, width=self.pixels(width),
                       joint="curve")

    def polygon(self, points: Sequence[Point], colour: Colour) -> None:
        self.draw.polygon([self.to_image(x, y) for x, y in points], fill=colour)

    def ellipse_points(self, cx: float, cy: float, rx: float, ry: float,
                       start: float = 0.0, end: float = 2 * math.pi) -> list[Point]:
        steps = max(12, min(64, int(abs(end - start) * max(rx, ry) * self.pose.scale / 2)))
        angles = np.linspace(start, end, steps)
        return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]

    def disc(self, cx: float, cy: float, radius: float, colour: Colour, ry: float | None = None) -> None:
        self.polygon(self.ellipse_points(cx, cy, radius, radius if ry is None else ry), colour)

    def ring(self, cx: float, cy: float, radius: float, colour: Colour, width: float) -> None:
        points = self.ellipse_points(cx, cy, radius, radius)
        self.line([*points, points[1]], colour, width)

    def arc(self, cx: float, cy: float, radius: float, start: float, end: float,
            colour: Colour, width: float) -> None:
        self.line(self.ellipse_points(cx, cy, radius, radius, start, end), colour, width)

    def box(self, x0: float, y0: float, x1: float, y1: float, colour: Colour) -> None:
        self.polygon([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], colour)
