"""The ``aws`` runtime's alerts: the SNS topic of ``alerts_topic_arn`` (nothing is sent when it is empty)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from include.settings import Settings

LOG = logging.getLogger(__name__)
SNS_SUBJECT_MAX = 100


class SnsAlerts:
    """:class:`~include.runtime.capabilities.Alerts` on Amazon SNS."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def publish(self, subject: str, message: str) -> None:
        if not self.settings.alerts_topic_arn:
            LOG.info("alerts_topic_arn is empty: alert not sent (%s)", subject)
            return
        from airflow.providers.amazon.aws.hooks.sns import SnsHook

        SnsHook(aws_conn_id=self.settings.aws_conn_id, region_name=self.settings.region).publish_to_target(
            target_arn=self.settings.alerts_topic_arn, message=message, subject=subject[:SNS_SUBJECT_MAX])

    def failure_callback(self) -> Callable[..., Any] | None:
        """The provider's SNS notifier for failed tasks, when a topic is configured."""
        if not self.settings.alerts_topic_arn:
            return None
        from airflow.providers.amazon.aws.notifications.sns import SnsNotifier

        return SnsNotifier(
            aws_conn_id=self.settings.aws_conn_id,
            region_name=self.settings.region,
            target_arn=self.settings.alerts_topic_arn,
            subject="Scones task failed: {{ dag.dag_id }}.{{ ti.task_id }}",
            message="Run {{ run_id }}, try {{ ti.try_number }}: {{ exception }}\nLog: {{ ti.log_url }}",
        )
