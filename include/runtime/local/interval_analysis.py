"""The ``local`` runtime's interval analysis: always the analyzer as a (local) Processing job.

There is no Model Monitor on this machine; the analyzer it would run is the same program the job runs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from include.runtime.capabilities import ANALYZER_JOB, AnalysisPath, CapabilityUnavailableError
from include.settings import Settings

NO_MODEL_MONITOR = ("the local runtime has no Model Monitor schedule; it analyses every window with the analyzer "
                    "job (monitor.use_model_monitor applies to the aws runtime only)")


class LocalIntervalAnalysis:
    """:class:`~include.runtime.capabilities.IntervalAnalysis` on this machine."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def choose_path(self, dag_run: Any, now: datetime) -> AnalysisPath:
        return ANALYZER_JOB

    def ensure_schedule(self, request: dict) -> dict:
        raise CapabilityUnavailableError(NO_MODEL_MONITOR)

    def poll_interval_execution(self, schedule: dict, start: datetime, end: datetime) -> dict | None:
        raise CapabilityUnavailableError(NO_MODEL_MONITOR)
