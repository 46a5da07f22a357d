"""The ``local`` runtime's photo arrivals: S3 event notifications on disk, read by an event trigger.

The object store and the local S3 endpoint send an S3 event notification for every photo created under
``incoming/photos/`` to the local queue named like the AWS one (see :mod:`.notifications`);
:class:`LocalQueueTrigger`, run by the triggerer as the arrival asset's watcher, configures that
notification when it starts and hands the messages on in the SQS trigger's event shape
(``{"status": "success", "message_batch": [...]}``), so the arrival DAG reads them the same way in both
runtimes; the run acknowledges (deletes) them once it has read them. Light on purpose: the triggerer
imports it (standard library and Airflow's trigger base only).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from include.runtime.local.notifications import LocalQueue, photo_queue_configuration, put_bucket_notification

if TYPE_CHECKING:
    from include.settings import Settings


class LocalQueueTrigger(BaseEventTrigger):
    """Fires with up to ``batches`` x ``max_messages`` queue messages whenever the local queue has any.

    A message stays in flight until the run that reads it acknowledges it (:meth:`LocalPhotoEvents.acknowledge`);
    one not acknowledged within ``visibility_seconds`` is delivered again. That covers a triggerer stopped
    between receiving and firing, and an asset event that started no run: Airflow's scheduler can drop the
    queue entry of an event registered while it creates the previous run, and the event then waits for the
    next one; the redelivery is that next one.
    """

    def __init__(self, data_root: str, queue: str, bucket: str, prefix: str, max_messages: int = 10,
                 batches: int = 5, poll_seconds: float = 1.0, visibility_seconds: float = 30.0) -> None:
        super().__init__()
        self.visibility_seconds = visibility_seconds
        self.data_root = data_root
        self.queue = queue
        self.bucket = bucket
        self.prefix = prefix
        self.max_messages = max_messages
        self.batches = batches
        self.poll_seconds = poll_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (f"{type(self).__module__}.{type(self).__qualname__}", {
            "data_root": self.data_root, "queue": self.queue, "bucket": self.bucket, "prefix": self.prefix,
            "max_messages": self.max_messages, "batches": self.batches, "poll_seconds": self.poll_seconds,
            "visibility_seconds": self.visibility_seconds})

    def _receive(self, queue: LocalQueue) -> list[dict]:
        messages: list[dict] = []
        for _ in range(self.batches):
            received = queue.receive(self.max_messages)
            messages.extend(received)
            if len(received) < self.max_messages:
                break
        return messages

    async def run(self) -> AsyncIterator[TriggerEvent]:
        root = Path(self.data_root)
        if put_bucket_notification(root, self.bucket, photo_queue_configuration(self.queue, self.prefix)):
            self.log.info("Bucket %s now notifies queue %s of photos created under %s", self.bucket, self.queue,
                          self.prefix)
        queue = LocalQueue(root, self.queue)
        redelivered = queue.redeliver()
        if redelivered:
            self.log.info("%d messages received before a restart and never deleted are delivered again", redelivered)
        while True:
            unacknowledged = queue.redeliver(older_than=self.visibility_seconds)
            if unacknowledged:
                self.log.info("%d messages no run acknowledged in %.0f s are delivered again", unacknowledged,
                              self.visibility_seconds)
            messages = await asyncio.to_thread(self._receive, queue)
            if not messages:
                await asyncio.sleep(self.poll_seconds)
                continue
            self.log.info("Received %d messages from local queue %s", len(messages), self.queue)
            yield TriggerEvent({"status": "success", "message_batch": messages})


class LocalPhotoEvents:
    """The arrival watcher's trigger over the local queue."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def arrival_trigger(self) -> BaseEventTrigger:
        settings, events = self.settings, self.settings.events
        return LocalQueueTrigger(data_root=str(settings.data_root), queue=queue_name(settings.events.queue_url),
                                 bucket=settings.bucket, prefix=settings.prefixes.incoming_photos + "/",
                                 max_messages=events.max_messages, batches=events.batches,
                                 poll_seconds=events.poll_seconds, visibility_seconds=events.visibility_seconds)

    def acknowledge(self, messages: list[dict]) -> int:
        """Delete the messages a run has read (their receipt handles name them in the queue's in-flight folder)."""
        queue = LocalQueue(self.settings.data_root, queue_name(self.settings.events.queue_url))
        handles = [message["ReceiptHandle"] for message in messages if message.get("ReceiptHandle")]
        for handle in handles:
            queue.delete(handle)
        return len(handles)


def queue_name(queue_url: str) -> str:
    """The queue's name, the last segment of its URL: the local queue is named like the AWS one."""
    return queue_url.rstrip("/").rsplit("/", 1)[-1]
