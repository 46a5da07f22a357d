"""The drift report: PNG plots and an index.html with every check, the violations and what they lead to."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import report
from report_plots import estimate_series, share_series
from report_timeline import Interval, timeline

from .helpers import iso, read, run
from .traffic import START, Profile, traffic, write_capture

PLOTS = ("estimated_accuracy_over_time.png", "class_share_over_time.png", "confidence_histogram.png",
         "feature_cdfs.png")
ACTIONS = {"baseline_drift_check": "retrain", "baseline_drift_check:width": "ignore",
           "baseline_drift_check:height": "ignore"}
# hours 0, 1 and 3 have traffic (hour 2 none at all), then the drifted hour 4 with larger photos
PROFILES = {0: Profile(), 1: Profile(motorcycle_share=0.6), 3: Profile(), 4: Profile(motorcycle_share=0.85)}


@pytest.fixture(scope="module")
def analysis(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("analysis")
    write_capture(root / "validation", traffic(200, seed=5))
    run(root, "--mode", "baseline", "--dataset-source", str(root / "validation"), "--output-path", str(root / "base"))
    for hour, profile in PROFILES.items():
        start = START + timedelta(hours=hour)
        lines = traffic(150, profile, start=start, seed=hour)
        if hour == 4:  # a camera with a different resolution: a width/height drift the settings ignore
            lines = traffic(150, Profile(motorcycle_share=0.85, size=(48, 40)), start=start, seed=hour)
        write_capture(root / f"capture{hour}", lines)
        run(root, "--dataset-source", str(root / f"capture{hour}"), "--output-path", str(root / f"interval{hour}"),
            "--baseline-statistics", str(root / "base" / "statistics.json"),
            "--baseline-constraints", str(root / "base" / "constraints.json"),
            "--start-time", iso(start), "--end-time", iso(start + timedelta(hours=1)))
    return root


@pytest.fixture(scope="module")
def rendered(analysis: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("report")
    code = report.main([
        "--statistics", str(analysis / "interval4" / "statistics.json"),
        "--baseline-statistics", str(analysis / "base" / "statistics.json"),
        "--violations", str(analysis / "interval4" / "constraint_violations.json"),
        "--history", *(str(analysis / f"interval{hour}" / "statistics.json") for hour in (0, 1, 3)),
        "--actions", json.dumps(ACTIONS),
        "--shifted-photos", str(analysis / "interval4" / "shifted_photos.png"),
        "--output-dir", str(output),
    ])
    assert code == 0
    return output


def page(rendered: Path) -> str:
    return (rendered / "index.html").read_text()


def test_report_writes_non_empty_pngs(rendered: Path) -> None:
    for name in (*PLOTS, "shifted_photos.png"):
        assert (rendered / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_index_embeds_every_plot_and_the_most_shifted_photos(rendered: Path) -> None:
    index = page(rendered)
    assert all(f'src="{name}"' in index for name in PLOTS)
    assert "src='shifted_photos.png'" in index


def test_index_lists_each_violation(analysis: Path, rendered: Path) -> None:
    found = read(analysis / "interval4" / "constraint_violations.json")["violations"]
    assert found
    assert all(v["description"] in page(rendered) for v in found)


def test_ignored_checks_are_shown_as_ignored_not_among_the_acted_on(analysis: Path, rendered: Path) -> None:
    found = read(analysis / "interval4" / "constraint_violations.json")["violations"]
    ignored = [v for v in found if v["feature_name"] in ("width", "height")]
    assert ignored
    index = page(rendered)
    assert f"{len(found) - len(ignored)} acted on, {len(ignored)} ignored" in index
    assert "violation, ignored (baseline_drift_check:width = ignore)" in index


def test_each_check_is_stated_with_its_test_and_threshold(rendered: Path) -> None:
    index = page(rendered)
    assert "<td>motorcycle_probability</td><td>KS test</td>" in index
    assert "fires when p &lt; 0.001 (alpha 0.005 / 5 tests)" in index
    assert "fires when &gt; 0.1 and &gt; chance bound" in index
    assert "<td>estimated_accuracy</td><td>estimated accuracy</td>" in index


def intervals(analysis: Path, hours: tuple[int, ...]) -> list[Interval]:
    return [Interval(str(hour), read(analysis / f"interval{hour}" / "statistics.json"),
                     read(analysis / f"interval{hour}" / "analysis_summary.json")) for hour in hours]


def test_an_hour_without_traffic_is_a_gap_on_the_time_axis(analysis: Path) -> None:
    slots = timeline(intervals(analysis, (0, 1, 3, 4)))
    assert [slot.has_traffic for slot in slots] == [True, True, False, True, True]
    assert share_series(slots, "bicycle")[2] is None
    assert estimate_series(slots)[2] is None


def test_an_analysed_hour_with_zero_records_is_a_gap_not_a_zero_share(analysis: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    start = START + timedelta(hours=2)
    run(tmp_path, "--dataset-source", str(tmp_path / "empty"), "--output-path", str(tmp_path / "interval2"),
        "--start-time", iso(start), "--end-time", iso(start + timedelta(hours=1)))
    empty = Interval("2", read(tmp_path / "interval2" / "statistics.json"),
                     read(tmp_path / "interval2" / "analysis_summary.json"))
    slots = timeline([*intervals(analysis, (0, 1)), empty, *intervals(analysis, (3,))])
    assert [slot.has_traffic for slot in slots] == [True, True, False, True]
    assert share_series(slots, "motorcycle")[2] is None


def test_report_without_baseline_still_plots(analysis: Path, tmp_path: Path) -> None:
    index = report.write_report(read(analysis / "interval0" / "statistics.json"), None, [], tmp_path)
    assert "No violations." in index.read_text()
    assert (tmp_path / "feature_cdfs.png").stat().st_size > 0
