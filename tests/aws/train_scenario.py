"""Training, evaluation and baseline jobs as moto cannot run them, for scones_train and scones_tune.

Each job's outputs appear where its request says when it is created; each job is still
running at first look, so the provider's deferrable operators defer to their trigger. Manual
runs get the run id the UI gives a run triggered at its logical date, so a re-run has the same key.
The last helpers prepare the account before a run and read a finished run's metadata DB.
"""

from __future__ import annotations

import io
import json
import sqlite3
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from include.storage import S3Uri
from programs.model.data_capture import capture_record
from tests.aws.ingest_scenario import fake_partition, png_bytes
from tests.aws.recorder import RequestRecorder
from tests.aws.simulations import job_running_at_first_look, processing_job_running_at_first_look

PASSING_ACCURACY = 0.95
FAILING_ACCURACY = 0.6
FINAL_METRICS = {"train:loss": 0.21, "train:accuracy": 0.93, "validation:loss": 0.18, "validation:accuracy": 0.94}
CAPTURE_IMAGES = 4


def model_archive() -> bytes:
    """A small ``model.tar.gz`` like the training program's (a ``model.pt`` at its root)."""
    data = b"not a real torch checkpoint"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        member = tarfile.TarInfo("model.pt")
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
    return buffer.getvalue()


def evaluation_report(accuracy: float) -> dict[str, Any]:
    """evaluation.json as ``programs/model/evaluate.py`` writes it, with no champion."""
    return {
        "metrics": {
            "accuracy": accuracy,
            "precision": {"bicycle": accuracy, "motorcycle": accuracy},
            "recall": {"bicycle": accuracy, "motorcycle": accuracy},
            "f1": {"bicycle": accuracy, "motorcycle": accuracy},
            "ece": 0.02,
            "log_loss": 0.15,
            "n": 20,
        },
        "confusion_matrix": {"labels": ["bicycle", "motorcycle"], "matrix": [[10, 0], [1, 9]]},
        "champion": None,
    }


def validation_capture() -> bytes:
    """Data Capture JSONL of the candidate's predictions on the validation split."""
    lines = []
    for index in range(CAPTURE_IMAGES):
        response = json.dumps({"label": "bicycle", "probabilities": [0.97, 0.03]})
        record = capture_record(png_bytes(30 * index), "image/png", response, "application/json", f"event-{index}")
        lines.append(json.dumps(record))
    return ("\n".join(lines) + "\n").encode()


def baseline_reports() -> dict[str, bytes]:
    """Model Monitor's baseline files, as the drift analyzer writes them."""
    statistics = {"version": 0.0, "dataset": {"item_count": CAPTURE_IMAGES}, "features": []}
    constraints = {"version": 0.0, "features": [], "monitoring_config": {"evaluate_constraints": "Enabled"}}
    return {"statistics.json": json.dumps(statistics).encode(), "constraints.json": json.dumps(constraints).encode()}


def processing_outputs(accuracy: float) -> dict[str, dict[str, bytes]]:
    """Output name -> the files a completed job leaves in that output."""
    evaluation = {
        "evaluation.json": json.dumps(evaluation_report(accuracy)).encode(),
        "validation_capture.jsonl": validation_capture(),
    }
    return {"evaluation": evaluation, "baseline": baseline_reports()}


def pin_manual_run_ids() -> None:
    """Give ``dag.test()``'s manual run the id of a UI trigger at its logical date, not at the current time."""
    import airflow.models.dagrun as dagrun_module
    from airflow.models.dagrun import DagRun
    from airflow.utils.types import DagRunType

    get_or_create_dagrun = dagrun_module.get_or_create_dagrun

    def get_or_create_pinned_dagrun(**kwargs: Any) -> Any:
        logical_date = kwargs["logical_date"]
        kwargs["run_id"] = DagRun.generate_run_id(run_type=DagRunType.MANUAL, logical_date=logical_date,
                                                  run_after=logical_date)
        return get_or_create_dagrun(**kwargs)

    dagrun_module.get_or_create_dagrun = get_or_create_pinned_dagrun


def write_files(s3: Any, prefix_uri: str, files: Mapping[str, bytes]) -> None:
    target = S3Uri.parse(prefix_uri.rstrip("/") + "/")
    for relative, data in files.items():
        s3.put_object(Bucket=target.bucket, Key=target.join(relative).key, Body=data)


