"""Every request the DAGs send to SageMaker, validated against botocore's service model."""

from include.builders.ingest import ingest_processing_request
from include.run_keys import job_name
from tests.support.botocore_contract import assert_valid_request, request_errors

TRAINED_FROM = {"scones:dataset-sha256": "c" * 64, "scones:code-sha256": "b" * 64,
                "scones:hyperparameters-sha256": "d" * 64}


def test_ingest_processing_request_is_valid(settings):
    request = ingest_processing_request(
        settings, run_key="20260101T0000", job_name=job_name("ingest", "20260101T0000"),
        code_uri="s3://scones-mlops/code/ingest/abc/", archive_uri="s3://scones-mlops/raw/cifar/x.tar.gz",
        archive_md5="0" * 32, staging_uri="s3://scones-mlops/staging/datasets/j/", include_labelled=True,
    )
    assert_valid_request("sagemaker", "CreateProcessingJob", request)
    assert request["ProcessingJobName"] == "scones-ingest-20260101t0000"


def test_contract_checker_catches_what_botocore_skips():
    errors = request_errors("sagemaker", "CreateProcessingJob", {
        "ProcessingJobName": "bad_name!" + "x" * 70,
        "RoleArn": "arn:aws:iam::111122223333:role/r",
        "AppSpecification": {"ImageUri": "img"},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.bogus",
                                                  "VolumeSizeInGB": 1}},
    })
    text = "\n".join(errors)
    assert "ProcessingJobName" in text and "pattern" in text and "length" in text
    assert "InstanceType" in text and "enum" in text


def test_model_package_request_is_valid_with_image_content_types(settings):
    from include.builders.registry import model_package_request

    request = model_package_request(
        settings, run_key="train-manual-2026-11-24t05-37-55-123456-00-00",
        model_data_url="s3://scones-mlops/models/k/model.tar.gz",
        evaluation_uri="s3://scones-mlops/models/k/evaluation/evaluation.json",
        metrics={"accuracy": 0.9, "ece": 0.05}, dataset_manifest_sha256="a" * 64, trained_from=TRAINED_FROM,
        hyperparameters={"epochs": 3, "learning-rate": 0.002, "seed": 42}, training_job_name="scones-train-k",
        weights_sha256="c" * 64)
    assert_valid_request("sagemaker", "CreateModelPackage", request)
    assert "text/csv" not in request["InferenceSpecification"]["SupportedContentTypes"]
    assert request["CustomerMetadataProperties"]["scones:seed"] == "42"
    assert request["CustomerMetadataProperties"]["scones:weights-sha256"] == "c" * 64


def test_evaluation_and_baseline_requests_are_valid(settings):
    from include.builders.evaluation import baseline_request, evaluation_request

    evaluation = evaluation_request(
        settings, run_key="k", job_name="scones-evaluate-k", code_uri="s3://scones-mlops/code/model/x/",
        model_data_url="s3://scones-mlops/models/k/model.tar.gz", partition_uri="s3://scones-mlops/datasets/k/",
        champion_model_data_url="s3://scones-mlops/models/j/model.tar.gz",
        output_uri="s3://scones-mlops/models/k/evaluation/")
    assert_valid_request("sagemaker", "CreateProcessingJob", evaluation)
    assert "--champion-dir" in evaluation["AppSpecification"]["ContainerArguments"]
    baseline = baseline_request(
        settings, run_key="k", job_name="scones-baseline-k", code_uri="s3://scones-mlops/code/monitor/x/",
        capture_uri="s3://scones-mlops/models/k/evaluation/validation_capture.jsonl",
        output_uri="s3://scones-mlops/models/k/baseline/")
    assert_valid_request("sagemaker", "CreateProcessingJob", baseline)
