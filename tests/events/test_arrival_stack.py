"""The stack's arrival path: the bucket notifies an encrypted queue with a dead-letter queue, only the pipeline's
bucket may send to it, S3 may use the key, and the MWAA role may do what the SQS trigger does — and no more."""

from __future__ import annotations

import pytest

from deploy.cloudformation.iam_evaluation import evaluate_role
from deploy.cloudformation.stack_model import StackModel
from tests.support import iam_report
from tests.support.iam_requests import Account, api_call_requests
from tests.support.stack import deployable_settings, simulated_stack

SETTINGS = deployable_settings()


@pytest.fixture(scope="module")
def stack() -> StackModel:
    return simulated_stack(SETTINGS)


def test_the_bucket_notifies_the_arrival_queue_of_photos_created_under_the_photo_prefix(stack):
    (notification,) = stack.properties("Bucket")["NotificationConfiguration"]["QueueConfigurations"]
    assert notification["Event"] == "s3:ObjectCreated:*"
    assert notification["Queue"] == stack.arn("PhotoArrivalsQueue")
    assert notification["Filter"]["S3Key"]["Rules"] == [
        {"Name": "prefix", "Value": SETTINGS.prefixes.incoming_photos + "/"}]
    assert "PhotoArrivalsQueuePolicy" in stack.resource("Bucket")["DependsOn"]


def test_the_queue_is_encrypted_and_redrives_to_its_dead_letter_queue(stack):
    queue = stack.properties("PhotoArrivalsQueue")
    assert queue["KmsMasterKeyId"] == stack.ref("DataKey")
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": stack.arn("PhotoArrivalsDeadLetterQueue"),
                                      "maxReceiveCount": 5}
    assert stack.properties("PhotoArrivalsDeadLetterQueue")["KmsMasterKeyId"] == stack.ref("DataKey")
    assert queue["VisibilityTimeout"] >= SETTINGS.events.wait_seconds


def test_only_the_pipeline_bucket_of_this_account_may_send_to_the_queue(stack):
    policy = stack.properties("PhotoArrivalsQueuePolicy")
    assert policy["Queues"] == [stack.ref("PhotoArrivalsQueue")]
    (allow,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "s3.amazonaws.com"} and allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": stack.arn("Bucket")},
                                  "StringEquals": {"aws:SourceAccount": stack.account}}


def test_s3_may_use_the_key_only_for_the_pipeline_bucket(stack):
    statements = stack.properties("DataKey")["KeyPolicy"]["Statement"]
    (s3,) = [s for s in statements if s.get("Principal") == {"Service": "s3.amazonaws.com"}]
    assert set(s3["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert s3["Condition"]["ArnLike"] == {"aws:SourceArn": stack.arn("Bucket")}


def test_the_stack_gives_back_the_queue_url_setting(stack):
    assert stack.output("PhotoArrivalsQueueUrl") == SETTINGS.events.queue_url
    assert SETTINGS.events.queue_url.endswith("/scones-photo-arrivals")


def test_the_mwaa_role_may_receive_and_delete_arrivals_and_decrypt_them(stack):
    account = Account(stack, SETTINGS.bucket)
    url = SETTINGS.events.queue_url
    calls = [("ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 10}),
             ("DeleteMessageBatch", {"QueueUrl": url, "Entries": [{"Id": "1", "ReceiptHandle": "r"}]})]
    requests = [r for operation, params in calls for r in api_call_requests(account, "sqs", operation, params)]
    evaluation = iam_report.record(evaluate_role(stack, "MwaaExecutionRole", requests))
    assert evaluation.denied == [], evaluation.denial_report()
    assert {r.action for r in requests} == {"sqs:ReceiveMessage", "sqs:DeleteMessage", "kms:Decrypt"}


def test_the_mwaa_role_may_not_read_the_dead_letter_queue(stack):
    account = Account(stack, SETTINGS.bucket)
    dead_letters = stack.get_att("PhotoArrivalsDeadLetterQueue", "QueueUrl")
    requests = [*api_call_requests(account, "sqs", "ReceiveMessage", {"QueueUrl": dead_letters}),
                *(r for r in api_call_requests(account, "sqs", "ChangeMessageVisibility",
                                               {"QueueUrl": SETTINGS.events.queue_url, "ReceiptHandle": "r",
                                                "VisibilityTimeout": 0}))]
    evaluation = evaluate_role(stack, "MwaaExecutionRole", requests)
    assert [d.request.action for d in evaluation.denied] == ["sqs:ReceiveMessage"]
