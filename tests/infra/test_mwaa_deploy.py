"""Deploying the MWAA bundle: dry run by default, uploads only what changed, points MWAA at the new versions."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from deploy.mwaa.bundle import build_bundle
from deploy.mwaa.deploy import DeployError, deploy, object_key, read_bundle, update_environment_request
from tests.support.botocore_contract import assert_valid_request
from tests.support.stack import deployable_settings

SETTINGS = deployable_settings()
BUCKET = SETTINGS.bucket


@pytest.fixture
def aws():
    with mock_aws():
        s3 = boto3.client("s3", region_name=SETTINGS.region)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield s3


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    return build_bundle(tmp_path / "bundle", SETTINGS).root


def test_update_request_matches_the_botocore_model():
    versions = {"plugins.zip": "v1", "requirements.txt": "v2", "startup.sh": "v3"}
    request = update_environment_request(SETTINGS, versions)
    assert_valid_request("mwaa", "UpdateEnvironment", request)
    assert request["PluginsS3Path"] == "mwaa/plugins.zip"
    assert request["RequirementsS3ObjectVersion"] == "v2"
    assert request["StartupScriptS3Path"] == "mwaa/startup.sh"
    assert request["DagS3Path"] == SETTINGS.mwaa.dags_prefix


def test_object_keys_follow_the_dags_prefix():
    assert object_key(SETTINGS, "dags/scones_ingest.py") == f"{SETTINGS.mwaa.dags_prefix}/scones_ingest.py"
    assert object_key(SETTINGS, "plugins.zip") == "mwaa/plugins.zip"


def test_dry_run_uploads_nothing(aws, bundle_dir, capsys):
    assert deploy(bundle_dir, SETTINGS, aws, mwaa=None, apply=False) is None
    assert aws.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0
    out = capsys.readouterr().out
    assert f"s3://{BUCKET}/mwaa/plugins.zip: upload" in out
    assert "would call UpdateEnvironment" in out and "dry run: nothing changed" in out


def test_apply_uploads_then_updates_the_environment_with_the_new_versions(aws, bundle_dir, capsys):
    mwaa = boto3.client("mwaa", region_name=SETTINGS.region)
    with Stubber(mwaa) as stubber:
        stubber.add_response("update_environment", {"Arn": "arn:aws:airflow:us-east-1:111122223333:environment/x"})
        request = deploy(bundle_dir, SETTINGS, aws, mwaa, apply=True)
        stubber.assert_no_pending_responses()
    bundle = read_bundle(bundle_dir)
    keys = {item["Key"] for item in aws.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert keys == {object_key(SETTINGS, path) for path in bundle.files}
    for path, field in (("plugins.zip", "Plugins"), ("requirements.txt", "Requirements"),
                        ("startup.sh", "StartupScript")):
        head = aws.head_object(Bucket=BUCKET, Key=object_key(SETTINGS, path))
        assert request[f"{field}S3ObjectVersion"] == head["VersionId"]
        assert head["Metadata"]["sha256"] == bundle.files[path]
    assert_valid_request("mwaa", "UpdateEnvironment", request)


def test_redeploy_of_an_unchanged_bundle_uploads_nothing(aws, bundle_dir, capsys):
    mwaa = boto3.client("mwaa", region_name=SETTINGS.region)
    with Stubber(mwaa) as stubber:
        stubber.add_response("update_environment", {"Arn": "arn:aws:airflow:us-east-1:111122223333:environment/x"})
        deploy(bundle_dir, SETTINGS, aws, mwaa, apply=True)
    capsys.readouterr()
    with Stubber(mwaa):
        assert deploy(bundle_dir, SETTINGS, aws, mwaa, apply=True) is None
    assert "0 to upload, 0 to delete" in capsys.readouterr().out


def test_a_changed_dag_uploads_one_file_and_deletes_stale_ones(aws, bundle_dir, capsys):
    mwaa = boto3.client("mwaa", region_name=SETTINGS.region)
    with Stubber(mwaa) as stubber:
        stubber.add_response("update_environment", {"Arn": "arn:aws:airflow:us-east-1:111122223333:environment/x"})
        deploy(bundle_dir, SETTINGS, aws, mwaa, apply=True)
    stale = f"{SETTINGS.mwaa.dags_prefix}/removed_dag.py"
    aws.put_object(Bucket=BUCKET, Key=stale, Body=b"old")
    dag_file = next((bundle_dir / "dags").glob("*.py"))
    dag_file.write_text(dag_file.read_text() + "\n")
    capsys.readouterr()
    with Stubber(mwaa):
        assert deploy(bundle_dir, SETTINGS, aws, mwaa, apply=True) is None
    out = capsys.readouterr().out
    assert "1 to upload, 1 to delete" in out
    assert "MWAA picks up DAG files by itself" in out
    assert "Contents" not in aws.list_objects_v2(Bucket=BUCKET, Prefix=stale)


def test_unversioned_bucket_is_refused_with_the_fix(bundle_dir):
    with mock_aws():
        s3 = boto3.client("s3", region_name=SETTINGS.region)
        s3.create_bucket(Bucket=BUCKET)
        with pytest.raises(DeployError, match=f"versioning enabled on bucket {BUCKET}"):
            deploy(bundle_dir, SETTINGS, s3, mwaa=None, apply=True)


def test_missing_environment_says_how_to_create_it(aws, bundle_dir):
    mwaa = boto3.client("mwaa", region_name=SETTINGS.region)
    with Stubber(mwaa) as stubber:
        stubber.add_client_error("update_environment", service_error_code="ResourceNotFoundException")
        with pytest.raises(DeployError, match="CreateMwaaEnvironment=true"):
            deploy(bundle_dir, SETTINGS, aws, mwaa, apply=True)


def test_a_folder_that_is_not_a_bundle_is_refused(tmp_path):
    with pytest.raises(DeployError, match="make mwaa-bundle"):
        read_bundle(tmp_path)
