"""The ``aws`` runtime's photo arrivals: S3 event notifications on an SQS queue, read by the SQS trigger.

The bucket notifies the queue of every object created under ``incoming/photos/`` (the CloudFormation
template). The Amazon provider's ``SqsSensorTrigger`` — a ``BaseEventTrigger``, the trigger that the
common-messaging provider's ``MessageQueueTrigger(scheme="sqs")`` wraps — long-polls it as the arrival
asset's watcher. Its defaults (one receive of 5 messages, then 60 s asleep) would keep a courier waiting
a minute; the ``[events]`` settings make it long-poll ``wait_seconds``, take up to ``batches`` receives of
``max_messages`` (10, SQS's maximum) and pause ``poll_seconds`` after an empty poll. Messages are deleted
on reception; a photo whose event is lost is still routed by the hourly run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.triggers.base import BaseEventTrigger

    from include.settings import Settings


class SqsPhotoEvents:
    """The arrival watcher's trigger over the SQS queue."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def arrival_trigger(self) -> BaseEventTrigger:
        from airflow.providers.amazon.aws.triggers.sqs import SqsSensorTrigger

        events = self.settings.events
        return SqsSensorTrigger(sqs_queue=events.queue_url, aws_conn_id=self.settings.aws_conn_id,
                                region_name=self.settings.region, max_messages=events.max_messages,
                                num_batches=events.batches, wait_time_seconds=events.wait_seconds,
                                waiter_delay=events.poll_seconds, delete_message_on_reception=True)

    def acknowledge(self, messages: list[dict]) -> int:
        """Nothing to do: the SQS trigger deleted the messages when it received them."""
        return 0
