"""An interval's result, read the same way whichever path analysed it."""

from __future__ import annotations

import json

from include.builders.monitoring import STATISTICS_FILE
from include.runtime.capabilities import MonitoringExecutionError
from include.storage import ObjectNotFoundError, ObjectStore
from include.workflows.monitoring.analysis import job_output_uri
from include.workflows.monitoring.layout import SUMMARY_FILE, VIOLATIONS_FILE


def _json(store: ObjectStore, uri: str) -> dict:
    return json.loads(store.get_bytes(uri))


def no_traffic_result() -> dict:
    return {"output_uri": None, "violations": [], "no_traffic": True, "item_count": 0}


def read_interval_result(store: ObjectStore, output_uri: str) -> dict:
    """``{"output_uri", "violations", "no_traffic", "item_count"}`` from an analysis's result folder."""
    folder = output_uri.rstrip("/") + "/"
    try:
        violations = _json(store, folder + VIOLATIONS_FILE).get("violations", [])
    except ObjectNotFoundError as exc:
        raise ObjectNotFoundError(f"no {VIOLATIONS_FILE} in {folder}: the analysis did not finish; "
                                  "clear the run's analysis task to analyse the window again") from exc
    try:
        item_count = int(_json(store, folder + SUMMARY_FILE)["item_count"])
    except ObjectNotFoundError:
        item_count = int(_json(store, folder + STATISTICS_FILE)["dataset"]["item_count"])
    return {"output_uri": folder, "violations": violations, "no_traffic": item_count == 0, "item_count": item_count}


def interval_result(store: ObjectStore, *, execution: dict | None, analysis_job: dict | None,
                    capture_hours: list[str] | None) -> dict:
    """The interval's result from whichever path ran: Model Monitor, the analyzer job, or no capture at all."""
    if execution is not None:
        return no_traffic_result() if execution["no_traffic"] else read_interval_result(store, execution["output_uri"])
    if analysis_job is not None:
        return read_interval_result(store, job_output_uri(analysis_job))
    if capture_hours == []:
        return no_traffic_result()
    raise MonitoringExecutionError("no analysis result for this interval: clear the run to analyse it again")
