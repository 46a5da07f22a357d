"""Blue/green deployment through the admin API: traffic moves only to a model that loaded and answered."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest

from include.runtime.local.model_server_control import (
    ModelServerError,
    delete_endpoint,
    deploy_model,
    describe_endpoint,
    stop_server,
)

ENDPOINT = "scones-endpoint"
RED = (255, 0, 0)


def classify_red_with(client, make_image) -> list[float]:
    response = client.invoke_endpoint(EndpointName=ENDPOINT, ContentType="image/png", Body=make_image(RED))
    return json.loads(response["Body"].read())


def classify_red(url: str, make_image, make_runtime_client) -> list[float]:
    return classify_red_with(make_runtime_client(url), make_image)


def test_describe_reports_the_deployed_config(deployed_url, model_artifact):
    description = describe_endpoint(deployed_url, ENDPOINT)
    assert {key: description[key] for key in ("endpoint_name", "config_name", "model_data", "status", "variant")} == {
        "endpoint_name": ENDPOINT,
        "config_name": "scones-config-1",
        "model_data": str(model_artifact),
        "status": "InService",
        "variant": "AllTraffic",
    }


def test_two_models_with_different_code_serve_one_after_another(
    deployed_url, make_model_artifact, make_image, make_runtime_client
):
    assert classify_red(deployed_url, make_image, make_runtime_client) == [1.0, 0.0]
    deploy_model(deployed_url, ENDPOINT, make_model_artifact("green", red_is_first_class=False))
    assert classify_red(deployed_url, make_image, make_runtime_client) == [0.0, 1.0]


def test_swap_back_to_the_first_code_reloads_it(
    deployed_url, model_artifact, make_model_artifact, make_image, make_runtime_client
):
    deploy_model(deployed_url, ENDPOINT, make_model_artifact("green", red_is_first_class=False))
    deploy_model(deployed_url, ENDPOINT, model_artifact, config_name="scones-config-3")
    assert classify_red(deployed_url, make_image, make_runtime_client) == [1.0, 0.0]


def test_two_endpoints_with_same_module_names_serve_side_by_side(
    deployed_url, make_model_artifact, make_image, make_runtime_client
):
    deploy_model(deployed_url, "green-endpoint", make_model_artifact("green", red_is_first_class=False))
    green = make_runtime_client(deployed_url).invoke_endpoint(
        EndpointName="green-endpoint", ContentType="image/png", Body=make_image(RED)
    )
    assert json.loads(green["Body"].read()) == [0.0, 1.0]
    assert classify_red(deployed_url, make_image, make_runtime_client) == [1.0, 0.0]


def test_swap_under_traffic_drops_no_request(deployed_url, make_model_artifact, make_image, make_runtime_client):
    client = make_runtime_client(deployed_url)
    answers: list[list[float]] = []
    errors: list[Exception] = []
    swapped = threading.Event()

    def invoke_until_after_swap() -> None:
        for _ in range(400):
            try:
                answers.append(classify_red_with(client, make_image))
            except Exception as error:
                errors.append(error)
            if swapped.is_set():
                return

    traffic = threading.Thread(target=invoke_until_after_swap)
    traffic.start()
    deploy_model(deployed_url, ENDPOINT, make_model_artifact("green", red_is_first_class=False))
    swapped.set()
    traffic.join(timeout=60)
    assert errors == []
    assert {tuple(answer) for answer in answers} <= {(1.0, 0.0), (0.0, 1.0)}
    assert classify_red_with(client, make_image) == [0.0, 1.0]


def test_describe_reports_the_new_config_after_a_swap(deployed_url, make_model_artifact):
    green = make_model_artifact("green", red_is_first_class=False)
    deploy_model(deployed_url, ENDPOINT, green, config_name="scones-config-2")
    description = describe_endpoint(deployed_url, ENDPOINT)
    assert (description["config_name"], description["model_data"]) == ("scones-config-2", str(green))


def test_corrupt_archive_is_refused_and_the_old_model_keeps_serving(
    deployed_url, tmp_path, make_image, make_runtime_client
):
    corrupt = tmp_path / "corrupt" / "model.tar.gz"
    corrupt.parent.mkdir()
    corrupt.write_bytes(b"\x1f\x8b\x08\x00 truncated gzip")
    with pytest.raises(ModelServerError, match=r"HTTP 409.*not a readable tar.gz"):
        deploy_model(deployed_url, ENDPOINT, corrupt, config_name="scones-config-2")
    assert classify_red(deployed_url, make_image, make_runtime_client) == [1.0, 0.0]


def test_model_fn_raising_is_refused_and_the_old_config_stays_described(deployed_url, make_model_artifact):
    broken = make_model_artifact("broken", fail_in_model_fn=True)
    with pytest.raises(ModelServerError, match=r"HTTP 409.*weights are corrupt"):
        deploy_model(deployed_url, ENDPOINT, broken, config_name="scones-config-2")
    description = describe_endpoint(deployed_url, ENDPOINT)
    assert (description["config_name"], description["status"]) == ("scones-config-1", "InService")
    assert "weights are corrupt" in description["failure_reason"]


def test_failed_first_deploy_leaves_the_server_without_a_model(server_url, make_model_artifact):
    with pytest.raises(ModelServerError, match=r"HTTP 409"):
        deploy_model(server_url, ENDPOINT, make_model_artifact("broken", fail_in_model_fn=True))
    with pytest.raises(urllib.error.HTTPError) as ping:
        urllib.request.urlopen(f"{server_url}/ping", timeout=10)
    assert ping.value.code == 503


def test_missing_model_data_is_a_400_naming_the_path(server_url, tmp_path):
    with pytest.raises(ModelServerError, match=r"HTTP 400.*model.tar.gz"):
        deploy_model(server_url, ENDPOINT, tmp_path / "absent" / "model.tar.gz")


def test_deleted_endpoint_is_no_longer_described(deployed_url):
    delete_endpoint(deployed_url, ENDPOINT)
    with pytest.raises(ModelServerError, match=r"HTTP 404"):
        describe_endpoint(deployed_url, ENDPOINT)


def test_endpoints_are_restored_when_the_server_restarts(
    start_server, model_artifact, tmp_path, make_image, make_runtime_client
):
    url = start_server()
    deploy_model(url, ENDPOINT, model_artifact, config_name="scones-config-1")
    stop_server(tmp_path / "state")
    restarted = start_server()
    assert describe_endpoint(restarted, ENDPOINT)["config_name"] == "scones-config-1"
    assert classify_red(restarted, make_image, make_runtime_client) == [1.0, 0.0]
