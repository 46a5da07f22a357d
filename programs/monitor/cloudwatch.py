"""CloudWatch metrics for Model Monitor custom containers (written when publishing is enabled).

Model Monitor picks up JSON lines from ``/opt/ml/output/metrics/cloudwatch`` and publishes each
``MetricData`` entry under ``Namespace`` with the schedule's metadata.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

NAMESPACE = "aws/sagemaker/Endpoints/data-metrics"


def metric_lines(
    drift_distances: Mapping[str, float],
    completeness: Mapping[str, float],
    environ: Mapping[str, str],
    p_values: Mapping[str, float] | None = None,
    estimated_accuracy: float | None = None,
) -> list[dict]:
    """One metrics document with drift, KS p-value and completeness per feature, and the estimated accuracy."""
    endpoint = environ.get("sagemaker_endpoint_name") or environ.get("endpoint_name", "")
    schedule = environ.get("sagemaker_monitoring_schedule_name", "")
    timestamp = environ.get("metric_time") or environ.get("end_time", "")
    dimensions = [{"Name": "Endpoint", "Value": endpoint}, {"Name": "MonitoringSchedule", "Value": schedule}]
    data = [
        {
            "MetricName": f"feature_baseline_drift_{name}",
            "Timestamp": timestamp,
            "Dimensions": dimensions,
            "Value": value,
            "Unit": "None",
        }
        for name, value in sorted(drift_distances.items())
    ] + [
        {
            "MetricName": f"feature_non_null_{name}",
            "Timestamp": timestamp,
            "Dimensions": dimensions,
            "Value": value,
            "Unit": "None",
        }
        for name, value in sorted(completeness.items())
    ] + [
        {
            "MetricName": f"feature_ks_p_value_{name}",
            "Timestamp": timestamp,
            "Dimensions": dimensions,
            "Value": value,
            "Unit": "None",
        }
        for name, value in sorted((p_values or {}).items())
    ]
    if estimated_accuracy is not None:
        data.append({"MetricName": "estimated_accuracy", "Timestamp": timestamp, "Dimensions": dimensions,
                     "Value": estimated_accuracy, "Unit": "None"})
    metadata = {
        "Endpoint": endpoint,
        "Schedule": schedule,
        "Variant": environ.get("sagemaker_variant_name", ""),
    }
    return [{"Metadata": metadata, "Namespace": NAMESPACE, "MetricData": data}] if data else []


def write_metrics(directory: Path, lines: list[dict]) -> Path | None:
    """Write the metric documents as ``metrics.jsonl``; nothing when there are none."""
    if not lines:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "metrics.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path
