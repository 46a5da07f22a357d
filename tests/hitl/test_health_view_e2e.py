"""The model-health view on a running API server: who may read it and publish its static copy, what it shows,
and that the stored-file page serves the files the view links to and nothing else."""

from __future__ import annotations

import re

import pytest

from include.health.publish import static_page_uri
from tests.hitl.airflow_users import AirflowWithUsers
from tests.hitl.health_world import CLEAR_HOUR, NIGHT_HOUR, HealthWorld

pytestmark = pytest.mark.e2e

CLEAR, NIGHT = f"{CLEAR_HOUR:%Y%m%dT%H%M}", f"{NIGHT_HOUR:%Y%m%dT%H%M}"


def report_path(world: HealthWorld, run_key: str, name: str = "index.html") -> str:
    key = world.reports[run_key].removeprefix(f"s3://{world.settings.bucket}/").rsplit("/", 1)[0]
    return f"/scones/health/object/{key}/{name}"


@pytest.fixture(scope="module")
def snapshot(airflow_with_users: AirflowWithUsers, health_world: HealthWorld) -> dict:
    return airflow_with_users.clients["victor"].ok("GET", "/scones/health/snapshot")


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/scones/health/"), ("GET", "/scones/health/snapshot"), ("POST", "/scones/health/publish"),
    ("GET", f"/scones/health/object/monitoring/scones-vehicle-classifier/{NIGHT}/report/index.html"),
    ("GET", f"/scones/health/object/routing/{NIGHT}/routing.json"),
])
def test_every_health_endpoint_needs_an_authenticated_user(airflow_with_users, method, path):
    assert airflow_with_users.anonymous.request(method, path).status_code == 401


def test_a_viewer_reads_the_view_but_may_not_publish_the_static_copy(airflow_with_users, health_world):
    viewer, store = airflow_with_users.clients["victor"], health_world.store
    before = store.get_bytes(static_page_uri(health_world.settings)) if store.exists(
        static_page_uri(health_world.settings)) else None
    assert viewer.request("GET", "/scones/health/").status_code == 200
    assert viewer.request("POST", "/scones/health/publish", json={}).status_code == 403
    after = store.get_bytes(static_page_uri(health_world.settings)) if store.exists(
        static_page_uri(health_world.settings)) else None
    assert after == before, "a refused publish writes nothing"


def test_the_endpoint_shows_the_serving_version_since_when_and_the_champion(snapshot, health_world):
    endpoint = snapshot["endpoint"]
    assert endpoint["serving"]["arn"] == health_world.serving_arn
    assert (endpoint["serving"]["accuracy"], endpoint["serving"]["ece"]) == (0.912, 0.031)
    assert endpoint["serving_since"] and endpoint["endpoint_config"] == f"scones-config-v{health_world.serving_version}"
    assert endpoint["problem"] is None


def test_the_registry_history_lists_versions_newest_first_with_metrics_and_reviewers(snapshot, health_world):
    versions = {row["version"]: row for row in snapshot["registry"]}
    assert [row["version"] for row in snapshot["registry"]] == sorted(versions, reverse=True)
    older = versions[health_world.older_version]
    assert (older["accuracy"], older["ece"], older["approved_by"], older["description"]) == (
        0.874, 0.061, "bob", "first model")
    assert versions[health_world.serving_version]["approved_by"] == "alice"


def test_the_drift_timeline_has_each_intervals_decision_distances_violations_and_report(snapshot, health_world):
    timeline = {row["run_key"]: row for row in snapshot["drift"]}
    night, clear = timeline[NIGHT], timeline[CLEAR]
    assert (night["decision"], clear["decision"]) == (health_world.decisions[NIGHT], "none") == ("retrain", "none")
    assert "baseline_drift_check:brightness" in night["violations"] and clear["violations"] == []
    assert night["distances"]["brightness"] > clear["distances"]["brightness"]
    assert night["max_distance"] == max(night["distances"].values()) and night["item_count"] == 300
    assert night["smallest_p_value"] < 0.001 < clear["smallest_p_value"]
    assert 0 < night["estimated_accuracy"] <= 1
    assert night["report_uri"] == health_world.reports[NIGHT]
    assert [row["run_key"] for row in snapshot["drift"]].index(NIGHT) < [
        row["run_key"] for row in snapshot["drift"]].index(CLEAR), "newest first"


