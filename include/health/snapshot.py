"""The model's health at one moment, read from what the pipeline records, through the store and registry interfaces.

- **Endpoint**: the version the endpoint serves (read from the endpoint, as the monitor and the gate do) and
  since when, the champion (that same version: candidates are gated against it), and the newest approved
  version when it is not the one serving (a rolled-back update).
- **Registry**: the newest versions with their accuracy, ECE, status and who approved them.
- **Drift timeline**: per monitored interval, the decision (``incidents/``), the distances, KS p-values,
  estimated accuracy and violated checks (``history/<interval>/analysis_summary.json``), and its report.
- **Routing**: per inference interval, the totals of ``routing/<run key>/routing.json``: nearby, distant,
  review (unsure) and failed (routed to review without a classification).
- **Review queue**: how many photos wait and how long the oldest has waited.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from include.builders.registry import APPROVAL_AT, APPROVAL_BY
from include.intervals import as_utc
from include.registry import MODEL_PACKAGE_TAG, ModelRegistry, ModelVersionNotFoundError
from include.review_queue import queued_photos
from include.run_keys import RUN_KEY_PROPERTY
from include.runtime.capabilities import ServedModels
from include.settings import Settings
from include.storage import ObjectNotFoundError, ObjectStore
from include.workflows.monitoring.layout import SUMMARY_FILE, history_prefix, monitoring_prefix, report_prefix

LOG = logging.getLogger(__name__)
READERS = 8
ROUTING_FILE = "routing.json"
T = TypeVar("T")


@dataclass(frozen=True)
class ModelVersion:
    version: int
    arn: str
    status: str
    run_key: str | None
    created: str | None
    accuracy: float | None
    ece: float | None
    approved_by: str | None
    approved_at: str | None
    description: str


@dataclass(frozen=True)
class EndpointHealth:
    name: str
    serving: ModelVersion | None
    """The version the endpoint serves, which is also the champion new candidates are gated against."""
    serving_since: datetime | None
    endpoint_config: str | None
    newest_approved: ModelVersion | None
    problem: str | None = None
    """Why the serving version is unknown (nothing deployed, or a model without the version tag)."""

    @property
    def newest_approved_not_serving(self) -> bool:
        return bool(self.newest_approved and (self.serving is None or self.newest_approved.arn != self.serving.arn))


@dataclass(frozen=True)
class DriftInterval:
    start: datetime
    run_key: str
    decision: str
    violations: list[str]
    """The counted violations (``check:feature``) behind an alert or a retrain."""
    item_count: int | None = None
    max_distance: float | None = None
    distances: dict[str, float] = field(default_factory=dict)
    smallest_p_value: float | None = None
    estimated_accuracy: float | None = None
    violated_checks: list[str] = field(default_factory=list)
    """Every check the analyzer found violated (ignored ones included), as ``test on feature``."""
    report_uri: str | None = None


@dataclass(frozen=True)
class RoutingTotals:
    run_key: str
    interval_start: datetime | None
    photos: int
    nearby: int
    distant: int
    review: int
    failed: int
    routing_uri: str
    written_at: datetime


@dataclass(frozen=True)
class ReviewBacklog:
    waiting: int
    oldest_queued_at: datetime | None
    oldest_age_hours: float | None


@dataclass(frozen=True)
class HealthSnapshot:
    taken_at: datetime
    endpoint: EndpointHealth
    registry: list[ModelVersion]
    drift: list[DriftInterval]
    routing: list[RoutingTotals]
    review: ReviewBacklog

    def as_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def model_version(record: dict) -> ModelVersion:
    """The facts the view shows about one DescribeModelPackage record."""
    metadata = record.get("CustomerMetadataProperties") or {}
    created = record.get("CreationTime")
    return ModelVersion(
        version=int(record["ModelPackageVersion"]), arn=record["ModelPackageArn"],
        status=record.get("ModelApprovalStatus", ""), run_key=metadata.get(RUN_KEY_PROPERTY),
        created=as_utc(created).isoformat() if isinstance(created, datetime) else created,
        accuracy=_float(metadata.get("scones:accuracy")), ece=_float(metadata.get("scones:ece")),
        approved_by=metadata.get(APPROVAL_BY), approved_at=metadata.get(APPROVAL_AT),
        description=record.get("ApprovalDescription") or "")


def endpoint_health(settings: Settings, served_models: ServedModels, registry: ModelRegistry) -> EndpointHealth:
    name = settings.deploy.endpoint_name
    newest = registry.latest_approved()
    newest_approved = model_version(newest) if newest else None
    served = served_models.served_model(name)
    if served is None:
        return EndpointHealth(name, None, None, None, newest_approved,
                              "no model deployed yet: train, approve and deploy one (scones_train, scones_deploy)")
    problem = None
    if not served.model_package_arn:
        problem = (f"serves model {served.model_name}, which has no {MODEL_PACKAGE_TAG!r} tag: deploy the version "
                   "you mean to serve with scones_deploy (model_package_arn)")
    else:
        try:
            return EndpointHealth(name, model_version(registry.describe(served.model_package_arn)),
                                  served.serving_since, served.endpoint_config_name, newest_approved)
        except ModelVersionNotFoundError as error:
            problem = f"serves {served.model_package_arn}, which the registry does not know: {error}"
    return EndpointHealth(name, None, served.serving_since, served.endpoint_config_name, newest_approved, problem)


def _read_json(store: ObjectStore, uri: str) -> dict | None:
    """The document at ``uri``; ``None`` when it is missing or unreadable (logged: the view shows what it can)."""
    try:
        document = json.loads(store.get_bytes(uri))
    except ObjectNotFoundError:
        return None
    except ValueError as error:
        LOG.warning("%s is not JSON (%s); the health view leaves it out", uri, error)
        return None
    return document if isinstance(document, dict) else None


def _parallel(function: Callable[[str], T], items: Iterable[str]) -> list[T]:
    with ThreadPoolExecutor(READERS) as pool:
        return list(pool.map(function, items))


def _interval_key(moment: datetime) -> str:
    return f"{as_utc(moment):%Y%m%dT%H%M}"


def drift_interval(settings: Settings, incident: dict, summary: dict | None) -> DriftInterval:
    """One interval of the timeline from its incident record (the decision) and its analysis summary."""
    start = datetime.fromisoformat(incident["interval_start"])
    run_key = incident["run_key"]
    base = {"start": start, "run_key": run_key, "decision": incident.get("action", "unknown"),
            "violations": list(incident.get("violations") or []),
            "report_uri": report_prefix(settings, run_key) + "index.html"}
    if not summary:
        return DriftInterval(**base)
    distances = {name: float(value) for name, value in (summary.get("drift_distances") or {}).items()}
    p_values = [float(value) for value in (summary.get("ks_p_values") or {}).values()]
    violated = [f"{check.get('test', check.get('check'))} on {check.get('feature')}"
                for check in summary.get("checks") or [] if check.get("violated")]
    return DriftInterval(**base, item_count=summary.get("item_count"),
                         max_distance=max(distances.values(), default=None), distances=distances,
                         smallest_p_value=min(p_values, default=None),
                         estimated_accuracy=_float((summary.get("estimated_accuracy") or {}).get("value")),
                         violated_checks=violated)


def drift_timeline(settings: Settings, store: ObjectStore) -> list[DriftInterval]:
    """The newest ``health.timeline_intervals`` monitored intervals, newest first."""
    prefix = monitoring_prefix(settings, "incidents") + "/"
    uris = sorted((info.uri for info in store.list(prefix) if info.uri.endswith(".json")), reverse=True)
    incidents = [doc for doc in _parallel(lambda uri: _read_json(store, uri),
                                          uris[:settings.health.timeline_intervals])
                 if doc and doc.get("interval_start") and doc.get("run_key")]
    history = history_prefix(settings)
    summaries = _parallel(
        lambda start: _read_json(store, f"{history}{_interval_key(datetime.fromisoformat(start))}/{SUMMARY_FILE}"),
        [doc["interval_start"] for doc in incidents])
    return [drift_interval(settings, doc, summary) for doc, summary in zip(incidents, summaries, strict=True)]


def _run_key_start(run_key: str) -> datetime | None:
    for pattern in ("%Y%m%dT%H%M", "%Y%m%dT%H%M%S"):
        try:
            return datetime.strptime(run_key, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def routing_totals(uri: str, document: dict, written_at: datetime) -> RoutingTotals:
    """Totals of one routing file; a photo routed to review without a confidence failed to be classified."""
    rows = document.get("routing") or []
    counts = document.get("counts") or {}
    failed = sum(1 for row in rows if row.get("assignment") == "human_review" and row.get("confidence") is None)
    run_key = str(document.get("run_key") or uri.rstrip("/").rsplit("/", 2)[-2])
    return RoutingTotals(run_key=run_key, interval_start=_run_key_start(run_key),
                         photos=int(document.get("photos", len(rows))), nearby=int(counts.get("nearby", 0)),
                         distant=int(counts.get("distant", 0)),
                         review=int(counts.get("human_review", 0)) - failed, failed=failed,
                         routing_uri=uri, written_at=written_at)


def routing_history(settings: Settings, store: ObjectStore) -> list[RoutingTotals]:
    """The newest ``health.routing_intervals`` routing files' totals, newest interval first."""
    prefix = settings.s3_uri(settings.prefixes.routing) + "/"
    files = [info for info in store.list(prefix) if info.uri.endswith("/" + ROUTING_FILE)]
    files.sort(key=lambda info: (_run_key_start(info.uri.rsplit("/", 2)[-2]) or as_utc(info.last_modified),
                                 info.uri), reverse=True)
    chosen = files[:settings.health.routing_intervals]
    documents = _parallel(lambda uri: _read_json(store, uri), [info.uri for info in chosen])
    return [routing_totals(info.uri, document, info.last_modified)
            for info, document in zip(chosen, documents, strict=True) if document is not None]


def review_backlog(settings: Settings, store: ObjectStore, now: datetime) -> ReviewBacklog:
    waiting = queued_photos(settings, store)
    if not waiting:
        return ReviewBacklog(0, None, None)
    oldest = min(as_utc(photo.queued_at) for photo in waiting)
    return ReviewBacklog(len(waiting), oldest, round((as_utc(now) - oldest).total_seconds() / 3600, 2))


def take_snapshot(settings: Settings, store: ObjectStore, registry: ModelRegistry, served_models: ServedModels,
                  now: datetime | None = None) -> HealthSnapshot:
    now = now or datetime.now(UTC)
    versions = [model_version(record) for record in registry.recent_versions(settings.health.registry_versions)]
    return HealthSnapshot(taken_at=now, endpoint=endpoint_health(settings, served_models, registry),
                          registry=versions, drift=drift_timeline(settings, store),
                          routing=routing_history(settings, store), review=review_backlog(settings, store, now))

