"""The ``local`` runtime's object links: the project's page on the API server that serves stored files.

There is no console on this machine, so a stored report or routing file is opened through the project's
FastAPI application (``/scones/health/object/<key>``), which checks the reader's Airflow permissions and
serves only the report, routing and health-page prefixes.
"""

from __future__ import annotations

from include.settings import Settings
from include.storage import S3Uri
from include.web.links import stored_object_page


class LocalObjectLinks:
    """:class:`~include.runtime.capabilities.ObjectLinks` to the API server's stored-object page."""

    def __init__(self, settings: Settings) -> None:
        self.bucket = settings.bucket

    def object_url(self, uri: str) -> str:
        location = S3Uri.parse(uri)
        if location.bucket != self.bucket:
            raise ValueError(f"{uri} is not in the project's bucket {self.bucket}: the API server serves only that one")
        return stored_object_page(location.key)
