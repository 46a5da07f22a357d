"""The model-health view and the review tool in a real browser: headless Chromium, driven through the DevTools
protocol, signs in to the running API server as a configured user through Airflow's login form, reads the view
inside the Airflow UI, opens a report through its link and labels two photos in the review queue.

Screenshots are kept under ``build/screenshots/`` (and the run's temporary folder). Without Chromium on the
machine these tests skip and say how to install it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from include.review import label_record
from include.settings import PROJECT_ROOT
from tests.hitl.airflow_users import AirflowWithUsers
from tests.hitl.health_world import NIGHT_HOUR, HealthWorld
from tests.support.browser import Chromium, Page, find_chromium

pytestmark = pytest.mark.e2e

CHROMIUM, NO_CHROMIUM = find_chromium()
SCREENSHOTS = PROJECT_ROOT / "build" / "screenshots"
NIGHT = f"{NIGHT_HOUR:%Y%m%dT%H%M}"
VIEW = "document.querySelector('iframe')?.contentDocument"
"""The model-health view inside the UI's plugin page (an iframe on the same origin)."""


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    if CHROMIUM is None:
        pytest.skip(NO_CHROMIUM)
    chromium = Chromium(CHROMIUM, tmp_path_factory.mktemp("chromium"))
    try:
        yield chromium
    finally:
        chromium.stop()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("screenshots")
    yield folder
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for shot in folder.glob("*.png"):
        shutil.copy(shot, SCREENSHOTS / shot.name)


@pytest.fixture(scope="module")
def page(browser: Chromium, airflow_with_users: AirflowWithUsers, health_world: HealthWorld) -> Page:
    """A tab signed in as alice through the simple auth manager's login form."""
    tab = browser.new_page()
    tab.goto(f"{airflow_with_users.url}/auth/login")
    password = json.loads((airflow_with_users.root / "airflow-home" / "passwords.json").read_text())["alice"]
    tab.type_into("input[name=username]", "alice")
    tab.type_into("input[type=password]", password)
    tab.wait_for("!document.querySelector('button[type=submit]').disabled", "the sign-in button to be enabled")
    tab.click("button[type=submit]")
    tab.wait_for("document.cookie.includes('_token=') && !location.pathname.startsWith('/auth/')", "signing in")
    return tab


def test_the_view_in_the_airflow_ui_shows_the_serving_model_drift_routing_and_queue(
        page, airflow_with_users, health_world, screenshots):
    page.goto(f"{airflow_with_users.url}/plugin/scones-health")
    page.wait_for(f"!!{VIEW}?.querySelector('#registry')", "the model-health view inside the UI")
    page.evaluate("document.querySelector('iframe').style.height = '1100px'")
    shown = page.evaluate(f"""(() => {{ const view = {VIEW};
        const row = key => [...view.querySelectorAll(`#routing tr[data-run-key="${{key}}"] td`)]
          .map(c => c.textContent);
        return {{serving: view.querySelector('#serving .big').textContent,
                 champion: view.querySelector('#champion .big').textContent,
                 night: view.querySelector('#drift tr[data-run-key="{NIGHT}"]').textContent,
                 routing: row('{NIGHT}'), queue: view.querySelector('#review-queue .big').textContent}}; }})()""")
    assert shown["serving"] == shown["champion"] == f"version {health_world.serving_version}"
    assert "retrain" in shown["night"] and "baseline_drift_check:brightness" in shown["night"]
    assert shown["routing"][1:6] == ["4", "1", "0", "2", "1"], "photos, nearby, distant, review, failed"
    assert int(shown["queue"].split()[0]) >= len(health_world.queued)
    page.screenshot(screenshots / "model-health.png")


def test_a_report_opens_through_its_link_with_its_plots(page, airflow_with_users, screenshots):
    page.goto(f"{airflow_with_users.url}/scones/health/")
    page.click(f"#drift tr[data-run-key='{NIGHT}'] a.report")
    page.wait_for("location.pathname.endsWith('/report/index.html') && document.readyState === 'complete'",
                  "the report to open")
    images = page.wait_for("(() => { const all = [...document.images]; return all.length && "
                           "all.every(i => i.complete) && all.map(i => i.naturalWidth); })()", "the report's plots")
    assert all(width > 0 for width in images), f"every plot loads: {images}"
    assert "brightness" in page.evaluate("document.body.textContent")
    page.screenshot(screenshots / "drift-report.png")


def test_labelling_two_photos_in_the_review_tool_files_them_and_the_view_counts_them_gone(
        page, airflow_with_users, health_world, screenshots):
    settings, store = health_world.settings, health_world.store
    before = airflow_with_users.clients["alice"].ok("GET", "/scones/health/snapshot")["review"]["waiting"]
    page.goto(f"{airflow_with_users.url}/scones/review/")
    page.wait_for("[...document.images].every(i => i.complete)", "the thumbnails")
    page.screenshot(screenshots / "review-queue.png")
    chosen = health_world.queued[:2]
    for key, label in zip(chosen, ("bicycle", "motorcycle"), strict=True):
        page.click(f"article[data-photo='{key}'] button[data-label='{label}']")
    statuses = page.wait_for(
        "(() => { const s = " + json.dumps(chosen) + ".map(k => document.querySelector(`article[data-photo='${k}'] "
        ".status`).textContent); return s.every(t => t.startsWith('labelled')) && s; })()", "both labels saved")
    assert statuses == ["labelled bicycle by alice", "labelled motorcycle by alice"]
    page.screenshot(screenshots / "review-labelled.png")
    for key, label in zip(chosen, ("bicycle", "motorcycle"), strict=True):
        record = label_record(store, settings.s3_uri(key))
        assert (record["reviewer"], record["label"], record["via"]) == ("alice", label, "review page")
        assert store.exists(record["labelled_uri"]) and f"/labelled/{label}/" in record["labelled_uri"]
        assert not store.exists(settings.s3_uri(key)), "the photo left the queue"
    page.goto(f"{airflow_with_users.url}/scones/health/")
    assert page.evaluate("document.querySelector('#review-queue .big').textContent") == f"{before - 2} waiting"
