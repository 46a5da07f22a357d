"""The Scones Airflow plugin: template macros for run-derived names, the review queue and the model's health in the UI.

The review queue, the evaluation reports and the model-health view are a FastAPI application
(``include/web/app.py``) mounted on the API server at ``/scones``; the UI shows the queue and the view as pages of
their own (``/plugin/scones-review``, ``/plugin/scones-health``). Every Airflow component loads this plugin, so
the application is imported on its first request only. Where the API server does not serve the application,
the static copy of the model-health page that ``scones_monitor`` publishes to the bucket is listed too, opened
through the runtime's object links (the S3 console on AWS).
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from airflow.plugins_manager import AirflowPlugin

from include import runtime
from include.run_keys import job_name, run_key
from include.settings import get_settings
from include.web.links import APP_PREFIX, HEALTH_PATH, HEALTH_UI_ROUTE, REVIEW_QUEUE_PATH, UI_ROUTE

LOG = logging.getLogger(__name__)
STATIC_HEALTH_VIEW = "Model health (bucket copy)"


class LazyApp:
    """An ASGI application built from ``module:factory`` on its first request."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.app: Any = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if self.app is None:
            module, _, factory = self.target.partition(":")
            self.app = getattr(importlib.import_module(module), factory)()
        await self.app(scope, receive, send)


def static_health_views() -> list[dict[str, Any]]:
    """The bucket's copy of the model-health page, through the runtime's object links."""
    try:
        settings = get_settings()
        href = runtime.object_links(settings).object_url(settings.s3_uri(settings.prefixes.health, "index.html"))
    except Exception as error:  # a wrong setting fails every DAG with its name; the plugin only leaves this out
        LOG.warning("the static model-health page is not listed in the UI: %s", error)
        return []
    return [{"name": STATIC_HEALTH_VIEW, "href": href, "destination": "nav", "category": "browse"}]


class SconesPlugin(AirflowPlugin):
    name = "scones"
    macros = [run_key, job_name]
    fastapi_apps = [{"name": "scones_review", "app": LazyApp("include.web.app:create_app"), "url_prefix": APP_PREFIX}]
    external_views = [{
        "name": "Review queue",
        "href": APP_PREFIX + REVIEW_QUEUE_PATH,
        "url_route": UI_ROUTE,
        "destination": "nav",
        "category": "browse",
    }, {
        "name": "Model health",
        "href": APP_PREFIX + HEALTH_PATH,
        "url_route": HEALTH_UI_ROUTE,
        "destination": "nav",
        "category": "browse",
    }, *static_health_views()]