def test_routing_totals_count_nearby_distant_review_and_failed_per_interval(snapshot, health_world):
    totals = {row["run_key"]: row for row in snapshot["routing"]}
    for run_key, expected in health_world.routing.items():
        row = totals[run_key]
        assert {name: row[name] for name in expected} == expected, run_key
        assert row["photos"] == sum(expected.values())
        assert row["interval_start"].startswith(f"{run_key[:4]}-{run_key[4:6]}-{run_key[6:8]}T{run_key[9:11]}:")


def test_the_review_queue_shows_its_size_and_the_age_of_its_oldest_photo(snapshot, health_world):
    review = snapshot["review"]
    assert review["waiting"] >= len(health_world.queued)
    assert review["oldest_queued_at"] and review["oldest_age_hours"] >= 0


def test_the_page_links_each_interval_to_its_report_and_routing_file(airflow_with_users, health_world):
    page = airflow_with_users.clients["victor"].request("GET", "/scones/health/")
    assert page.status_code == 200 and "<script" not in page.text
    assert f'href="{report_path(health_world, NIGHT)}"' in page.text
    assert f'href="/scones/health/object/routing/{NIGHT}/routing.json"' in page.text
    assert 'href="/scones/models/train-20260131T0000/evaluation"' in page.text
    assert re.search(r'<tr class="serving">\s*<td>' + str(health_world.serving_version) + " · serving", page.text)


def test_a_report_and_its_plots_are_served_from_the_store_without_scripts(airflow_with_users, health_world):
    viewer = airflow_with_users.clients["victor"]
    report = viewer.request("GET", report_path(health_world, NIGHT))
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert "script-src" not in report.headers["content-security-policy"]
    assert report.headers["content-security-policy"].startswith("default-src 'none'")
    for image in re.findall(r'<img src=["\']([^"\']+\.png)["\']', report.text):
        plot = viewer.request("GET", report_path(health_world, NIGHT, image))
        assert (plot.status_code, plot.headers["content-type"]) == (200, "image/png"), image
    routing = viewer.request("GET", f"/scones/health/object/routing/{NIGHT}/routing.json")
    assert routing.json()["counts"]["human_review"] == 3


@pytest.mark.parametrize("key", [
    "models/train-20260131T0000/model.tar.gz", f"monitoring/scones-vehicle-classifier/{NIGHT}/result/statistics.json",
    f"routing/{NIGHT}/../../models/train-20260131T0000/evaluation/evaluation.json", "routing/%2e%2e/x/routing.json",
    f"review/{NIGHT}/2026/02/01/10/x.png.json", "health/../registry/x.json", "datacapture/x/y.jsonl",
    f"monitoring/other-endpoint/{NIGHT}/report/index.html", "models/elsewhere-x/evaluation/evaluation.json",
])
def test_the_stored_file_page_serves_nothing_but_reports_routing_files_evaluations_and_the_page(
        airflow_with_users, health_world, key):
    response = airflow_with_users.clients["alice"].request("GET", f"/scones/health/object/{key}")
    assert response.status_code == 404, (key, response.status_code)


def test_publishing_writes_the_static_copy_whose_links_need_no_application_page_but_the_stored_files(
        airflow_with_users, health_world):
    answer = airflow_with_users.clients["alice"].ok("POST", "/scones/health/publish", json={})
    settings, store = health_world.settings, health_world.store
    assert answer["uri"] == static_page_uri(settings) and answer["published_by"] == "alice"
    page = store.get_bytes(static_page_uri(settings)).decode()
    assert "a static copy" in page and "<script" not in page
    base = f"{airflow_with_users.url}/scones/health/object/"
    assert f'href="{report_path(health_world, NIGHT).replace("/scones/health/object/", base)}"' in page
    assert f'href="{base}routing/{NIGHT}/routing.json"' in page
    served = airflow_with_users.clients["victor"].request("GET", "/scones/health/object/health/index.html")
    assert served.status_code == 200 and served.text == page


def test_a_publish_request_must_be_json(airflow_with_users):
    response = airflow_with_users.clients["alice"].request("POST", "/scones/health/publish", data={"x": "1"})
    assert response.status_code == 415


def test_the_ui_lists_the_model_health_view_and_its_static_copy(airflow_with_users):
    plugins = airflow_with_users.clients["victor"].ok("GET", "/api/v2/plugins")["plugins"]
    views = {view["name"]: view for view in next(p for p in plugins if p["name"] == "scones")["external_views"]}
    assert (views["Model health"]["href"], views["Model health"]["url_route"]) == ("/scones/health/", "scones-health")
    assert views["Model health (bucket copy)"]["href"].endswith("/scones/health/object/health/index.html")
