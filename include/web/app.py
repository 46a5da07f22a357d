"""The project's FastAPI application on the Airflow API server: the photo review queue, evaluation reports and
the model-health view (:mod:`include.web.health_routes`).

Every endpoint needs an authenticated Airflow user (a bearer token, or the UI's ``_token`` cookie) and passes
Airflow's own access checks: reading the queue and its photos needs read access to ``scones_inference``,
labelling needs edit access to it (what changing the inference DAG's outcome amounts to), and an evaluation
report needs read access to the DAG that trained the model. Labels are taken as JSON only, so a form on
another site cannot post one with a reviewer's cookie (which Airflow also sets ``SameSite=Lax``).
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from include import runtime
from include.builders.registry import APPROVAL_AT, APPROVAL_BY
from include.registry import ModelVersionNotFoundError
from include.review import (
    LABELS,
    AlreadyLabelledError,
    NotInReviewQueueError,
    ReviewPhotoNotFoundError,
    label_photo,
    label_record,
    review_photo_uri,
)
from include.review_queue import PhotoKeyRefusedError, queue_page, servable_photo_uri
from include.settings import get_settings
from include.storage import ObjectNotFoundError
from include.web import images, pages
from include.web.health_routes import health_router
from include.workflows import training

REVIEW_DAG = "scones_inference"
TRAINING_DAGS = {"train": "scones_train", "tune": "scones_tune"}
MODEL_KEY_PATTERN = r"^[A-Za-z0-9-]{1,100}$"
CAN_VIEW_QUEUE = Depends(requires_access_dag(method="GET", param_dag_id=REVIEW_DAG))
CAN_LABEL = Depends(requires_access_dag(method="PUT", param_dag_id=REVIEW_DAG))
NO_STORE = {"Cache-Control": "no-store"}


Label = Literal[LABELS]  # exactly the labels include.review files


class LabelRequest(BaseModel):
    photo: str = Field(min_length=1, max_length=1024, description="the queued photo's key: review/<run key>/...")
    label: Label


def _base(request: Request) -> str:
    """Where this application is mounted (``/scones`` below Airflow's own root path)."""
    return request.scope.get("root_path", "").rstrip("/")


def _can_label(user: Any) -> bool:
    return get_auth_manager().is_authorized_dag(method="PUT", details=DagDetails(id=REVIEW_DAG), user=user)


def _json_only(request: Request) -> None:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "send the label as application/json")


def _photo_bytes(key: str) -> bytes:
    settings = get_settings()
    try:
        uri = servable_photo_uri(settings, key)
        return runtime.object_store(settings).get_bytes(uri)
    except PhotoKeyRefusedError as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from error
    except ObjectNotFoundError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no photo {key[:200]!r}") from error
    except ValueError as error:  # the store's own refusal (a path leaving its root) included
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"photo key refused: {error}") from error


def _training_dag_access(request: Request, user: GetUserDep, model_key: str) -> None:
    dag_id = TRAINING_DAGS.get(model_key.split("-", 1)[0])
    if dag_id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{model_key!r} is not a model of scones_train or scones_tune")
    requires_access_dag(method="GET", param_dag_id=dag_id)(request, user)


def create_app() -> FastAPI:
    app = FastAPI(title="Scones review", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(health_router())

    @app.get("/review/", response_class=HTMLResponse, dependencies=[CAN_VIEW_QUEUE])
    def review_queue_page(request: Request, user: GetUserDep, page: Annotated[int, Query(ge=1)] = 1) -> HTMLResponse:
        settings = get_settings()
        content = pages.review_page(queue_page(settings, runtime.object_store(settings), page), base=_base(request),
                                    reviewer=user.get_name(), can_label=_can_label(user))
        return HTMLResponse(content, headers=NO_STORE)

    @app.get("/review/queue", dependencies=[CAN_VIEW_QUEUE])
    def review_queue(page: Annotated[int, Query(ge=1)] = 1) -> JSONResponse:
        settings = get_settings()
        return JSONResponse(queue_page(settings, runtime.object_store(settings), page).as_dict(), headers=NO_STORE)

    @app.get("/review/photo", dependencies=[CAN_VIEW_QUEUE])
    def photo(key: Annotated[str, Query(max_length=1024)]) -> Response:
        data = _photo_bytes(key)
        try:
            content_type = images.image_type(data)
        except images.NotAPhotoError as error:
            raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, str(error)) from error
        return Response(data, media_type=content_type,
                        headers={**NO_STORE, "X-Content-Type-Options": "nosniff",
                                 "Content-Security-Policy": "default-src 'none'"})

    @app.get("/review/thumbnail", dependencies=[CAN_VIEW_QUEUE])
    def thumbnail(key: Annotated[str, Query(max_length=1024)]) -> Response:
        settings = get_settings()
        data = _photo_bytes(key)
        try:
            small = images.thumbnail(data, settings.review.thumbnail_pixels, settings.ingest.max_image_pixels)
        except images.NotAPhotoError as error:
            raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, str(error)) from error
        return Response(small, media_type="image/png", headers={**NO_STORE, "X-Content-Type-Options": "nosniff"})

    @app.post("/review/labels", dependencies=[CAN_LABEL, Depends(_json_only)])
    def label(body: LabelRequest, user: GetUserDep) -> JSONResponse:
        settings = get_settings()
        store = runtime.object_store(settings)
        try:
            filed = label_photo(settings, store, body.photo, body.label, reviewer=user.get_name(), via="review page")
        except NotInReviewQueueError as error:
            raise HTTPException(status.HTTP_400_BAD_REQUEST, str(error)) from error
        except ReviewPhotoNotFoundError as error:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from error
        except AlreadyLabelledError as error:
            return JSONResponse({"detail": str(error), "record": error.record}, status_code=status.HTTP_409_CONFLICT)
        record = label_record(store, review_photo_uri(settings, body.photo)) or {}
        return JSONResponse({"photo": body.photo, "label": record.get("label", body.label), "labelled_uri": filed,
                             "reviewer": record.get("reviewer"), "labelled_at": record.get("labelled_at")})

    @app.get("/models/{model_key}/evaluation", response_class=HTMLResponse,
             dependencies=[Depends(_training_dag_access)])
    def evaluation(model_key: str) -> HTMLResponse:
        if not re.fullmatch(MODEL_KEY_PATTERN, model_key):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no such model")
        settings = get_settings()
        store, registry = runtime.object_store(settings), runtime.model_registry(settings)
        uri = training.models_uri(settings, model_key) + "evaluation/evaluation.json"
        try:
            evaluation_report = json.loads(store.get_bytes(uri))
        except ObjectNotFoundError as error:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no evaluation for {model_key}") from error
        try:
            record = registry.find_by_run_key(model_key)
        except ModelVersionNotFoundError:
            record = None
        metadata = (record or {}).get("CustomerMetadataProperties", {})
        return HTMLResponse(pages.evaluation_page(model_key, evaluation_report, uri, record,
                                                  metadata.get(APPROVAL_BY), metadata.get(APPROVAL_AT)))

    return app

