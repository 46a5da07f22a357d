"""Profile a window's capture records on every core: shards read apart, profiles merged in order.

The window's files are cut into shards of about ``shard_bytes``; each worker process streams its
shards into a profile (sketches, counts and the extremes' thumbnails: bounded memory, whatever the
window's size), and the main process folds the results together in shard order, so the result is
the same with one worker or many.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from capture import Shard, TimeWindow, capture_files, plan_shards, read_shard_events
from feature_statistics import DatasetProfile
from features import Row, Thumbnail, add_view_statistics, extract
from shifted_photos import Extremes

DEFAULT_SHARD_BYTES = 8 * 1024 * 1024
BATCH = 512


@dataclass
class WindowProfile:
    """What streaming a window leaves: its profile, the counts that explain it, the extremes' photos."""

    profile: DatasetProfile = field(default_factory=DatasetProfile)
    extremes: Extremes | None = None
    malformed_records: int = 0
    decode_failures: int = 0

    def merge(self, other: WindowProfile) -> None:
        self.profile.merge(other.profile)
        if self.extremes is not None and other.extremes is not None:
            self.extremes.merge(other.extremes)
        self.malformed_records += other.malformed_records
        self.decode_failures += other.decode_failures


@dataclass(frozen=True)
class ShardTask:
    shard: Shard
    window: TimeWindow
    confidence_threshold: float
    keep_photos: bool


def _batches(task: ShardTask) -> Iterator[tuple[list[Row], list[Thumbnail | None], int]]:
    rows: list[Row] = []
    thumbnails: list[Thumbnail | None] = []
    malformed = 0
    for event in read_shard_events(task.shard, task.window):
        row, thumbnail = extract(event, task.confidence_threshold)
        malformed += not event.complete or row["predicted_class"] is None
        rows.append(row)
        thumbnails.append(thumbnail)
        if len(rows) >= BATCH:
            add_view_statistics(rows, thumbnails)
            yield rows, thumbnails, malformed
            rows, thumbnails, malformed = [], [], 0
    if rows or malformed:
        add_view_statistics(rows, thumbnails)
        yield rows, thumbnails, malformed


def profile_shard(task: ShardTask) -> WindowProfile:
    """Stream one shard's records into a profile."""
    result = WindowProfile(extremes=Extremes() if task.keep_photos else None)
    for rows, thumbnails, malformed in _batches(task):
        for row in rows:
            result.profile.add(row)
        result.decode_failures += sum(row["decode_failure"] == 1 for row in rows)
        result.malformed_records += malformed
        if result.extremes is not None:
            result.extremes.add_batch(rows, thumbnails)
    return result


def _context() -> multiprocessing.context.BaseContext:
    # fork is cheap and safe here (no threads); elsewhere workers start fresh interpreters
    return multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")


def profile_window(
    dataset_source: Path,
    window: TimeWindow,
    confidence_threshold: float,
    *,
    keep_photos: bool,
    workers: int = 1,
    shard_bytes: int = DEFAULT_SHARD_BYTES,
) -> WindowProfile:
    """The window's profile from ``workers`` processes (one: in this process)."""
    tasks = [
        ShardTask(shard, window, confidence_threshold, keep_photos)
        for shard in plan_shards(capture_files(dataset_source, window), shard_bytes)
    ]
    total = WindowProfile(extremes=Extremes() if keep_photos else None)
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            total.merge(profile_shard(task))
        return total
    with _context().Pool(min(workers, len(tasks))) as pool:
        for part in pool.imap(profile_shard, tasks):
            total.merge(part)
    return total
