"""inference.py under the SageMaker PyTorch serving contract."""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
from collections.abc import Callable

import inference
import pytest
from drawn_vehicles import draw_vehicle
from inference import UnsupportedInputError, input_fn, model_fn, output_fn, predict_fn
from model_test_support import TrainingRun
from PIL import Image


def encoded(image: Image.Image, image_format: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format)
    return buffer.getvalue()


def photo(size: tuple[int, int]) -> Image.Image:
    return draw_vehicle("motorcycle", random.Random(0), size=size)


@pytest.fixture(scope="module")
def served_model(trained_job: TrainingRun) -> inference.VehicleClassifier:
    return model_fn(str(trained_job.model_dir))


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("image/png", lambda: encoded(photo((57, 31)), "PNG")),
        ("image/jpeg", lambda: encoded(photo((640, 427)), "JPEG")),
        ("application/x-image", lambda: encoded(photo((33, 200)), "PNG")),
    ],
)
def test_images_of_any_size_give_two_probabilities_summing_to_one(
    served_model: inference.VehicleClassifier, content_type: str, body: Callable[[], bytes]
) -> None:
    response, response_type = output_fn(predict_fn(input_fn(body(), content_type), served_model), "application/json")
    probabilities = json.loads(response)
    assert response_type == "application/json"
    assert len(probabilities) == 2
    assert sum(probabilities) == pytest.approx(1.0, abs=1e-6)


def test_non_image_body_is_an_unsupported_input() -> None:
    with pytest.raises(UnsupportedInputError, match="not a decodable image"):
        input_fn(b"%PDF-1.7 definitely not an image", "image/png")


def test_unsupported_content_type_is_refused() -> None:
    with pytest.raises(UnsupportedInputError, match="content type 'text/csv' is not supported"):
        input_fn(b"1,2,3", "text/csv")


def test_unsupported_accept_type_is_refused(served_model: inference.VehicleClassifier) -> None:
    prediction = predict_fn(input_fn(encoded(photo((32, 32)), "PNG"), "image/png"), served_model)
    with pytest.raises(UnsupportedInputError, match="accept type 'text/csv'"):
        output_fn(prediction, "text/csv")


def test_decompression_bomb_is_refused_before_decoding() -> None:
    bomb = encoded(Image.new("1", (8000, 6000)), "PNG")
    with pytest.raises(UnsupportedInputError, match=r"8000x6000 pixels .*over the 40000000-pixel limit"):
        input_fn(bomb, "image/png")


def test_code_folder_serves_without_the_source_tree(trained_job: TrainingRun) -> None:
    code_dir = trained_job.model_dir / "code"
    script = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import inference; "
        "model = inference.model_fn(sys.argv[2]); "
        "body = open(sys.argv[3], 'rb').read(); "
        "print(inference.output_fn(inference.predict_fn(inference.input_fn(body, 'image/png'), model), '*/*')[0])"
    )
    image = sorted((trained_job.partition / "test" / "bicycle").glob("*.png"))[0]
    result = subprocess.run(
        [sys.executable, "-I", "-B", "-c", script, str(code_dir), str(trained_job.model_dir), str(image)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert sum(json.loads(result.stdout)) == pytest.approx(1.0, abs=1e-6)
