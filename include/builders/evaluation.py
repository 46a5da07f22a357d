"""Processing requests that judge a trained model: evaluation on the test split, and its drift baseline."""

from __future__ import annotations

from include.builders.common import PROCESSING_ROOT, processing_image_uri, processing_request, s3_input, s3_output
from include.settings import Settings

CODE_DIR = f"{PROCESSING_ROOT}/code"
EVALUATION_DIR = f"{PROCESSING_ROOT}/evaluation"
BASELINE_DIR = f"{PROCESSING_ROOT}/output/baseline"
BASELINE_MODEL_DIR = f"{PROCESSING_ROOT}/input/model"
CAPTURE_FILE = "validation_capture.jsonl"


def evaluation_request(
    settings: Settings,
    *,
    run_key: str,
    job_name: str,
    code_uri: str,
    model_data_url: str,
    partition_uri: str,
    champion_model_data_url: str | None,
    output_uri: str,
) -> dict:
    """Score the candidate (and the champion, re-scored on the same test split) with ``evaluate.py``.

    It also writes the candidate's predictions on the validation split as Data Capture records,
    the input of the drift baseline.
    """
    partition = partition_uri.rstrip("/")
    inputs = [
        s3_input("code", code_uri, CODE_DIR),
        s3_input("model", model_data_url, f"{PROCESSING_ROOT}/model"),
        s3_input("test", f"{partition}/test/", f"{PROCESSING_ROOT}/test"),
        s3_input("validation", f"{partition}/validation/", f"{PROCESSING_ROOT}/validation"),
    ]
    arguments = [
        "--model-dir", f"{PROCESSING_ROOT}/model",
        "--test-dir", f"{PROCESSING_ROOT}/test",
        "--output-dir", EVALUATION_DIR,
        "--capture-dir", f"{PROCESSING_ROOT}/validation",
        "--capture-output", f"{EVALUATION_DIR}/{CAPTURE_FILE}",
    ]
    if champion_model_data_url:
        inputs.append(s3_input("champion", champion_model_data_url, f"{PROCESSING_ROOT}/champion"))
        arguments += ["--champion-dir", f"{PROCESSING_ROOT}/champion"]
    return processing_request(
        settings, job_name=job_name, run_key=run_key, workflow="evaluate",
        image_uri=processing_image_uri(settings),
        entrypoint=["python3", f"{CODE_DIR}/evaluate.py"], arguments=arguments, inputs=inputs,
        outputs=[s3_output("evaluation", output_uri, EVALUATION_DIR)],
    )


def baseline_request(
    settings: Settings,
    *,
    run_key: str,
    job_name: str,
    code_uri: str,
    capture_uri: str,
    output_uri: str,
    model_data_url: str | None = None,
) -> dict:
    """Drift baseline: the analyzer's statistics and suggested constraints over validation predictions.

    With ``monitor.embedding_drift`` and the model, also the embeddings of a seeded sample of the
    validation photos (``embeddings.npy``), what the embedding drift check compares windows with.
    """
    inputs = [s3_input("code", code_uri, CODE_DIR),
              s3_input("capture", capture_uri, f"{PROCESSING_ROOT}/input/capture")]
    embedding_arguments: list[str] = []
    if settings.monitor.embedding_drift and model_data_url:
        inputs.append(s3_input("model", model_data_url, BASELINE_MODEL_DIR))
        embedding_arguments = ["--embedding-model", BASELINE_MODEL_DIR,
                               "--mmd-baseline-records", str(settings.monitor.mmd_baseline_records),
                               "--mmd-seed", str(settings.monitor.mmd_seed)]
    return processing_request(
        settings, job_name=job_name, run_key=run_key, workflow="baseline",
        image_uri=settings.images.monitor_uri or processing_image_uri(settings),
        entrypoint=["python3", f"{CODE_DIR}/analyzer.py"],
        arguments=[
            "--mode", "baseline",
            "--dataset-source", f"{PROCESSING_ROOT}/input/capture",
            "--output-path", BASELINE_DIR,
            "--confidence-threshold", str(settings.confidence_threshold),
            "--comparison-threshold", str(settings.monitor.comparison_threshold),
            "--categorical-comparison-threshold", str(settings.monitor.categorical_comparison_threshold),
            *embedding_arguments,
        ],
        inputs=inputs,
        outputs=[s3_output("baseline", output_uri, BASELINE_DIR)],
        environment={"SCONES_MESSAGE_PATH": f"{PROCESSING_ROOT}/output/message"},
    )
