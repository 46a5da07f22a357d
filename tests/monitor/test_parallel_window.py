"""Reading a window on several cores: shards cover every line once, and workers change nothing in the result."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from capture import TimeWindow, capture_files, plan_shards, read_events, read_shard_events
from sketch import KllSketch, WeightedSample

from .helpers import read, run
from .traffic import Profile, traffic, write_capture

SMALL_SHARDS = {"SCONES_ANALYZER_SHARD_BYTES": "20000"}


def event_ids(events) -> list[str]:
    return [event.output_text + str(event.inference_time) for event in events]


def test_shards_cover_every_line_exactly_once(tmp_path: Path) -> None:
    source = write_capture(tmp_path / "capture", traffic(120, seed=8))
    files = capture_files(source, TimeWindow())
    shards = plan_shards(files, 7_000)
    assert len(shards) > 10
    from_shards = [e for shard in shards for e in read_shard_events(shard, TimeWindow())]
    assert event_ids(from_shards) == event_ids(read_events(files, TimeWindow()))


def analyze_with(tmp_path: Path, source: Path, baseline: Path, name: str, workers: str) -> Path:
    import analyzer

    output = tmp_path / name
    environ = {"SCONES_MESSAGE_PATH": str(tmp_path / "message"), **SMALL_SHARDS}
    code = analyzer.main(["--dataset-source", str(source), "--output-path", str(output), "--workers", workers,
                          "--baseline-statistics", str(baseline / "statistics.json"),
                          "--baseline-constraints", str(baseline / "constraints.json")], environ)
    assert code == 0
    return output


def test_two_workers_write_the_same_report_files_as_one(tmp_path: Path) -> None:
    write_capture(tmp_path / "validation", traffic(200, seed=5))
    run(tmp_path, "--mode", "baseline", "--dataset-source", str(tmp_path / "validation"),
        "--output-path", str(tmp_path / "base"))
    source = write_capture(tmp_path / "capture", traffic(400, Profile(brightness=(40, 120)), seed=6))
    one = analyze_with(tmp_path, source, tmp_path / "base", "one", "1")
    two = analyze_with(tmp_path, source, tmp_path / "base", "two", "2")
    for name in ("statistics.json", "constraint_violations.json", "shifted_photos.png"):
        assert (one / name).read_bytes() == (two / name).read_bytes(), name
    assert read(one / "analysis_summary.json")["checks"] == read(two / "analysis_summary.json")["checks"]
    assert read(one / "statistics.json")["dataset"]["item_count"] == 400


def test_merged_sketches_keep_the_count_and_the_quantiles() -> None:
    rng = np.random.default_rng(2)
    values = rng.random(60_000)
    merged = KllSketch()
    for part in np.array_split(values, 6):
        sketch = KllSketch()
        sketch.add_many(part)
        merged.merge(sketch)
    sample = WeightedSample.from_levels(merged.levels())
    assert sample.total == 60_000
    assert abs(sample.cdf(np.array([0.25]))[0] - 0.25) < 0.01
    assert json.dumps(merged.to_json())  # still a Model Monitor kll sketch
