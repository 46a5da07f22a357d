"""Where monitoring's files live: capture, results, reports, history, retrain claims, incidents, the schedule's name."""

from __future__ import annotations

from include.run_keys import SAGEMAKER_NAME_MAX, sanitise
from include.settings import Settings

VIOLATIONS_FILE = "constraint_violations.json"
SUMMARY_FILE = "analysis_summary.json"


def capture_prefix(settings: Settings) -> str:
    """``s3://bucket/<capture>/<endpoint>/<variant>/``: where Data Capture writes the endpoint's traffic."""
    return settings.s3_uri(settings.prefixes.capture, settings.deploy.endpoint_name, settings.deploy.variant_name) + "/"


def monitoring_prefix(settings: Settings, *parts: str) -> str:
    return settings.s3_uri(settings.prefixes.monitoring, settings.deploy.endpoint_name, *parts)


def analysis_output_uri(settings: Settings, run_key: str) -> str:
    return monitoring_prefix(settings, run_key, "result") + "/"


def report_prefix(settings: Settings, run_key: str) -> str:
    return monitoring_prefix(settings, run_key, "report") + "/"


def history_prefix(settings: Settings) -> str:
    """Every analysed interval's statistics, keyed by interval start: the report's "over time" plot."""
    return monitoring_prefix(settings, "history") + "/"


def retrain_claims_uri(settings: Settings) -> str:
    """The retrains monitor runs claimed (the cooldown reads them); replaced only by conditional writes."""
    return monitoring_prefix(settings, "retrain_claims.json")


def incident_uri(settings: Settings, interval_key: str) -> str:
    """What an interval's drift looked like (its violation set), so the next interval knows an ongoing incident."""
    return monitoring_prefix(settings, "incidents", f"{interval_key}.json")


def schedule_name(settings: Settings) -> str:
    return sanitise(f"scones-monitor-{settings.deploy.endpoint_name}", SAGEMAKER_NAME_MAX)


def model_monitor_output_uri(settings: Settings) -> str:
    return monitoring_prefix(settings, "model-monitor") + "/"
