"""Every request the DAGs send to SageMaker, validated against botocore's service model."""

from include.builders.ingest import ingest_processing_request
from include.run_keys import job_name
from tests.support.botocore_contract import assert_valid_request, request_errors


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
