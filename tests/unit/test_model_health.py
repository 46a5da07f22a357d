"""The model-health snapshot's rules, the object links of both runtimes, the registry's recent versions and the
extra links on the tasks that write the report and the routing file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from include.health.snapshot import endpoint_health, routing_totals, take_snapshot
from include.registry import MODEL_PACKAGE_TAG
from include.runtime.aws.object_links import S3ConsoleLinks
from include.runtime.aws.registry import SageMakerModelRegistry
from include.runtime.capabilities import ServedModel
from include.runtime.local.object_links import LocalObjectLinks
from include.runtime.local.registry import LocalModelRegistry
from include.runtime.local.store import LocalObjectStore
from include.settings import load_settings
from include.web.health_routes import StoredFileRefusedError, stored_file_dag
from include.web.task_links import DriftReportLink, RoutingFileLink, with_links
from tests.hitl.health_world import pending_request


@pytest.fixture
def settings(tmp_path: Path):
    return load_settings(environ={"SCONES_DATA_ROOT": str(tmp_path / "data"), "SCONES_RUNTIME": "local"})


class Served:
    def __init__(self, served: ServedModel | None) -> None:
        self.served = served

    def served_model(self, endpoint_name: str) -> ServedModel | None:
        return self.served


def test_a_photo_routed_to_review_without_a_confidence_counts_as_failed():
    rows = [{"assignment": "nearby", "confidence": 0.98}, {"assignment": "human_review", "confidence": 0.6},
            {"assignment": "human_review", "confidence": None}, {"assignment": "human_review", "confidence": None}]
    document = {"run_key": "20260301T1000", "photos": 4, "routing": rows,
                "counts": {"nearby": 1, "distant": 0, "human_review": 3}}
    totals = routing_totals("s3://b/routing/20260301T1000/routing.json", document, datetime.now(UTC))
    assert (totals.nearby, totals.distant, totals.review, totals.failed) == (1, 0, 1, 2)
    assert totals.interval_start == datetime(2026, 3, 1, 10, tzinfo=UTC)


def test_the_serving_version_is_the_endpoints_even_when_a_newer_one_is_approved(settings):
    registry = LocalModelRegistry(settings)
    serving = registry.register({**pending_request(settings, "train-a", 0.9, 0.04), "ModelApprovalStatus": "Approved"})
    registry.register({**pending_request(settings, "train-b", 0.93, 0.03), "ModelApprovalStatus": "Approved"})
    since = datetime(2026, 3, 1, 12, tzinfo=UTC)
    health = endpoint_health(settings, Served(ServedModel("e", "config-a", "model-a", serving["ModelPackageArn"],
                                                          serving_since=since)), registry)
    assert (health.serving.version, health.serving_since, health.newest_approved.version) == (1, since, 2)
    assert health.newest_approved_not_serving and health.problem is None


def test_an_untagged_or_missing_model_is_named_as_the_problem(settings):
    registry = LocalModelRegistry(settings)
    untagged = endpoint_health(settings, Served(ServedModel("e", "config-x", "model-x", None)), registry)
    assert untagged.serving is None and MODEL_PACKAGE_TAG in untagged.problem and "scones_deploy" in untagged.problem
    assert "no model deployed yet" in endpoint_health(settings, Served(None), registry).problem


def test_an_empty_store_gives_an_empty_snapshot_not_an_error(settings):
    snapshot = take_snapshot(settings, LocalObjectStore(settings.data_root), LocalModelRegistry(settings), Served(None))
    assert (snapshot.registry, snapshot.drift, snapshot.routing, snapshot.review.waiting) == ([], [], [], 0)
    assert snapshot.as_dict()["endpoint"]["serving"] is None


@pytest.mark.parametrize(("key", "dag_id"), [
    ("monitoring/scones-vehicle-classifier/20260301T1000/report/index.html", "scones_monitor"),
    ("monitoring/scones-vehicle-classifier/20260301T1000/report/feature_cdfs.png", "scones_monitor"),
    ("routing/20260301T1000/routing.csv", "scones_inference"),
    ("models/tune-20260301T1000/evaluation/evaluation.json", "scones_tune"),
    ("health/index.html", "scones_monitor"),
])
def test_each_stored_file_needs_read_access_to_the_dag_that_wrote_it(settings, key, dag_id):
    assert stored_file_dag(settings, key) == dag_id


@pytest.mark.parametrize("key", ["", "/health/index.html", "health//index.html", "health/./index.html",
                                 "routing/x/routing.json\x00", "s3://scones-mlops/health/index.html",
                                 "monitoring\\x\\report\\index.html", "routing/a/b/routing.json"])
def test_anything_else_is_refused(settings, key):
    with pytest.raises(StoredFileRefusedError):
        stored_file_dag(settings, key)


def test_aws_object_links_open_the_object_in_the_s3_console(settings):
    url = S3ConsoleLinks(settings.model_copy(update={"region": "eu-west-1"})).object_url(
        "s3://scones-mlops/monitoring/e/20260301T1000/report/index.html")
    assert url == ("https://console.aws.amazon.com/s3/object/scones-mlops?region=eu-west-1&bucketType=general"
                   "&prefix=monitoring%2Fe%2F20260301T1000%2Freport%2Findex.html")


def test_local_object_links_open_the_stored_file_page_and_only_for_the_projects_bucket(settings):
    links = LocalObjectLinks(settings)
    assert links.object_url("s3://scones-mlops/routing/k/routing.json").endswith(
        "/scones/health/object/routing/k/routing.json")
    with pytest.raises(ValueError, match="project's bucket"):
        links.object_url("s3://elsewhere/routing/k/routing.json")


@pytest.mark.parametrize("kind", ["local", "sagemaker"])
def test_recent_versions_are_the_newest_first_up_to_the_limit(settings, kind):
    with mock_aws():
        registry = (LocalModelRegistry(settings) if kind == "local" else
                    SageMakerModelRegistry(settings, client=boto3.client("sagemaker", region_name=settings.region)))
        assert registry.recent_versions(5) == []
        for index in range(3):
            registry.register(pending_request(settings, f"train-{index}", 0.9, 0.04))
        versions = registry.recent_versions(2)
    assert [record["ModelPackageVersion"] for record in versions] == [3, 2]


def test_the_links_are_attached_to_whichever_task_writes_the_file(monkeypatch):
    from airflow.sdk import DAG, task

    with DAG("links_probe", schedule=None):
        @task
        def write_anything() -> str:
            return "s3://scones-mlops/monitoring/e/k/report/index.html"

        report = with_links(write_anything(), DriftReportLink())
    assert [link.name for link in report.operator.operator_extra_links] == ["Drift report"]
    monkeypatch.setattr("include.web.task_links.returned_value",
                        lambda ti_key: {"routing_uri": "s3://scones-mlops/routing/k/routing.json"})
    link = RoutingFileLink().get_link(report.operator, ti_key=None)
    assert link.endswith("/scones/health/object/routing/k/routing.json")
    monkeypatch.setattr("include.web.task_links.returned_value", lambda ti_key: None)
    assert DriftReportLink().get_link(report.operator, ti_key=None) == "", "no file: the UI shows the link disabled"

