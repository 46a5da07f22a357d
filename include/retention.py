"""How long courier photos, and everything derived from them, are kept: one rule per prefix, from ``[retention]``.

Courier photos show faces and number plates. Every prefix that holds them or data made from them expires its
objects a number of days after they were written: on AWS the bucket's lifecycle rules (the template's, their
days given by the stack parameters the settings produce), locally ``scones_retention`` over the data root, with
the same rule ids, prefixes and days. S3 expires an object at the first midnight (UTC) after its age reaches
the rule's days; :func:`expires_at` says when, for both. On the versioned bucket, a replaced or deleted
version of these objects is kept ``photo_versions_days`` more, any other one ``other_versions_days``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from include.settings import Settings

NONCURRENT_RULE_ID = "ExpireReplacedVersions"
"""The bucket-wide rule for replaced and deleted versions outside the photo prefixes (and expired delete markers)."""


@dataclass(frozen=True)
class RetentionRule:
    """Objects under ``prefix`` (a key prefix ending with ``/``) expire ``days`` after they were written."""

    rule_id: str
    """The S3 lifecycle rule's ``Id`` in the template."""
    prefix: str
    days: int
    setting: str
    """The setting that gives ``days``, e.g. ``retention.incoming_photos_days``."""
    prefix_setting: str
    """The setting that gives ``prefix``, e.g. ``prefixes.incoming_photos``."""
    holds: str
    """What the prefix holds, as the README's privacy section says it."""


def retention_rules(settings: Settings) -> list[RetentionRule]:
    """Every prefix that holds courier photos or data derived from them, with its retention."""
    prefixes, retention = settings.prefixes, settings.retention

    def rule(rule_id: str, prefix: str, setting: str, holds: str) -> RetentionRule:
        return RetentionRule(rule_id, f"{getattr(prefixes, prefix)}/", getattr(retention, setting),
                             f"retention.{setting}", f"prefixes.{prefix}", holds)

    return [
        rule("ExpireIncomingPhotos", "incoming_photos", "incoming_photos_days",
             "courier photos as they arrive, classified by scones_inference"),
        rule("ExpireReviewQueue", "review", "review_days",
             "copies of the photos queued for review, their inference notes and reviewers' label records"),
        rule("ExpireLabelledPhotos", "incoming_labelled", "labelled_days",
             "photos reviewers labelled bicycle or motorcycle, which ingest trains on"),
        rule("ExpireNotAVehiclePhotos", "not_a_vehicle", "not_a_vehicle_days",
             "photos reviewers marked not a vehicle"),
        rule("ExpireDataCapture", "capture", "capture_days",
             "the endpoint's Data Capture: every classified photo, base64-encoded, with its answer"),
        rule("ExpireDatasetPartitions", "datasets", "dataset_days",
             "dataset partitions: CIFAR images and the labelled courier photos, resized"),
        rule("ExpireStagedPartitions", "staging", "dataset_days",
             "partitions staged by the ingest job before they are published"),
        rule("ExpireMonitoringReports", "monitoring", "monitoring_days",
             "drift reports and statistics, with strips of each interval's most-shifted photos"),
    ]


def expires_at(last_modified: datetime, days: int) -> datetime:
    """When S3 expires an object written at ``last_modified`` under a ``days`` rule: the next midnight UTC after
    ``last_modified + days`` (at that midnight itself when it falls on one)."""
    due = last_modified.astimezone(UTC) + timedelta(days=days)
    midnight = datetime.combine(due.date(), time(), tzinfo=UTC)
    return midnight if midnight == due else midnight + timedelta(days=1)


def is_expired(last_modified: datetime, days: int, now: datetime) -> bool:
    return expires_at(last_modified, days) <= now.astimezone(UTC)
