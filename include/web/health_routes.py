"""The model-health view on the API server: the page, its snapshot as JSON, the stored files it links to, and
publishing the static copy now.

Reading the view needs read access to the DAGs whose records it shows (``scones_monitor``, ``scones_inference``,
``scones_train``); a stored file needs read access to the DAG that wrote it; publishing the static copy needs
edit access to ``scones_monitor`` (whose runs publish it) and a JSON request, so a form on another site cannot
trigger it with a user's cookie. Stored files are served only from the monitor's report folders, the routing
files, the evaluation reports and the static page, with a policy that lets no script run.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import quote

from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from fastapi import APIRouter, Depends, HTTPException, Path, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, Response

from include import runtime
from include.health.page import PageLinks, health_page
from include.health.publish import publish_health_page
from include.health.snapshot import HealthSnapshot, take_snapshot
from include.settings import Settings, get_settings
from include.storage import ObjectNotFoundError
from include.web.links import STORED_OBJECT_PATH

MONITOR_DAG, INFERENCE_DAG, TRAIN_DAG = "scones_monitor", "scones_inference", "scones_train"
TRAINING_DAGS = {"train": "scones_train", "tune": "scones_tune"}
CAN_READ_HEALTH = [Depends(requires_access_dag(method="GET", param_dag_id=dag_id))
                   for dag_id in (MONITOR_DAG, INFERENCE_DAG, TRAIN_DAG)]
CAN_PUBLISH = Depends(requires_access_dag(method="PUT", param_dag_id=MONITOR_DAG))
NO_STORE = {"Cache-Control": "no-store"}
STORED_FILE_HEADERS = {**NO_STORE, "X-Content-Type-Options": "nosniff",
                       "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"}
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".png": "image/png", ".json": "application/json",
                 ".csv": "text/csv; charset=utf-8"}
_UNSAFE_KEY = re.compile(r"[\x00-\x1f\x7f\\]")
_SEGMENT = r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}"


class StoredFileRefusedError(ValueError):
    """The key names no file the health view serves."""


def _base(request: Request) -> str:
    return request.scope.get("root_path", "").rstrip("/")


def stored_file_dag(settings: Settings, key: str) -> str:
    """The DAG whose read access a stored file needs; refuses every key outside the files the view links to."""
    segments = key.split("/")
    if (not key or _UNSAFE_KEY.search(key) or "://" in key or any(s in ("", ".", "..") for s in segments)
            or not key.endswith(tuple(CONTENT_TYPES))):
        raise StoredFileRefusedError(f"{key[:200]!r} is not a file the health view serves")
    prefixes = settings.prefixes
    patterns = {
        rf"{re.escape(prefixes.monitoring)}/{re.escape(settings.deploy.endpoint_name)}/{_SEGMENT}/report/{_SEGMENT}":
            MONITOR_DAG,
        rf"{re.escape(prefixes.routing)}/{_SEGMENT}/routing\.(json|csv)": INFERENCE_DAG,
        rf"{re.escape(prefixes.health)}/index\.html": MONITOR_DAG,
    }
    for pattern, dag_id in patterns.items():
        if re.fullmatch(pattern, key):
            return dag_id
    match = re.fullmatch(rf"{re.escape(prefixes.models)}/({_SEGMENT})/evaluation/evaluation\.json", key)
    if match and match.group(1).split("-", 1)[0] in TRAINING_DAGS:
        return TRAINING_DAGS[match.group(1).split("-", 1)[0]]
    raise StoredFileRefusedError(f"{key[:200]!r} is not a report, routing file, evaluation or the health page")


def live_links(settings: Settings, base: str) -> PageLinks:
    """Links for the page the application serves: its own pages, relative to where it is mounted."""
    bucket_root = f"s3://{settings.bucket}/"
    return PageLinks(
        stored_object=lambda uri: f"{base}{STORED_OBJECT_PATH}{quote(uri.removeprefix(bucket_root), safe='/')}",
        evaluation=lambda run_key: f"{base}/models/{run_key}/evaluation",
        review_queue=f"{base}/review/", live=True)


def _snapshot(settings: Settings) -> HealthSnapshot:
    return take_snapshot(settings, runtime.object_store(settings), runtime.model_registry(settings),
                         runtime.served_models(settings))


def _json_only(request: Request) -> None:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "send the request as application/json")


def _stored_file_access(request: Request, user: GetUserDep, key: Annotated[str, Path()]) -> None:
    try:
        dag_id = stored_file_dag(get_settings(), key)
    except StoredFileRefusedError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
    requires_access_dag(method="GET", param_dag_id=dag_id)(request, user)


def health_router() -> APIRouter:
    router = APIRouter()

    @router.get("/health/", response_class=HTMLResponse, dependencies=CAN_READ_HEALTH)
    def health_view(request: Request) -> HTMLResponse:
        settings = get_settings()
        return HTMLResponse(health_page(_snapshot(settings), live_links(settings, _base(request))), headers=NO_STORE)

    @router.get("/health/snapshot", dependencies=CAN_READ_HEALTH)
    def health_snapshot() -> JSONResponse:
        return JSONResponse(_snapshot(get_settings()).as_dict(), headers=NO_STORE)

    @router.get("/health/object/{key:path}", dependencies=[Depends(_stored_file_access)])
    def stored_file(key: str) -> Response:
        settings = get_settings()
        try:
            data = runtime.object_store(settings).get_bytes(settings.s3_uri(key))
        except ObjectNotFoundError as error:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no file {key[:200]!r}") from error
        except ValueError as error:  # the store's own refusal (a path leaving its root) included
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"file refused: {error}") from error
        suffix = "." + key.rsplit(".", 1)[-1]
        return Response(data, media_type=CONTENT_TYPES[suffix], headers=STORED_FILE_HEADERS)

    @router.post("/health/publish", dependencies=[CAN_PUBLISH, Depends(_json_only)])
    def publish(user: GetUserDep) -> dict[str, Any]:
        settings = get_settings()
        uri = publish_health_page(settings, runtime.object_store(settings), runtime.model_registry(settings),
                                  runtime.served_models(settings), runtime.object_links(settings))
        return {"uri": uri, "url": runtime.object_links(settings).object_url(uri), "published_by": user.get_name()}

    return router
