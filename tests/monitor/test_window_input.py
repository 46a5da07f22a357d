"""Reading a window: empty windows, malformed lines, undecodable images, time filtering."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path

from .helpers import checks_by_feature, iso, read, run, violations
from .traffic import START, capture_record, png_bytes, traffic, write_capture


def analyze(tmp_path: Path, source: Path, *extra: str, baseline: Path | None = None) -> Path:
    output = tmp_path / "result"
    args = ["--dataset-source", str(source), "--output-path", str(output), *extra]
    if baseline is not None:
        args += [
            "--baseline-statistics",
            str(baseline / "statistics.json"),
            "--baseline-constraints",
            str(baseline / "constraints.json"),
        ]
    assert run(tmp_path, *args) == 0
    return output


def make_baseline(tmp_path: Path) -> Path:
    source = write_capture(tmp_path / "validation", traffic(200, seed=5))
    run(tmp_path, "--mode", "baseline", "--dataset-source", str(source), "--output-path", str(tmp_path / "base"))
    return tmp_path / "base"


def feature(output: Path, name: str) -> dict:
    return next(f for f in read(output / "statistics.json")["features"] if f["name"] == name)


def test_empty_window_writes_zero_item_statistics(tmp_path: Path) -> None:
    (tmp_path / "capture").mkdir()
    output = analyze(tmp_path, tmp_path / "capture", baseline=make_baseline(tmp_path))
    assert read(output / "statistics.json")["dataset"]["item_count"] == 0


def test_empty_window_has_no_violations_and_says_no_traffic(tmp_path: Path, capsys) -> None:
    (tmp_path / "capture").mkdir()
    output = analyze(tmp_path, tmp_path / "capture", baseline=make_baseline(tmp_path))
    assert violations(output) == []
    assert "no traffic" in capsys.readouterr().out


def test_malformed_lines_are_counted_not_fatal(tmp_path: Path) -> None:
    lines = [*traffic(50, seed=3), (START, "{not json"), (START, json.dumps({"captureData": {}}))]
    output = analyze(tmp_path, write_capture(tmp_path / "capture", lines))
    assert read(output / "analysis_summary.json")["malformed_records"] == 2
    assert read(output / "statistics.json")["dataset"]["item_count"] == 52


def test_malformed_lines_show_as_missing_confidence(tmp_path: Path) -> None:
    lines = [*traffic(50, seed=3), (START, "{not json")]
    common = feature(analyze(tmp_path, write_capture(tmp_path / "capture", lines)), "confidence")
    assert common["numerical_statistics"]["common"] == {"num_present": 50, "num_missing": 1}


def test_malformed_lines_raise_completeness_violations_naming_the_count(tmp_path: Path) -> None:
    baseline = make_baseline(tmp_path)
    lines = traffic(50, seed=3) + [(START, "{not json")] * 3
    output = analyze(tmp_path, write_capture(tmp_path / "capture", lines), baseline=baseline)
    completeness = [v for v in violations(output) if v["constraint_check_type"] == "completeness_check"]
    assert {v["feature_name"] for v in completeness} >= {"predicted_class", "confidence", "brightness"}
    assert all("3 malformed capture records" in v["description"] for v in completeness)


def test_undecodable_images_set_decode_failure(tmp_path: Path) -> None:
    broken = capture_record(b"this is not an image", [0.1, 0.9], START)
    lines = [*traffic(20, seed=3), (START, json.dumps(broken))]
    decode = feature(analyze(tmp_path, write_capture(tmp_path / "capture", lines)), "decode_failure")
    assert decode["numerical_statistics"]["sum"] == 1


def test_undecodable_images_leave_image_features_missing(tmp_path: Path) -> None:
    broken = capture_record(b"this is not an image", [0.1, 0.9], START)
    lines = [*traffic(20, seed=3), (START, json.dumps(broken))]
    brightness = feature(analyze(tmp_path, write_capture(tmp_path / "capture", lines)), "brightness")
    assert brightness["numerical_statistics"]["common"]["num_missing"] == 1


def test_base64_encoded_output_is_read(tmp_path: Path) -> None:
    record = capture_record(png_bytes(120, seed=1), [0.2, 0.8], START, output_base64=True)
    output = analyze(tmp_path, write_capture(tmp_path / "capture", [(START, json.dumps(record))]))
    buckets = feature(output, "predicted_class")["string_statistics"]["distribution"]["categorical"]["buckets"]
    assert buckets == [{"value": "motorcycle", "count": 1}]


def test_records_outside_the_window_are_excluded(tmp_path: Path) -> None:
    lines = traffic(7200, start=START, spacing_seconds=1.5, seed=4)[::40]
    source = write_capture(tmp_path / "capture", lines)
    start, end = START + timedelta(minutes=30), START + timedelta(hours=1, minutes=30)
    expected = sum(start <= when < end for when, _ in lines)
    output = analyze(tmp_path, source, "--start-time", iso(start), "--end-time", iso(end))
    assert read(output / "statistics.json")["dataset"]["item_count"] == expected


def test_window_end_is_exclusive(tmp_path: Path) -> None:
    lines = traffic(3, start=START, spacing_seconds=60, seed=4)
    end = START + timedelta(minutes=2)
    output = analyze(
        tmp_path, write_capture(tmp_path / "capture", lines), "--start-time", iso(START), "--end-time", iso(end)
    )
    assert read(output / "statistics.json")["dataset"]["item_count"] == 2


def test_malformed_lines_in_hour_folders_outside_the_window_are_ignored(tmp_path: Path) -> None:
    later = START + timedelta(hours=5)
    source = write_capture(tmp_path / "capture", [*traffic(5, seed=4), (later, "{not json")])
    output = analyze(tmp_path, source, "--start-time", iso(START), "--end-time", iso(START + timedelta(hours=1)))
    assert read(output / "analysis_summary.json")["malformed_records"] == 0


def test_a_corrupt_file_is_counted_by_the_one_window_it_was_written_in(tmp_path: Path) -> None:
    source = write_capture(tmp_path / "capture", traffic(5, seed=4))
    hour = next(source.rglob("*.jsonl")).parent
    (hour / "40-05-000-corrupt.jsonl").write_text("{not json\n{{{\n")
    halves = [(START, START + timedelta(minutes=30)), (START + timedelta(minutes=30), START + timedelta(hours=1))]
    counted = []
    for number, (start, end) in enumerate(halves):
        output = analyze(tmp_path / str(number), source, "--start-time", iso(start), "--end-time", iso(end))
        counted.append(read(output / "analysis_summary.json")["malformed_records"])
    assert counted == [0, 2]


def test_undecodable_image_raises_completeness_on_image_features_only(tmp_path: Path) -> None:
    baseline = make_baseline(tmp_path)
    broken = capture_record(base64.b64encode(b"junk"), [0.1, 0.9], START)
    lines = [*traffic(100, seed=3), (START, json.dumps(broken))]
    output = analyze(tmp_path, write_capture(tmp_path / "capture", lines), baseline=baseline)
    assert checks_by_feature(output, "completeness_check") == {
        "brightness",
        "contrast",
        "saturation",
        "width",
        "height",
    }
