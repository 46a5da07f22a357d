"""A run that misses its deadline is announced through the runtime's alerts."""

from __future__ import annotations

import asyncio

from include.runtime.local.alerts import read_alerts
from include.workflows.deadlines import alert_missed_deadline

CONTEXT = {  # what the scheduler hands a Deadline Alert's callback
    "dag_run": {"dag_id": "scones_inference", "dag_run_id": "scheduled__2026-03-01T10:00:00+00:00",
                "state": "running", "data_interval_start": "2026-03-01T10:00:00Z",
                "data_interval_end": "2026-03-01T11:00:00Z"},
    "deadline": {"id": "d-1", "deadline_time": "2026-03-01T11:45:00Z"},
}


def test_a_missed_deadline_sends_one_alert_naming_the_run(settings):
    asyncio.run(alert_missed_deadline(context=CONTEXT, limit_minutes=45))
    [sent] = read_alerts(settings)
    assert sent["subject"] == "Scones deadline missed: scones_inference"
    assert "scheduled__2026-03-01T10:00:00+00:00" in sent["message"] and "45 minutes" in sent["message"]
