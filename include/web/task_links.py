"""Extra links on the tasks that write the monitor's report and the inference routing file.

A DAG attaches them where it wires the task (:func:`with_links`), whatever the task is called. When the task
ends, the worker resolves each link from the task's return value (the file's URI) to the runtime's object
link — the S3 console on AWS, the project's stored-file page locally — and Airflow keeps it for the UI's
task view, so the link works without the project's application on the API server.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import BaseOperatorLink

from include import runtime
from include.settings import get_settings

LOG = logging.getLogger(__name__)


def returned_value(ti_key: Any) -> Any:
    """What the task returned (its ``return_value`` XCom)."""
    from airflow.sdk.execution_time.xcom import XCom

    return XCom.get_value(ti_key=ti_key, key="return_value")


def stored_file_url(uri: Any) -> str:
    """The browser URL of a stored file's URI (``""`` when the task left none: the UI shows the link disabled)."""
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        return ""
    settings = get_settings()
    return runtime.object_links(settings).object_url(uri)


class DriftReportLink(BaseOperatorLink):
    """The interval's drift report, from the URI ``write_monitoring_report`` returns."""

    name = "Drift report"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        return stored_file_url(returned_value(ti_key))


class RoutingFileLink(BaseOperatorLink):
    """The interval's routing file, from the ``routing_uri`` of what the routing task returns."""

    name = "Routing file"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        result = returned_value(ti_key)
        return stored_file_url(result.get("routing_uri") if isinstance(result, dict) else None)


def with_links(output: Any, *links: BaseOperatorLink) -> Any:
    """Attach ``links`` to the task behind ``output`` (a task's XComArg, or the operator); returns ``output``."""
    operator = getattr(output, "operator", output)
    operator.operator_extra_links = (*operator.operator_extra_links, *links)
    return output