def write_model_artifact(s3: Any, output_path: str, training_job_name: str) -> None:
    """SageMaker's layout: ``{S3OutputPath}/{TrainingJobName}/output/model.tar.gz``."""
    write_files(s3, f"{output_path.rstrip('/')}/{training_job_name}/output", {"model.tar.gz": model_archive()})


def simulate_processing_jobs(recorder: RequestRecorder, accuracy: float) -> None:
    """Evaluation and baseline jobs write their outputs on create and are still running at first look."""
    s3 = recorder.client("s3")
    outputs_by_name = processing_outputs(accuracy)

    def write_outputs(params: dict[str, Any], transport: str) -> None:
        for output in params["ProcessingOutputConfig"]["Outputs"]:
            files = outputs_by_name.get(output["OutputName"], {})
            write_files(s3, output["S3Output"]["S3Uri"], files)

    recorder.observe("sagemaker", "CreateProcessingJob", write_outputs)
    processing_job_running_at_first_look(recorder)


def simulate_training_jobs(recorder: RequestRecorder) -> None:
    """A training job writes its model artifact on create, runs at first look, and reports its final metrics."""
    s3 = recorder.client("s3")

    def write_artifact(params: dict[str, Any], transport: str) -> None:
        write_model_artifact(s3, params["OutputDataConfig"]["S3OutputPath"], params["TrainingJobName"])

    def final_metrics(params: dict[str, Any], parsed: dict[str, Any], transport: str) -> None:
        if parsed.get("TrainingJobStatus") == "Completed":
            timestamp = parsed.get("TrainingEndTime")
            parsed["FinalMetricDataList"] = [{"MetricName": name, "Value": value, "Timestamp": timestamp}
                                             for name, value in FINAL_METRICS.items()]

    recorder.observe("sagemaker", "CreateTrainingJob", write_artifact)
    recorder.amend("sagemaker", "DescribeTrainingJob", final_metrics)
    job_running_at_first_look(recorder, create="CreateTrainingJob", describe="DescribeTrainingJob",
                              name_field="TrainingJobName", status_field="TrainingJobStatus")


def install(recorder: RequestRecorder) -> None:
    """A training run whose model passes the quality gate."""
    pin_manual_run_ids()
    simulate_training_jobs(recorder)
    simulate_processing_jobs(recorder, PASSING_ACCURACY)


def install_failing_gate(recorder: RequestRecorder) -> None:
    """A training run whose model scores below the gate's accuracy floor."""
    pin_manual_run_ids()
    simulate_training_jobs(recorder)
    simulate_processing_jobs(recorder, FAILING_ACCURACY)


def publish_partition(s3: Any, bucket: str, key: str) -> str:
    """A partition as scones_ingest publishes it, under ``datasets/<key>/``; returns its URI."""
    prefix = f"s3://{bucket}/datasets/{key}/"
    write_files(s3, prefix, fake_partition(f"scones-ingest-{key.lower()}", key))
    return prefix


def run_database(run_log: Path) -> Path:
    """The metadata DB of a finished harness run, beside its ``dag-test.log``."""
    return run_log.parent / "airflow-home" / "airflow.db"


def xcom_return_value(run_log: Path, task_id: str) -> Any:
    with sqlite3.connect(run_database(run_log)) as connection:
        rows = connection.execute("SELECT value FROM xcom WHERE task_id = ? AND key = 'return_value'",
                                  (task_id,)).fetchall()
    assert len(rows) == 1, f"expected one return value of {task_id}, got {len(rows)}"
    return json.loads(rows[0][0])


def approved_model_events(run_log: Path) -> list[dict[str, Any]]:
    """The ``scones_approved_model`` Asset events a finished run's metadata DB holds."""
    with sqlite3.connect(run_database(run_log)) as connection:
        rows = connection.execute(
            "SELECT e.extra, e.source_task_id, e.source_run_id FROM asset_event e JOIN asset a ON a.id = e.asset_id "
            "WHERE a.name = 'scones_approved_model'"
        ).fetchall()
    return [{"extra": json.loads(extra), "task_id": task_id, "run_id": run_id} for extra, task_id, run_id in rows]
