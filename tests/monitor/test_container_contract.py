"""The Model Monitor BYOC contract: environment in, report files and /opt/ml/output/message out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .conftest import MONITOR_SOURCE
from .helpers import read, run, violations
from .traffic import Profile, traffic, write_capture

DATASET_FORMAT = json.dumps({"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}})


def byoc_environment(tmp_path: Path) -> dict[str, str]:
    baseline_source = write_capture(tmp_path / "validation", traffic(200, seed=5))
    run(
        tmp_path,
        "--mode",
        "baseline",
        "--dataset-source",
        str(baseline_source),
        "--output-path",
        str(tmp_path / "baseline"),
    )
    source = write_capture(tmp_path / "endpoint", traffic(200, Profile(motorcycle_share=0.9), seed=6))
    return {
        "PATH": os.environ.get("PATH", ""),
        "dataset_format": DATASET_FORMAT,
        "dataset_source": str(source),
        "output_path": str(tmp_path / "resultdata"),
        "baseline_statistics": str(tmp_path / "baseline" / "statistics.json"),
        "baseline_constraints": str(tmp_path / "baseline" / "constraints.json"),
        "start_time": "2026-01-01T10:00:00Z",
        "end_time": "2026-01-01T11:00:00Z",
        "sagemaker_endpoint_name": "scones-endpoint",
        "publish_cloudwatch_metrics": "Enabled",
        "SCONES_MESSAGE_PATH": str(tmp_path / "output" / "message"),
        "SCONES_METRICS_DIR": str(tmp_path / "output" / "metrics" / "cloudwatch"),
    }


def run_container(environment: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(MONITOR_SOURCE / "analyzer.py")],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_environment_only_run_writes_violations_and_message(tmp_path: Path) -> None:
    environment = byoc_environment(tmp_path)
    result = run_container(environment)
    assert result.returncode == 0, result.stderr
    found = violations(tmp_path / "resultdata")
    assert found
    message = (tmp_path / "output" / "message").read_text()
    assert message == f"CompletedWithViolations: Job completed successfully with {len(found)} violations."


def test_environment_only_run_publishes_cloudwatch_metrics(tmp_path: Path) -> None:
    result = run_container(byoc_environment(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "output" / "metrics" / "cloudwatch" / "metrics.jsonl").read_text().splitlines()
    names = {metric["MetricName"] for metric in json.loads(lines[0])["MetricData"]}
    assert "feature_baseline_drift_predicted_class" in names
    assert {"feature_ks_p_value_brightness", "estimated_accuracy"} <= names


def test_arguments_override_the_environment(tmp_path: Path) -> None:
    environment = byoc_environment(tmp_path)
    other = tmp_path / "elsewhere"
    result = subprocess.run(
        [sys.executable, str(MONITOR_SOURCE / "analyzer.py"), "--output-path", str(other)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (other / "constraint_violations.json").is_file()


def test_unreadable_baseline_fails_with_a_named_error(tmp_path: Path) -> None:
    environment = byoc_environment(tmp_path)
    Path(environment["baseline_statistics"]).write_text("{broken")
    result = run_container(environment)
    assert result.returncode == 1
    assert "baseline_statistics file" in result.stderr


def test_failure_is_reported_in_the_message_file(tmp_path: Path) -> None:
    environment = byoc_environment(tmp_path)
    environment["baseline_constraints"] = str(tmp_path / "missing.json")
    run_container(environment)
    assert (tmp_path / "output" / "message").read_text().startswith("Failed: baseline_constraints file")


def test_tabular_dataset_format_is_rejected_by_name(tmp_path: Path) -> None:
    environment = byoc_environment(tmp_path)
    environment["dataset_format"] = json.dumps({"csv": {"header": True}})
    result = run_container(environment)
    assert result.returncode == 1
    assert "dataset_format" in result.stderr


def test_summary_records_the_window(tmp_path: Path) -> None:
    run_container(byoc_environment(tmp_path))
    summary = read(tmp_path / "resultdata" / "analysis_summary.json")
    assert (summary["start_time"], summary["end_time"]) == ("2026-01-01T10:00:00+00:00", "2026-01-01T11:00:00+00:00")
