"""The drift report: PNG plots and an index.html that shows them with the violations."""

from __future__ import annotations

from pathlib import Path

import pytest
import report

from .helpers import read, run
from .traffic import Profile, traffic, write_capture

PLOTS = ("confidence_histogram.png", "class_share_over_time.png", "feature_cdfs.png")


@pytest.fixture(scope="module")
def analysis(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("analysis")
    write_capture(root / "validation", traffic(200, seed=5))
    run(root, "--mode", "baseline", "--dataset-source", str(root / "validation"), "--output-path", str(root / "base"))
    for hour, share in enumerate((0.5, 0.6, 0.8)):
        write_capture(root / f"capture{hour}", traffic(150, Profile(motorcycle_share=share), seed=hour))
        run(
            root,
            "--dataset-source",
            str(root / f"capture{hour}"),
            "--output-path",
            str(root / f"interval{hour}"),
            "--baseline-statistics",
            str(root / "base" / "statistics.json"),
            "--baseline-constraints",
            str(root / "base" / "constraints.json"),
        )
    return root


def render(analysis: Path, output: Path) -> int:
    return report.main(
        [
            "--statistics",
            str(analysis / "interval2" / "statistics.json"),
            "--baseline-statistics",
            str(analysis / "base" / "statistics.json"),
            "--violations",
            str(analysis / "interval2" / "constraint_violations.json"),
            "--history",
            str(analysis / "interval0" / "statistics.json"),
            str(analysis / "interval1" / "statistics.json"),
            "--output-dir",
            str(output),
        ]
    )


def test_report_writes_non_empty_pngs(analysis: Path, tmp_path: Path) -> None:
    assert render(analysis, tmp_path) == 0
    for name in PLOTS:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_index_embeds_every_plot(analysis: Path, tmp_path: Path) -> None:
    render(analysis, tmp_path)
    index = (tmp_path / "index.html").read_text()
    assert all(f'src="{name}"' in index for name in PLOTS)


def test_index_lists_each_violation(analysis: Path, tmp_path: Path) -> None:
    render(analysis, tmp_path)
    index = (tmp_path / "index.html").read_text()
    found = read(analysis / "interval2" / "constraint_violations.json")["violations"]
    assert found
    assert f"Violations ({len(found)})" in index
    assert all(v["description"] in index for v in found)


def test_report_without_baseline_still_plots(analysis: Path, tmp_path: Path) -> None:
    index = report.write_report(read(analysis / "interval0" / "statistics.json"), None, [], tmp_path)
    assert "No violations." in index.read_text()
    assert (tmp_path / "feature_cdfs.png").stat().st_size > 0
