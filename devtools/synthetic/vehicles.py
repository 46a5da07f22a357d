"""Procedural side-view vehicles in local units (wheel radius 1, wheel centres on y = 0).

Bicycles have thin tubes, thin tyres, wire spokes, pedals and a saddle; motorcycles have fat
tyres, an engine block, a tank, an exhaust and a headlight. Both share the same paint odds and
both may carry a delivery box, so colour alone does not tell them apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from devtools.synthetic import palette
from devtools.synthetic.pen import Pen

Extent = tuple[float, float, float, float]  # x_min, x_max, y_min, y_max


@dataclass(frozen=True)
class Vehicle:
    """A drawing routine with the local-unit box it fills."""

    extent: Extent
    draw: Callable[[Pen], None]


def _wire_wheel(pen: Pen, cx: float, cy: float, rng: np.random.Generator, tyre: float,
                spokes: int, spoke_width: float) -> None:
    tyre_colour, rim_colour = palette.rubber(rng), palette.metal(rng)
    pen.ring(cx, cy, 1 - tyre / 2, tyre_colour, tyre)
    pen.ring(cx, cy, 1 - tyre - 0.02, rim_colour, 0.04)
    offset = rng.uniform(0, math.pi)
    for k in range(spokes):
        angle = offset + 2 * math.pi * k / spokes
        pen.line([(cx, cy), (cx + (1 - tyre) * math.cos(angle), cy + (1 - tyre) * math.sin(angle))],
                 rim_colour, spoke_width)
    pen.disc(cx, cy, 0.07, rim_colour)


def _cast_wheel(pen: Pen, cx: float, cy: float, rng: np.random.Generator, tyre: float) -> None:
    tyre_colour, rim_colour = palette.rubber(rng), palette.metal(rng)
    pen.ring(cx, cy, 1 - tyre / 2, tyre_colour, tyre)
    pen.ring(cx, cy, 1 - tyre - 0.03, rim_colour, 0.07)
    spokes = int(rng.integers(3, 7))
    offset = rng.uniform(0, math.pi)
    for k in range(spokes):
        angle = offset + 2 * math.pi * k / spokes
        pen.line([(cx, cy), (cx + (1 - tyre) * math.cos(angle), cy + (1 - tyre) * math.sin(angle))],
                 rim_colour, 0.11)
    pen.ring(cx, cy, 0.38, palette.grey(rng, 120, 200), 0.08)
    pen.disc(cx, cy, 0.16, rim_colour)


def _delivery_box(pen: Pen, rng: np.random.Generator, x0: float, y0: float, size: float) -> None:
    colour = palette.paint(rng)
    pen.box(x0, y0, x0 + size, y0 + size * rng.uniform(0.7, 1.0), colour)
    pen.box(x0 + size * 0.15, y0 + size * 0.3, x0 + size * 0.85, y0 + size * 0.45, palette.paint(rng))


def bicycle(rng: np.random.Generator) -> Vehicle:
    wheelbase = rng.uniform(2.15, 2.6)
    rear, front = (-wheelbase / 2, 0.0), (wheelbase / 2, 0.0)
    bottom = (rear[0] + rng.uniform(0.85, 1.0), rng.uniform(-0.15, 0.0))
    seat = (bottom[0] - rng.uniform(0.2, 0.4), bottom[1] + rng.uniform(1.2, 1.5))
    head_top = (front[0] - rng.uniform(0.35, 0.55), rng.uniform(1.25, 1.55))
    head_bottom = (head_top[0] + 0.12, head_top[1] - 0.35)
    tyre = rng.uniform(0.07, 0.2)
    tube = rng.uniform(0.06, 0.11)
    frame = palette.paint(rng)
    step_through = rng.random() < 0.2
    e_bike = rng.random() < 0.15
    spokes = int(rng.integers(12, 25))
    crank_angle = rng.uniform(0, 2 * math.pi)
    has_box = rng.random() < 0.25
    has_guards = rng.random() < 0.35
    drop_bars = rng.random() < 0.4

    def draw(pen: Pen) -> None:
        for hub in (rear, front):
            _wire_wheel(pen, hub[0], hub[1], rng, tyre, spokes, 0.025)
        if has_guards:
            guard = palette.metal(rng)
            pen.arc(rear[0], 0, 1.08, math.pi * 0.15, math.pi * 0.95, guard, 0.05)
            pen.arc(front[0], 0, 1.08, math.pi * 0.1, math.pi * 0.75, guard, 0.05)
        pen.ring(bottom[0], bottom[1], 0.2, palette.metal(rng), 0.05)
        top_joint = ((seat[0] + bottom[0]) / 2, (seat[1] + bottom[1]) / 2) if step_through else seat
        tubes = [(rear, seat), (rear, bottom), (bottom, seat), (top_joint, head_top),
                 (head_bottom, head_top), (head_bottom, front)]
        for start, end in tubes:
            pen.line([start, end], frame, tube)
        pen.line([bottom, head_bottom], frame, 0.2 if e_bike else tube)
        crank = (math.cos(crank_angle) * 0.4, math.sin(crank_angle) * 0.4)
        for sign in (1, -1):
            end = (bottom[0] + sign * crank[0], bottom[1] + sign * crank[1])
            pen.line([bottom, end], palette.metal(rng), 0.05)
            pen.box(end[0] - 0.14, end[1] - 0.04, end[0] + 0.14, end[1] + 0.04, palette.grey(rng, 20, 90))
        post_top = (seat[0] - 0.05, seat[1] + 0.25)
        pen.line([seat, post_top], palette.metal(rng), 0.05)
        saddle = palette.grey(rng, 10, 80) if rng.random() < 0.8 else palette.paint(rng)
        px, py = post_top
        saddle_outline = [(px - 0.25, py + 0.07), (px + 0.22, py + 0.04), (px + 0.2, py - 0.03),
                          (px - 0.22, py - 0.04)]
        pen.polygon(saddle_outline, saddle)
        stem = (head_top[0] - 0.05, head_top[1] + 0.18)
        pen.line([head_top, stem], palette.metal(rng), 0.06)
        if drop_bars:
            pen.arc(stem[0] + 0.12, stem[1] - 0.15, 0.15, -math.pi / 2, math.pi / 2, frame, 0.05)
        else:
            pen.line([stem, (stem[0] - 0.3, stem[1] + 0.08)], palette.grey(rng, 20, 90), 0.06)
        if has_box:
            _delivery_box(pen, rng, rear[0] - 0.35, seat[1] - 0.1, rng.uniform(0.6, 0.9))

    return Vehicle(extent=(rear[0] - 1.0, front[0] + 1.0, -1.0, 2.0), draw=draw)


def motorcycle(rng: np.random.Generator) -> Vehicle:
    wheelbase = rng.uniform(2.5, 3.2)
    rear, front = (-wheelbase / 2, 0.0), (wheelbase / 2, 0.0)
    dirt_bike = rng.random() < 0.2
    scooter = not dirt_bike and rng.random() < 0.15
    sport = not (dirt_bike or scooter) and rng.random() < 0.3
    tyre = rng.uniform(0.22, 0.3) if dirt_bike else rng.uniform(0.26, 0.4)
    body = palette.paint(rng)
    head = (front[0] - rng.uniform(0.4, 0.55), rng.uniform(1.35, 1.6) + (0.3 if dirt_bike else 0.0))
    has_box = rng.random() < 0.3
    lift = 0.25 if dirt_bike else 0.0

    def draw(pen: Pen) -> None:
        for hub in (rear, front):
            if dirt_bike:
                _wire_wheel(pen, hub[0], hub[1], rng, tyre, int(rng.integers(18, 30)), 0.03)
                pen.disc(hub[0], hub[1], 0.14, palette.metal(rng))
            else:
                _cast_wheel(pen, hub[0], hub[1], rng, tyre)
        chrome, dark = palette.metal(rng), palette.grey(rng, 15, 60)
        pivot = (-0.35, 0.0 + lift)
        pen.line([pivot, rear], dark, 0.16)
        pen.line([front, head], chrome, 0.13)
        pen.line([(front[0] - 0.12, front[1]), (head[0] - 0.1, head[1] - 0.05)], chrome, 0.1)
        engine = palette.grey(rng, 40, 150)
        pen.polygon([(-0.45, -0.45 + lift), (0.45, -0.5 + lift), (0.6, 0.35 + lift), (0.05, 0.55 + lift),
                     (-0.45, 0.35 + lift)], engine)
        for k in range(4):
            y = -0.25 + 0.17 * k + lift
            pen.line([(0.0, y), (0.5, y + 0.05)], palette.grey(rng, 150, 230), 0.04)
        exhaust_y = 0.25 if dirt_bike else -0.3
        pen.line([(0.35, -0.35 + lift), (-0.2, -0.55 + lift), (rear[0] + 0.3, exhaust_y),
                  (rear[0] - 0.35, exhaust_y + 0.25)], chrome, 0.13)
        pen.line([(rear[0] + 0.1, exhaust_y + 0.1), (rear[0] - 0.45, exhaust_y + 0.3)], chrome, 0.24)
        if scooter:
            pen.polygon([(rear[0] - 0.4, 0.55), (rear[0] - 0.2, 1.25), (0.1, 1.2), (0.2, 0.2), (head[0], 0.3),
                         (head[0] + 0.1, head[1] - 0.1), (head[0] - 0.3, head[1] - 0.1), (-0.1, 0.5)], body)
        else:
            pen.polygon([(-0.3, 0.7 + lift), (0.7, 0.85 + lift), (0.85, 1.15 + lift), (0.15, 1.25 + lift),
                         (-0.35, 1.05 + lift)], body)
            pen.polygon([(-0.35, 0.6 + lift), (rear[0] - 0.55, 1.05 + lift), (rear[0] - 0.6, 1.2 + lift),
                         (-0.2, 0.95 + lift)], body)
        pen.polygon([(-0.35, 1.08 + lift), (rear[0] - 0.45, 1.2 + lift), (rear[0] - 0.4, 1.36 + lift),
                     (-0.3, 1.3 + lift)], dark)
        pen.arc(front[0], 0, 1.12, math.pi * 0.2, math.pi * 0.85, body, 0.12)
        pen.arc(rear[0], 0, 1.12, math.pi * 0.3, math.pi * 0.9, body if rng.random() < 0.5 else dark, 0.12)
        if sport:
            pen.polygon([(head[0] + 0.35, head[1] - 0.15), (head[0] - 0.15, head[1] + 0.35), (0.4, 0.9),
                         (0.5, 0.0), (head[0] + 0.1, 0.25)], body)
        pen.disc(head[0] + 0.2, head[1] - 0.15, 0.2, palette.from_hsv(0.14, rng.uniform(0, 0.4), 1.0))
        bar_end = (head[0] - 0.35, head[1] + 0.25)
        pen.line([head, bar_end], dark, 0.08)
        pen.line([bar_end, (bar_end[0] + 0.05, bar_end[1] + 0.3)], chrome, 0.03)
        if has_box:
            _delivery_box(pen, rng, rear[0] - 0.6, 1.3 + lift, rng.uniform(0.75, 1.05))

    return Vehicle(extent=(rear[0] - 1.0, front[0] + 1.0, -1.0, 2.2 + lift), draw=draw)


def _car_wheel(pen: Pen, rng: np.random.Generator, cx: float, cy: float, radius: float) -> None:
    pen.disc(cx, cy, radius, palette.rubber(rng))
    pen.disc(cx, cy, radius * 0.55, palette.metal(rng))
    pen.disc(cx, cy, radius * 0.15, palette.grey(rng, 20, 80))


def bus(rng: np.random.Generator) -> Vehicle:
    length, height = rng.uniform(6.5, 9.0), rng.uniform(3.0, 3.8)
    x0, x1 = -length / 2, length / 2
    body, glass = palette.paint(rng), palette.from_hsv(0.58, rng.uniform(0.1, 0.5), rng.uniform(0.2, 0.5))

    def draw(pen: Pen) -> None:
        pen.box(x0, -0.6, x1, height - 0.6, body)
        windows = int(rng.integers(4, 8))
        pitch = (length - 1.6) / windows
        for k in range(windows):
            left = x0 + 0.4 + k * pitch
            pen.box(left, height * 0.45, left + pitch * 0.8, height - 1.0, glass)
        pen.box(x1 - 0.5, 0.2, x1 - 0.05, height - 1.0, glass)
        pen.box(x1 - 1.6, -0.4, x1 - 0.9, height - 1.2, palette.grey(rng, 40, 120))
        pen.box(x0, 0.5, x1, 0.7, palette.paint(rng))
        for cx in (x0 + 1.4, x1 - 2.2):
            _car_wheel(pen, rng, cx, 0.0, 1.0)

    return Vehicle(extent=(x0, x1, -1.0, height - 0.6), draw=draw)


def pickup_truck(rng: np.random.Generator) -> Vehicle:
    body, glass = palette.paint(rng), palette.from_hsv(0.58, rng.uniform(0.1, 0.5), rng.uniform(0.2, 0.5))
    cab = rng.uniform(2.0, 2.5)

    def draw(pen: Pen) -> None:
        pen.box(-2.6, -0.4, 0.3, 1.2, body)
        pen.box(0.3, -0.4, 2.2, cab, body)
        pen.polygon([(2.2, -0.4), (3.2, -0.4), (3.2, 1.2), (2.2, 1.4)], body)
        pen.box(0.6, 1.3, 2.0, cab - 0.25, glass)
        pen.box(-2.6, 1.1, 0.3, 1.25, palette.grey(rng, 30, 90))
        pen.box(3.1, 0.2, 3.25, 0.6, palette.from_hsv(0.13, 0.2, 1.0))
        for cx in (-1.6, 2.0):
            _car_wheel(pen, rng, cx, 0.0, 1.0)

    return Vehicle(extent=(-2.6, 3.3, -1.0, cab), draw=draw)


def tractor(rng: np.random.Generator) -> Vehicle:
    body = palette.paint(rng)
    rear_radius = rng.uniform(1.5, 1.9)

    def draw(pen: Pen) -> None:
        pen.box(-0.6, 0.0, 2.4, 1.3, body)
        pen.box(-1.9, 1.0, 0.1, 3.3, palette.grey(rng, 30, 80))
        pen.box(-1.7, 1.5, -0.1, 3.0, palette.from_hsv(0.55, 0.2, rng.uniform(0.4, 0.8)))
        pen.box(-2.0, 3.2, 0.2, 3.45, body)
        pen.line([(1.6, 1.3), (1.6, 2.6)], palette.grey(rng, 20, 60), 0.12)
        cy = rear_radius - 1.0
        pen.disc(-1.0, cy, rear_radius, palette.rubber(rng))
        lug = palette.grey(rng, 5, 40)
        for k in range(16):
            angle = 2 * math.pi * k / 16
            inner, outer = rear_radius - 0.2, rear_radius
            pen.line([(-1.0 + inner * math.cos(angle), cy + inner * math.sin(angle)),
                      (-1.0 + outer * math.cos(angle), cy + outer * math.sin(angle))], lug, 0.15)
        pen.disc(-1.0, cy, rear_radius * 0.5, body)
        _car_wheel(pen, rng, 2.0, -0.15, 0.85)

    return Vehicle(extent=(-1.0 - rear_radius, 2.9, -1.0, 3.45), draw=draw)


VEHICLES: dict[str, Callable[[np.random.Generator], Vehicle]] = {
    "bicycle": bicycle,
    "bus": bus,
    "motorcycle": motorcycle,
    "pickup_truck": pickup_truck,
    "tractor": tractor,
}
