"""Model Monitor only for a scheduled AWS run whose hour just ended; the analyzer job everywhere else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from include.intervals import window
from include.runtime.aws.interval_analysis import ModelMonitorAnalysis
from include.runtime.capabilities import ANALYZER_JOB, MODEL_MONITOR
from include.runtime.local.interval_analysis import LocalIntervalAnalysis

NOW = datetime(2026, 3, 1, 11, 5, tzinfo=UTC)


def run(run_type: str, interval_end: datetime | None = datetime(2026, 3, 1, 11, tzinfo=UTC)) -> SimpleNamespace:
    return SimpleNamespace(run_type=run_type, data_interval_end=interval_end)


def test_scheduled_run_of_the_hour_just_ended_reads_model_monitor(aws_settings):
    assert ModelMonitorAnalysis(aws_settings).choose_path(run("scheduled"), NOW) == MODEL_MONITOR


def test_scheduled_run_of_an_old_hour_runs_the_analyzer(aws_settings):
    assert ModelMonitorAnalysis(aws_settings).choose_path(run("scheduled"), NOW + timedelta(hours=3)) == ANALYZER_JOB


def test_backfill_runs_the_analyzer(aws_settings):
    assert ModelMonitorAnalysis(aws_settings).choose_path(run("backfill"), NOW) == ANALYZER_JOB


def test_manual_run_runs_the_analyzer(aws_settings):
    assert ModelMonitorAnalysis(aws_settings).choose_path(run("manual"), NOW) == ANALYZER_JOB


def test_local_runtime_runs_the_analyzer(settings):
    with_model_monitor = settings.model_copy(
        update={"monitor": settings.monitor.model_copy(update={"use_model_monitor": True})})
    assert LocalIntervalAnalysis(with_model_monitor).choose_path(run("scheduled"), NOW) == ANALYZER_JOB


def test_aws_without_model_monitor_runs_the_analyzer(aws_settings):
    settings = aws_settings.model_copy(
        update={"monitor": aws_settings.monitor.model_copy(update={"use_model_monitor": False})})
    assert ModelMonitorAnalysis(settings).choose_path(run("scheduled"), NOW) == ANALYZER_JOB


def test_window_is_the_data_interval():
    start, end = datetime(2026, 3, 1, 10, tzinfo=UTC), datetime(2026, 3, 1, 11, tzinfo=UTC)
    assert window({"data_interval_start": start, "data_interval_end": end}) == (start, end)


def test_empty_data_interval_is_the_hour_before_the_trigger():
    tick = datetime(2026, 3, 1, 11, tzinfo=UTC)
    assert window({"data_interval_start": tick, "data_interval_end": tick}) == (tick - timedelta(hours=1), tick)
