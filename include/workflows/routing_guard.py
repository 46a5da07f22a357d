"""A routing file is never replaced by an empty one: a re-run over photos that have since expired keeps it.

Courier photos expire (``retention.incoming_photos_days``), routing files do not: they hold the photos' keys and
answers, not the photos. A backfill or a cleared run over an interval whose photos are gone finds nothing to
classify; writing its empty routing would erase the record of how those couriers were routed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from include.storage import ObjectNotFoundError, ObjectStore

LOG = logging.getLogger(__name__)


def routing_to_keep(store: ObjectStore, routing_uri: str, rows: Sequence[Any]) -> dict | None:
    """The routing document at ``routing_uri`` when the new ``rows`` are empty and it routed photos, else ``None``
    (write the new one)."""
    if rows:
        return None
    try:
        existing = json.loads(store.get_bytes(routing_uri))
    except (ObjectNotFoundError, ValueError):
        return None
    if not isinstance(existing, dict) or not existing.get("photos"):
        return None
    LOG.warning("No photos in this interval any more (expired since?): keeping %s, which routed %d photos",
                routing_uri, existing["photos"])
    return existing
