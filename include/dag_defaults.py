"""What every Scones DAG shares: owner, retries, start date, failure alerts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum

from include.settings import Settings

START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")
TAGS = ["scones"]


def default_args(settings: Settings) -> dict[str, Any]:
    args: dict[str, Any] = {
        "owner": settings.owner,
        "retries": 2,
        "retry_delay": timedelta(seconds=max(settings.poll_interval_seconds, 1) * 2),
        "retry_exponential_backoff": True,
    }
    if settings.alerts_topic_arn:
        from airflow.providers.amazon.aws.notifications.sns import SnsNotifier

        args["on_failure_callback"] = SnsNotifier(
            aws_conn_id=settings.aws_conn_id,
            region_name=settings.region,
            target_arn=settings.alerts_topic_arn,
            subject="Scones task failed: {{ dag.dag_id }}.{{ ti.task_id }}",
            message="Run {{ run_id }}, try {{ ti.try_number }}: {{ exception }}\nLog: {{ ti.log_url }}",
        )
    return args
