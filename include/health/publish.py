"""The static model-health page in the bucket: the fallback that works without the project's application.

``scones_monitor`` publishes it after each run to ``s3://<bucket>/<prefixes.health>/index.html``. Its links go
to the runtime's object links (the S3 console on AWS), and the plugin lists it in the UI, so the health of the
model stays one click away where the API server does not serve the project's pages.
"""

from __future__ import annotations

from datetime import datetime

from include.health.page import PageLinks, health_page
from include.health.snapshot import take_snapshot
from include.registry import ModelRegistry
from include.runtime.capabilities import ObjectLinks, ServedModels
from include.settings import Settings
from include.storage import ObjectStore
from include.workflows.training import models_uri

PAGE_FILE = "index.html"


def static_page_uri(settings: Settings) -> str:
    return settings.s3_uri(settings.prefixes.health, PAGE_FILE)


def static_links(settings: Settings, object_links: ObjectLinks) -> PageLinks:
    """Links for the static copy: every one a stored object opened through the runtime's object links."""
    return PageLinks(
        stored_object=object_links.object_url,
        evaluation=lambda key: object_links.object_url(models_uri(settings, key) + "evaluation/evaluation.json"),
        review_queue=None, live=False)


def publish_health_page(settings: Settings, store: ObjectStore, registry: ModelRegistry, served_models: ServedModels,
                        object_links: ObjectLinks, now: datetime | None = None) -> str:
    """Render the page from a fresh snapshot and replace the bucket's copy; returns its URI."""
    snapshot = take_snapshot(settings, store, registry, served_models, now)
    uri = static_page_uri(settings)
    store.put_bytes(uri, health_page(snapshot, static_links(settings, object_links)).encode())
    return uri
