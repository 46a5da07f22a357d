"""The review queue on a running API server: who may see and label, what labelling does to the store, and that
no parameter reaches a file outside the review and capture prefixes."""

from __future__ import annotations

import io
import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from PIL import Image

from include.builders.registry import approval_update_request
from include.review import label_record
from include.runtime.local.registry import LocalModelRegistry
from include.runtime.local.store import LocalObjectStore
from tests.hitl.airflow_users import AirflowWithUsers
from tests.unit.test_approval_steps import EVALUATION
from tests.unit.test_registry_approval import pending_request

pytestmark = pytest.mark.e2e

RUN_KEY = "20260301T1000"
NOTE = {"courier_photo": "", "execution": "x", "confidence": 0.58, "inferences": [0.42, 0.58],
        "reason": "LowConfidenceError: confidence 0.5800 for motorcycle is below CONFIDENCE_THRESHOLD=0.93"}


def png(colour: tuple[int, int, int], size: int = 400) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def queued(airflow_with_users: AirflowWithUsers) -> dict[str, str]:
    """Photos in the review queue, each with its inference note, keyed by name."""
    settings = airflow_with_users.settings
    store = LocalObjectStore(settings.data_root)
    keys = {}
    for index, name in enumerate(["alpha", "bravo", "charlie", "delta", "echo"]):
        key = f"review/{RUN_KEY}/2026/03/01/10/{name}.png"
        store.put_bytes(settings.s3_uri(key), png((40 * index, 90, 160)))
        store.put_bytes(settings.s3_uri(key) + ".json", json.dumps({**NOTE, "courier_photo": key}).encode())
        keys[name] = key
    return keys


@pytest.fixture
def store(airflow_with_users: AirflowWithUsers) -> LocalObjectStore:
    return LocalObjectStore(airflow_with_users.settings.data_root)


def label(env: AirflowWithUsers, user: str, photo: str, choice: str) -> httpx.Response:
    return env.clients[user].request("POST", "/scones/review/labels", json={"photo": photo, "label": choice})


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/scones/review/"), ("GET", "/scones/review/queue"), ("GET", "/scones/review/photo?key=review/a.png"),
    ("GET", "/scones/review/thumbnail?key=review/a.png"), ("POST", "/scones/review/labels"),
    ("GET", "/scones/models/train-approve/evaluation"),
])
def test_every_endpoint_needs_an_authenticated_user(airflow_with_users, method, path):
    assert airflow_with_users.anonymous.request(method, path).status_code == 401


def test_a_viewer_sees_the_queue_but_may_not_label(airflow_with_users, queued, store):
    viewer = airflow_with_users.clients["victor"]
    page = viewer.request("GET", "/scones/review/")
    assert page.status_code == 200 and "labelling needs edit access" in page.text
    assert label(airflow_with_users, "victor", queued["echo"], "bicycle").status_code == 403
    assert store.exists(airflow_with_users.settings.s3_uri(queued["echo"])), "nothing moved"


def test_the_page_shows_each_photo_with_its_probabilities_reason_and_interval(airflow_with_users, queued):
    page = airflow_with_users.clients["alice"].request("GET", "/scones/review/")
    assert page.status_code == 200
    assert "signed in as alice" in page.text and "oldest first" in page.text
    assert "bicycle 42.0% · motorcycle 58.0%" in page.text
    assert "2026-03-01 10:00 to 11:00 UTC" in page.text and "below CONFIDENCE_THRESHOLD" in page.text
    assert page.text.count('data-label="not-a-vehicle"') >= len(queued), "many photos on one page"


def test_the_ui_cookie_authenticates_the_page_as_the_signed_in_user(airflow_with_users, queued):
    token = airflow_with_users.clients["bob"].token
    with httpx.Client(base_url=airflow_with_users.url, cookies={"_token": token}, trust_env=False) as browser:
        page = browser.get("/scones/review/")
    assert page.status_code == 200 and "signed in as bob" in page.text


def test_photos_and_thumbnails_are_served_from_the_queue(airflow_with_users, queued, store):
    alice = airflow_with_users.clients["alice"]
    photo = alice.request("GET", "/scones/review/photo", params={"key": queued["alpha"]})
    assert (photo.status_code, photo.headers["content-type"]) == (200, "image/png")
    assert photo.content == store.get_bytes(airflow_with_users.settings.s3_uri(queued["alpha"]))
    thumbnail = alice.request("GET", "/scones/review/thumbnail", params={"key": queued["alpha"]})
    assert Image.open(io.BytesIO(thumbnail.content)).size == (256, 256)


