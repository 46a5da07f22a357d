"""Where the project's pages live on the Airflow API server, for links written in tasks and shown in the UI."""

from __future__ import annotations

from urllib.parse import quote

APP_PREFIX = "/scones"
"""The plugin mounts the project's FastAPI application here (see ``plugins/scones_plugin.py``)."""
REVIEW_QUEUE_PATH = "/review/"
UI_ROUTE = "scones-review"
"""The review queue inside the Airflow UI: ``/plugin/scones-review``."""
HEALTH_PATH = "/health/"
HEALTH_UI_ROUTE = "scones-health"
"""The model-health view inside the Airflow UI: ``/plugin/scones-health``."""
STORED_OBJECT_PATH = "/health/object/"


def api_base_url() -> str:
    """Airflow's ``[api] base_url`` without a trailing slash, or ``""`` (links then stay relative)."""
    try:
        from airflow.configuration import conf

        return (conf.get("api", "base_url", fallback="") or "").rstrip("/")
    except Exception:  # a link is a convenience: never fail a task for it
        return ""


def evaluation_page(model_key: str, base_url: str | None = None) -> str:
    """The page showing a model's evaluation report and registry record."""
    base = api_base_url() if base_url is None else base_url.rstrip("/")
    return f"{base}{APP_PREFIX}/models/{quote(model_key, safe='')}/evaluation"


def review_queue_page(base_url: str | None = None) -> str:
    base = api_base_url() if base_url is None else base_url.rstrip("/")
    return f"{base}{APP_PREFIX}{REVIEW_QUEUE_PATH}"


def health_page(base_url: str | None = None) -> str:
    base = api_base_url() if base_url is None else base_url.rstrip("/")
    return f"{base}{APP_PREFIX}{HEALTH_PATH}"


def stored_object_page(key: str, base_url: str | None = None) -> str:
    """The API server's page serving a stored report, routing file or the static health page."""
    base = api_base_url() if base_url is None else base_url.rstrip("/")
    return f"{base}{APP_PREFIX}{STORED_OBJECT_PATH}{quote(key, safe='/')}"
