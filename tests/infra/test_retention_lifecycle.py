"""Retention on AWS: the stack's lifecycle rules are the ``[retention]`` rules, and scones_retention checks the
bucket still has them (against moto's S3, with the rules CloudFormation would give the bucket)."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from deploy.cloudformation.iam_evaluation import evaluate_role
from deploy.cloudformation.stack_parameters import StackParameterError, stack_parameters
from include.retention import NONCURRENT_RULE_ID, retention_rules
from include.runtime.aws.retention import LifecycleRetention
from include.runtime.capabilities import RetentionNotAppliedError
from include.settings import load_settings
from include.workflows.retention import expire_objects, plan_expiry
from tests.support.iam_requests import Account, api_call_requests
from tests.support.stack import BUCKET, deployable_settings, simulated_stack

NOW = datetime(2026, 6, 1, tzinfo=UTC)
SHORTER = {"SCONES_RETENTION__INCOMING_PHOTOS_DAYS": "7", "SCONES_RETENTION__CAPTURE_DAYS": "14",
           "SCONES_RETENTION__MONITORING_DAYS": "60", "SCONES_RETENTION__PHOTO_VERSIONS_DAYS": "2",
           "SCONES_RETENTION__OTHER_VERSIONS_DAYS": "10"}


def stack_lifecycle(settings) -> dict[str, dict]:
    """The bucket's lifecycle rules as the stack deployed for ``settings`` declares them, by Id."""
    rules = simulated_stack(settings).properties("Bucket")["LifecycleConfiguration"]["Rules"]
    return {rule["Id"]: rule for rule in rules}


def as_s3_rule(rule: dict) -> dict:
    """A CloudFormation lifecycle rule as CloudFormation puts it to S3 (PutBucketLifecycleConfiguration)."""
    s3_rule: dict = {"ID": rule["Id"], "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "ExpirationInDays" in rule:
        s3_rule["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if rule.get("ExpiredObjectDeleteMarker"):
        s3_rule["Expiration"] = {"ExpiredObjectDeleteMarker": True}
    if "NoncurrentVersionExpiration" in rule:
        s3_rule["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])}
    if "AbortIncompleteMultipartUpload" in rule:
        s3_rule["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"])}
    return s3_rule


@pytest.mark.parametrize("environ", [{}, SHORTER], ids=["defaults", "shorter"])
def test_the_stack_expires_every_photo_prefix_after_the_settings_days(environ):
    settings = deployable_settings(environ)
    declared = stack_lifecycle(settings)
    for rule in retention_rules(settings):
        bucket_rule = declared[rule.rule_id]
        assert (bucket_rule["Status"], bucket_rule["Prefix"]) == ("Enabled", rule.prefix), rule.rule_id
        assert int(bucket_rule["ExpirationInDays"]) == rule.days, rule.rule_id
        assert int(bucket_rule["NoncurrentVersionExpiration"]["NoncurrentDays"]) == \
            settings.retention.photo_versions_days, rule.rule_id


def test_replaced_versions_everywhere_else_expire_too_and_so_do_their_delete_markers():
    settings = deployable_settings(SHORTER)
    rule = stack_lifecycle(settings)[NONCURRENT_RULE_ID]
    assert "Prefix" not in rule, "the whole bucket"
    assert int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"]) == 10
    assert rule["ExpiredObjectDeleteMarker"] is True


def test_a_photo_prefix_the_template_does_not_cover_is_refused_by_name():
    with pytest.raises(StackParameterError, match=r"SCONES_PREFIXES__INCOMING_PHOTOS.*ExpireIncomingPhotos"):
        stack_parameters(load_settings(environ={"SCONES_BUCKET": BUCKET, "SCONES_PREFIXES__INCOMING_PHOTOS": "photos"}))


@pytest.fixture
def bucket_with_the_stacks_rules():
    """moto's S3 with the bucket as the stack created it, for the default retention settings."""
    settings = deployable_settings()
    with mock_aws():
        client = boto3.client("s3", region_name=settings.region)
        client.create_bucket(Bucket=settings.bucket)
        client.put_bucket_lifecycle_configuration(Bucket=settings.bucket, LifecycleConfiguration={
            "Rules": [as_s3_rule(rule) for rule in stack_lifecycle(settings).values()]})
        yield settings, client


def test_the_bucket_the_stack_made_expires_as_the_settings_say(bucket_with_the_stacks_rules):
    settings, client = bucket_with_the_stacks_rules
    retention = LifecycleRetention(settings, client=client)
    plan = plan_expiry(settings, retention, NOW)
    assert [rule["problem"] for rule in plan["rules"]] == [None] * (len(retention_rules(settings)) + 1)
    assert expire_objects(retention, plan, dry_run=False) == {"deleted": 0, "planned": 0, "dry_run": False}


def test_settings_the_stack_was_not_updated_with_fail_the_run_naming_rule_and_fix(bucket_with_the_stacks_rules):
    deployed, client = bucket_with_the_stacks_rules
    changed = deployable_settings({"SCONES_RETENTION__CAPTURE_DAYS": "7"})
    retention = LifecycleRetention(changed, client=client)
    with pytest.raises(RetentionNotAppliedError, match=r"ExpireDataCapture: expiration 30 days, not 7.*make stack-"):
        retention.apply(retention.plan(retention_rules(changed), NOW))
    assert deployed.retention.capture_days == 30


def test_a_bucket_without_lifecycle_rules_is_named(bucket_with_the_stacks_rules):
    settings, client = bucket_with_the_stacks_rules
    client.delete_bucket_lifecycle(Bucket=settings.bucket)
    plan = LifecycleRetention(settings, client=client).plan(retention_rules(settings), NOW)
    assert {rule["problem"] for rule in plan["rules"]} == {"the bucket has no such lifecycle rule"}


def test_the_mwaa_role_may_read_the_buckets_lifecycle_rules():
    settings = deployable_settings()
    stack = simulated_stack(settings)
    requests = api_call_requests(Account(stack, settings.bucket), "s3", "GetBucketLifecycleConfiguration",
                                 {"Bucket": settings.bucket})
    evaluation = evaluate_role(stack, "MwaaExecutionRole", requests)
    assert not evaluation.denied, evaluation.denial_report()
