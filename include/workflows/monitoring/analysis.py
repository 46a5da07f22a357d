"""The requests that analyse a window: the analyzer job over its capture hours, or the Model Monitor schedule."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from include.builders.monitoring import EmbeddingInputs, analysis_request, monitoring_schedule_request
from include.code_bundle import upload_program
from include.intervals import interval_hours
from include.settings import Settings
from include.storage import ObjectStore
from include.workflows.monitoring.layout import (
    analysis_output_uri,
    capture_prefix,
    model_monitor_output_uri,
    schedule_name,
)

CAPTURE_MARGIN = timedelta(hours=1)


def capture_hour_prefixes(settings: Settings, store: ObjectStore, start: datetime, end: datetime) -> list[str]:
    """Capture hour folders that hold files, from the hour before the window to the hour after it.

    A record's hour folder can trail or lead its inference time at an hour boundary; the
    analyzer keeps only records inside the window, with the same one-hour margin.
    """
    base = capture_prefix(settings)
    prefixes = []
    for hour in interval_hours(start - CAPTURE_MARGIN, end + CAPTURE_MARGIN):
        prefix = f"{base}{hour:%Y/%m/%d/%H}/"
        if any(info.uri.endswith(".jsonl") for info in store.list(prefix)):
            prefixes.append(prefix)
    return prefixes


def build_analysis_request(settings: Settings, store: ObjectStore, *, run_key: str, job_name: str,
                           capture_uris: list[str], baseline_uri: str, start: datetime, end: datetime,
                           embedding: EmbeddingInputs | None = None) -> dict:
    return analysis_request(
        settings, run_key=run_key, job_name=job_name, code_uri=upload_program(settings, store, "monitor"),
        capture_uris=capture_uris, baseline_uri=baseline_uri, start=start, end=end,
        output_uri=analysis_output_uri(settings, run_key), embedding=embedding,
    )


def job_output_uri(job_result: Mapping[str, Any]) -> str:
    """The result folder of a finished analyzer job (``{"Processing": <DescribeProcessingJob>}``)."""
    outputs = job_result["Processing"]["ProcessingOutputConfig"]["Outputs"]
    return outputs[0]["S3Output"]["S3Uri"].rstrip("/") + "/"


def build_schedule_request(settings: Settings, baseline_uri: str, embedding: EmbeddingInputs | None = None) -> dict:
    return monitoring_schedule_request(settings, schedule_name=schedule_name(settings), baseline_uri=baseline_uri,
                                       output_uri=model_monitor_output_uri(settings), embedding=embedding)