def test_no_parameter_reaches_a_file_outside_the_review_and_capture_prefixes(airflow_with_users, store, tmp_path):
    settings = airflow_with_users.settings
    secret = b"\x89PNG\r\n\x1a\n not for reviewers"
    store.put_bytes(settings.s3_uri("models/train-x/model.png"), secret)
    outside = settings.data_root.parent / "outside.png"
    outside.write_bytes(secret)
    link = settings.data_root / settings.bucket / "review" / "escape.png"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(outside)
    alice = airflow_with_users.clients["alice"]
    for key in ["models/train-x/model.png", "review/../models/train-x/model.png", "/review/../models/train-x/model.png",
                "review/%2e%2e/models/train-x/model.png", f"s3://{settings.bucket}/models/train-x/model.png",
                "review\\..\\models\\train-x\\model.png", "../../outside.png", "review/escape.png",
                "datacapture/../models/train-x/model.png", "review/" + "../" * 8 + str(Path(outside).relative_to("/"))]:
        for endpoint in ("photo", "thumbnail"):
            response = alice.request("GET", f"/scones/review/{endpoint}", params={"key": key})
            assert response.status_code in (400, 404), (endpoint, key, response.status_code)
            assert secret not in response.content, (endpoint, key)


def test_labelling_files_the_photo_and_records_the_reviewer(airflow_with_users, queued, store):
    settings = airflow_with_users.settings
    response = label(airflow_with_users, "alice", queued["alpha"], "bicycle")
    assert response.status_code == 200, response.text
    filed = settings.s3_uri(f"incoming/labelled/bicycle/{RUN_KEY}-2026-03-01-10-alpha.png")
    assert response.json()["labelled_uri"] == filed and response.json()["reviewer"] == "alice"
    assert store.exists(filed) and not store.exists(settings.s3_uri(queued["alpha"]))
    record = label_record(store, settings.s3_uri(queued["alpha"]))
    assert (record["reviewer"], record["label"], record["via"]) == ("alice", "bicycle", "review page")
    waiting = airflow_with_users.clients["alice"].ok("GET", "/scones/review/queue")["photos"]
    assert queued["alpha"] not in [photo["key"] for photo in waiting]


def test_not_a_vehicle_is_filed_where_ingest_never_looks(airflow_with_users, queued, store):
    settings = airflow_with_users.settings
    assert label(airflow_with_users, "bob", queued["bravo"], "not-a-vehicle").status_code == 200
    assert store.exists(settings.s3_uri(f"incoming/not-a-vehicle/{RUN_KEY}-2026-03-01-10-bravo.png"))
    assert not any("bravo" in info.uri for info in store.list(settings.s3_uri("incoming/labelled/")))


def test_two_reviewers_labelling_one_photo_at_once_have_exactly_one_winner(airflow_with_users, queued, store):
    settings = airflow_with_users.settings
    barrier = threading.Barrier(2)
    answers: dict[str, httpx.Response] = {}

    def review(user: str, choice: str) -> None:
        barrier.wait(timeout=10)
        answers[user] = label(airflow_with_users, user, queued["charlie"], choice)

    threads = [threading.Thread(target=review, args=args) for args in (("alice", "bicycle"), ("bob", "motorcycle"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(response.status_code for response in answers.values()) == [200, 409]
    winner = next(user for user, response in answers.items() if response.status_code == 200)
    record = label_record(store, settings.s3_uri(queued["charlie"]))
    assert record["reviewer"] == winner
    copies = [info.uri for info in store.list(settings.s3_uri("incoming/")) if "charlie" in info.uri]
    assert copies == [record["labelled_uri"]]
    loser = next(response for response in answers.values() if response.status_code == 409)
    assert f"by {winner}" in loser.json()["detail"]


def test_a_label_must_be_json(airflow_with_users, queued):
    response = airflow_with_users.clients["alice"].request(
        "POST", "/scones/review/labels", data={"photo": queued["delta"], "label": "bicycle"})
    assert response.status_code == 415


def test_the_evaluation_report_shows_the_metrics_and_the_decision(airflow_with_users, store):
    settings = airflow_with_users.settings
    store.put_bytes(settings.s3_uri("models/train-report/evaluation/evaluation.json"), json.dumps(EVALUATION).encode())
    registry = LocalModelRegistry(settings)
    version = registry.register(pending_request(settings, "train-report"))
    registry.update_approval(approval_update_request(version, "Approved", reviewer="alice", at=datetime.now(UTC),
                                                     via="Airflow", note="better at night"))
    page = airflow_with_users.clients["victor"].request("GET", "/scones/models/train-report/evaluation")
    assert page.status_code == 200
    assert "Approved" in page.text and "by alice" in page.text and "better at night" in page.text
    assert "<td>accuracy</td><td>0.9120</td><td>0.8870</td>" in page.text
    assert airflow_with_users.clients["victor"].request(
        "GET", "/scones/models/elsewhere-x/evaluation").status_code == 404


def test_the_ui_lists_the_review_queue_as_a_page(airflow_with_users):
    plugins = airflow_with_users.clients["victor"].ok("GET", "/api/v2/plugins")["plugins"]
    scones = next(plugin for plugin in plugins if plugin["name"] == "scones")
    assert scones["external_views"][0]["href"] == "/scones/review/"
    assert scones["fastapi_apps"][0]["url_prefix"] == "/scones"
