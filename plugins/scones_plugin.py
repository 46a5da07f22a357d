"""The Scones Airflow plugin: template macros for run-derived names, and the review queue in the UI.

The review queue and the evaluation reports are a FastAPI application (``include/web/app.py``) mounted on
the API server at ``/scones``; the UI shows the queue as its own page (``/plugin/scones-review``). Every
Airflow component loads this plugin, so the application is imported on its first request only.
"""

from __future__ import annotations

import importlib
from typing import Any

from airflow.plugins_manager import AirflowPlugin

from include.run_keys import job_name, run_key
from include.web.links import APP_PREFIX, REVIEW_QUEUE_PATH, UI_ROUTE


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
    }]
