"""The ``local`` runtime's retention: the ``[retention]`` rules applied to the data root, as S3 would apply them.

The plan lists every object under a rule's prefix (in the settings' bucket) whose expiry moment
(:func:`include.retention.expires_at`, S3's rounding to midnight UTC) has passed, and the leftovers of writes that
never finished (``.tmp-*`` files, which hold photo bytes too) older than the rule. Applying it deletes exactly
those, each checked again first: an object written again since the plan was made is kept. There are no object
versions on disk, so there is nothing else to expire.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from include.retention import RetentionRule, is_expired
from include.runtime.capabilities import refuse_foreign_plan
from include.runtime.local.store import LocalObjectStore
from include.settings import Settings

LOG = logging.getLogger(__name__)
UNFINISHED_WRITE_PREFIX = ".tmp-"


def _modified(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


class LocalRetention:
    """:class:`~include.runtime.capabilities.Retention` over ``data_root/<bucket>/``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = LocalObjectStore(settings.data_root)

    def _unfinished_writes(self, rule: RetentionRule) -> list[tuple[str, Path]]:
        folder = self.store.path_for(self.settings.s3_uri(rule.prefix) + "/")
        if not folder.is_dir():
            return []
        bucket_root = self.store.path_for(f"s3://{self.settings.bucket}/")
        return [(f"s3://{self.settings.bucket}/{path.relative_to(bucket_root).as_posix()}", path)
                for path in sorted(folder.rglob(f"{UNFINISHED_WRITE_PREFIX}*")) if path.is_file()]

    def _expired(self, rule: RetentionRule, now: datetime) -> list[dict[str, Any]]:
        found = [{"uri": info.uri, "size": info.size, "last_modified": info.last_modified}
                 for info in self.store.list(self.settings.s3_uri(rule.prefix) + "/")]
        found += [{"uri": uri, "size": path.stat().st_size, "last_modified": _modified(path)}
                  for uri, path in self._unfinished_writes(rule)]
        return [{**item, "last_modified": item["last_modified"].isoformat()} for item in found
                if is_expired(item["last_modified"], rule.days, now)]

    def plan(self, rules: list[RetentionRule], now: datetime) -> dict[str, Any]:
        return {
            "runtime": "local",
            "now": now.isoformat(),
            "rules": [{"rule_id": rule.rule_id, "prefix": rule.prefix, "days": rule.days, "problem": None,
                       "expired": self._expired(rule, now)} for rule in rules],
        }

    def apply(self, plan: dict[str, Any]) -> list[str]:
        refuse_foreign_plan(plan, "local")
        deleted = []
        for rule in plan["rules"]:
            for item in rule["expired"]:
                path = self.store.path_for(item["uri"])
                if not path.is_file():
                    continue
                if _modified(path) != datetime.fromisoformat(item["last_modified"]):
                    LOG.info("kept %s: written again since the plan was made", item["uri"])
                    continue
                self.store.delete(item["uri"])
                deleted.append(item["uri"])
        return deleted
