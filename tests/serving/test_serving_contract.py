"""The container contract and the SageMaker Runtime InvokeEndpoint API, over real HTTP and boto3."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

ENDPOINT = "scones-endpoint"
RED = (255, 0, 0)
BLUE = (0, 0, 255)


def http(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None):
    """(status, headers, body) of a plain HTTP request, errors included."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_ping_answers_503_before_any_deploy(server_url):
    status, _, _ = http("GET", f"{server_url}/ping")
    assert status == 503


def test_ping_answers_200_after_deploy(shared_deployed_url):
    status, _, body = http("GET", f"{shared_deployed_url}/ping")
    assert (status, json.loads(body)["endpoints"]) == (200, [ENDPOINT])


def test_container_invocations_return_the_handler_output(shared_deployed_url, make_image):
    status, headers, body = http(
        "POST", f"{shared_deployed_url}/invocations", make_image(RED), {"Content-Type": "image/png"}
    )
    assert (status, headers["Content-Type"], json.loads(body)) == (200, "application/json", [1.0, 0.0])


def test_container_invocations_answer_415_json_for_unsupported_content_type(shared_deployed_url):
    status, _, body = http("POST", f"{shared_deployed_url}/invocations", b"a,b", {"Content-Type": "text/csv"})
    assert status == 415
    assert "text/csv" in json.loads(body)["message"]


def test_container_invocations_answer_400_json_for_a_non_image_body(shared_deployed_url):
    status, _, body = http("POST", f"{shared_deployed_url}/invocations", b"not a png", {"Content-Type": "image/png"})
    assert (status, json.loads(body)["type"]) == (400, "UnsupportedInputError")


def test_invoke_endpoint_with_boto3_returns_probabilities(shared_deployed_url, make_image, make_runtime_client):
    response = make_runtime_client(shared_deployed_url).invoke_endpoint(
        EndpointName=ENDPOINT, ContentType="image/png", Accept="application/json", Body=make_image(BLUE)
    )
    assert json.loads(response["Body"].read()) == [0.0, 1.0]


def test_invoke_endpoint_names_the_invoked_production_variant(shared_deployed_url, make_image, make_runtime_client):
    response = make_runtime_client(shared_deployed_url).invoke_endpoint(
        EndpointName=ENDPOINT, ContentType="image/png", Body=make_image(RED)
    )
    assert (response["InvokedProductionVariant"], response["ContentType"]) == (
        "AllTraffic",
        "application/json",
    )


def test_invoke_endpoint_accepts_jpeg(shared_deployed_url, make_image, make_runtime_client):
    response = make_runtime_client(shared_deployed_url).invoke_endpoint(
        EndpointName=ENDPOINT, ContentType="image/jpeg", Body=make_image(RED, "JPEG")
    )
    first, second = json.loads(response["Body"].read())
    assert first > 0.95 and second < 0.05


def test_invoke_endpoint_finds_the_server_through_the_standard_env_var(
    shared_deployed_url, make_image, make_runtime_client, monkeypatch
):
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", shared_deployed_url)
    response = make_runtime_client().invoke_endpoint(
        EndpointName=ENDPOINT, ContentType="image/png", Body=make_image(RED)
    )
    assert json.loads(response["Body"].read()) == [1.0, 0.0]


def test_non_image_body_raises_model_error_carrying_400(shared_deployed_url, make_runtime_client):
    with pytest.raises(ClientError) as raised:
        make_runtime_client(shared_deployed_url).invoke_endpoint(
            EndpointName=ENDPOINT, ContentType="image/png", Body=b"%PDF-1.7 not an image"
        )
    response = raised.value.response
    assert response["Error"]["Code"] == "ModelError"
    assert (response["ResponseMetadata"]["HTTPStatusCode"], response["OriginalStatusCode"]) == (424, 400)


def test_unsupported_content_type_raises_model_error_carrying_415(shared_deployed_url, make_runtime_client):
    with pytest.raises(ClientError) as raised:
        make_runtime_client(shared_deployed_url).invoke_endpoint(
            EndpointName=ENDPOINT, ContentType="text/plain", Body=b"a bicycle, honestly"
        )
    assert (raised.value.response["Error"]["Code"], raised.value.response["OriginalStatusCode"]) == (
        "ModelError",
        415,
    )


def test_unknown_endpoint_raises_validation_error(shared_deployed_url, make_image, make_runtime_client):
    with pytest.raises(ClientError) as raised:
        make_runtime_client(shared_deployed_url).invoke_endpoint(
            EndpointName="no-such-endpoint", ContentType="image/png", Body=make_image(RED)
        )
    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationError"
    assert "no-such-endpoint" in error["Message"]


def test_oversize_payload_is_refused_with_413(shared_deployed_url):
    status, _, body = http(
        "POST", f"{shared_deployed_url}/invocations", b"\0" * (7 * 1024 * 1024), {"Content-Type": "image/png"}
    )
    assert status == 413
    assert "limit" in json.loads(body)["message"]


def test_output_fn_returning_only_a_body_is_served_as_the_accept_type(
    server_url, make_model_artifact, make_image, make_runtime_client
):
    from include.runtime.local.model_server_control import deploy_model

    deploy_model(server_url, ENDPOINT, make_model_artifact("body-only", output_returns_tuple=False))
    response = make_runtime_client(server_url).invoke_endpoint(
        EndpointName=ENDPOINT, ContentType="image/png", Accept="application/json", Body=make_image(RED)
    )
    assert (response["ContentType"], json.loads(response["Body"].read())) == ("application/json", [1.0, 0.0])


def test_concurrent_invocations_all_get_their_own_answer(shared_deployed_url, make_image, make_runtime_client):
    client = make_runtime_client(shared_deployed_url)
    colours = [RED, BLUE] * 24

    def classify(colour: tuple[int, int, int]) -> list[float]:
        response = client.invoke_endpoint(EndpointName=ENDPOINT, ContentType="image/png", Body=make_image(colour))
        return json.loads(response["Body"].read())

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(classify, colours))
    assert answers == [[1.0, 0.0] if colour == RED else [0.0, 1.0] for colour in colours]
