"""Triggers end to end: a boto3 call to S3, SNS or EventBridge -> the function runs -> its side effect is seen."""
from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel, S3Model, SnsModel
from botocore.exceptions import ClientError

from labkit.aws.local import LocalAws
from labkit.aws.waiters import wait_function_ready
from labkit.service.lambda_service import LambdaService
from tests.local_aws import local_aws
from tests.packages import app_zip

ROLE = "arn:aws:iam::123456789012:role/lambda-role"
ACCOUNT = "123456789012"

RECORDER = """
import json, os, boto3
sqs = boto3.client("sqs")
def handler(event, context):
    sqs.send_message(QueueUrl=os.environ["SINK"], MessageBody=json.dumps(event))
    return "ok"
"""


@pytest.fixture
def local(tmp_path: Path) -> Iterator[tuple[LocalAws, LambdaService]]:
    with local_aws(tmp_path, async_workers=4) as pair:
        yield pair


def recorder(aws: LocalAws, name: str) -> tuple[str, str]:
    """A function that forwards every event it gets to an SQS queue; returns (function ARN, queue URL)."""
    url = aws.client("sqs").create_queue(QueueName=f"{name}-sink")["QueueUrl"]
    config = aws.client("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": app_zip(RECORDER)},
        Timeout=10, Environment={"Variables": {"SINK": url}},
    )
    wait_function_ready(aws.client("lambda"), name)
    return config["FunctionArn"], url


def allow(aws: LocalAws, function: str, principal: str, source_arn: str) -> None:
    """The resource-based policy statement AWS needs before a service may invoke the function."""
    aws.client("lambda").add_permission(FunctionName=function, StatementId=principal.split(".")[0], Action="lambda:InvokeFunction",
                                        Principal=principal, SourceArn=source_arn)


def received(aws: LocalAws, url: str, expected: int, timeout: float = 20.0) -> list[dict[str, Any]]:
    """The events the recorder forwarded, once `expected` have arrived (or the timeout passed)."""
    sqs, events = aws.client("sqs"), []
    deadline = time.monotonic() + timeout
    while len(events) < expected and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            events.append(json.loads(message["Body"]))
    return events


def test_s3_notifications_invoke_with_aws_records_and_honour_filters(local: Any) -> None:
    aws, service = local
    arn, url = recorder(aws, "on-upload")
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="photos")
    configuration = {"LambdaFunctionConfigurations": [{
        "Id": "new-jpegs", "LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}, {"Name": "suffix", "Value": ".jpg"}]}},
    }]}
    with pytest.raises(ClientError) as refused:  # S3 may not invoke the function yet
        s3.put_bucket_notification_configuration(Bucket="photos", NotificationConfiguration=configuration)
    assert refused.value.response["Error"] == {
        "Code": "InvalidArgument", "Message": "Unable to validate the following destination configurations",
        "ArgumentName": "new-jpegs", "ArgumentValue": f"Not authorized to invoke function [{arn}]",
    }
    allow(aws, "on-upload", "s3.amazonaws.com", "arn:aws:s3:::photos")
    s3.put_bucket_notification_configuration(Bucket="photos", NotificationConfiguration=configuration)
    s3.put_object(Bucket="photos", Key="in/tom cat.jpg", Body=b"x" * 42)
    s3.put_object(Bucket="photos", Key="in/notes.txt", Body=b"skip")  # suffix does not match
    s3.put_object(Bucket="photos", Key="out/a.jpg", Body=b"skip")  # prefix does not match
    s3.delete_object(Bucket="photos", Key="in/tom cat.jpg")  # not an ObjectCreated event
    [event] = received(aws, url, 1)
    assert service.wait_for_async(10) and received(aws, url, 1, timeout=1) == []
    record = S3Model.model_validate(event).Records[0]
    assert record.eventName == "ObjectCreated:Put" and record.s3.configurationId == "new-jpegs"
    assert event["Records"][0]["s3"]["object"]["key"] == "in/tom+cat.jpg", "S3 URL-encodes keys, keeping /"
    assert record.s3.object.size == 42 and record.s3.bucket.arn == "arn:aws:s3:::photos"
    assert record.userIdentity and record.responseElements and record.s3.object.sequencer
    [delivery] = aws.triggers.deliveries
    assert (delivery.source, delivery.source_arn, delivery.principal) == ("s3", "arn:aws:s3:::photos", "s3.amazonaws.com")
    assert delivery.request_id and delivery.error is None
    aws.client("lambda").remove_permission(FunctionName="on-upload", StatementId="s3")
    s3.put_object(Bucket="photos", Key="in/late.jpg", Body=b"refused")  # the permission is gone: the event is refused
    denied = aws.triggers.deliveries[-1]
    assert denied.request_id is None and "s3.amazonaws.com is not authorized" in (denied.error or "")
    assert [(f.delivered, f.refused) for f in aws.triggers.flows()] == [(1, 1)]


def test_sns_fans_out_to_lambda_subscribers_through_filter_policies(local: Any) -> None:
    aws, service = local
    all_arn, all_url = recorder(aws, "all-orders")
    big_arn, big_url = recorder(aws, "big-orders")
    sns = aws.client("sns")
    topic = sns.create_topic(Name="orders")["TopicArn"]
    allow(aws, "all-orders", "sns.amazonaws.com", topic)
    allow(aws, "big-orders", "sns.amazonaws.com", topic)
    subscription = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=all_arn)["SubscriptionArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=big_arn, ReturnSubscriptionArn=True,
                  Attributes={"FilterPolicy": json.dumps({"size": ["big"]})})
    sns.publish(TopicArn=topic, Message='{"id": 1}', Subject="Order", MessageAttributes={
        "size": {"DataType": "String", "StringValue": "small"}})
    published = sns.publish(TopicArn=topic, Message='{"id": 2}', MessageAttributes={
        "size": {"DataType": "String", "StringValue": "big"}, "items": {"DataType": "Number", "StringValue": "3"}})
    events = received(aws, all_url, 2)
    [big] = received(aws, big_url, 1)
    assert service.wait_for_async(10)
    assert sorted(json.loads(e["Records"][0]["Sns"]["Message"])["id"] for e in events) == [1, 2]
    notification = SnsModel.model_validate(big).Records[0]
    assert notification.Sns.MessageId == published["MessageId"] and notification.Sns.TopicArn == topic
    assert notification.Sns.Subject is None and notification.Sns.Signature
    assert big["Records"][0]["Sns"]["MessageAttributes"] == {
        "size": {"Type": "String", "Value": "big"}, "items": {"Type": "Number", "Value": "3"}}
    first = next(e for e in events if e["Records"][0]["Sns"]["Subject"] == "Order")
    assert first["Records"][0]["EventSubscriptionArn"] == subscription


def test_eventbridge_rules_match_patterns_and_shape_input(local: Any) -> None:
    aws, service = local
    arn, url = recorder(aws, "on-order")
    events = aws.client("events")
    rule = events.put_rule(Name="paid", EventPattern=json.dumps({"source": ["shop"], "detail": {"status": ["paid"]}}))
    allow(aws, "on-order", "events.amazonaws.com", rule["RuleArn"])
    events.put_targets(Rule="paid", Targets=[
        {"Id": "whole", "Arn": arn},
        {"Id": "detail", "Arn": arn, "InputPath": "$.detail"},
        {"Id": "shaped", "Arn": arn, "InputTransformer": {
            "InputPathsMap": {"order": "$.detail.id", "kind": "$.detail-type"},
            "InputTemplate": '{"text": "order <order> (<kind>)", "order": <order>, "rule": "<aws.events.rule-name>"}'}},
    ])
    events.put_rule(Name="off", EventPattern=json.dumps({"source": ["shop"]}), State="DISABLED")
    events.put_targets(Rule="off", Targets=[{"Id": "never", "Arn": arn}])
    answer = events.put_events(Entries=[
        {"Source": "shop", "DetailType": "Order Paid", "Detail": json.dumps({"id": 7, "status": "paid"})},
        {"Source": "shop", "DetailType": "Order Placed", "Detail": json.dumps({"id": 8, "status": "new"})},
    ])
    assert answer["FailedEntryCount"] == 0
    got = received(aws, url, 3)
    assert service.wait_for_async(10) and received(aws, url, 1, timeout=1) == []
    whole = next(e for e in got if "detail-type" in e)
    parsed = EventBridgeModel.model_validate(whole)
    assert parsed.id == answer["Entries"][0]["EventId"] and parsed.detail == {"id": 7, "status": "paid"}
    assert {"id": 7, "status": "paid"} in got
    assert {"text": "order 7 (Order Paid)", "order": 7, "rule": "paid"} in got
    assert {d.source_arn for d in aws.triggers.deliveries} == {f"arn:aws:events:us-east-1:{ACCOUNT}:rule/paid"}


def test_schedules_fire_on_the_lesson_clock_and_stop_with_the_local_aws(local: Any) -> None:
    aws, service = local
    arn, url = recorder(aws, "nightly")
    events = aws.client("events")
    with pytest.raises(ClientError, match="exactly one of day-of-month and day-of-week"):
        events.put_rule(Name="bad", ScheduleExpression="cron(0 12 * * * *)")
    service.clock.speed(120)  # a lesson minute lasts half a real second
    rule = events.put_rule(Name="every-minute", ScheduleExpression="rate(1 minute)")
    allow(aws, "nightly", "events.amazonaws.com", rule["RuleArn"])
    events.put_targets(Rule="every-minute", Targets=[{"Id": "fn", "Arn": arn}])
    events.put_events(Entries=[{"Source": "shop", "DetailType": "x", "Detail": "{}"}])  # schedules ignore events
    got = received(aws, url, 3)
    assert len(got) >= 3
    for event in got:
        parsed = EventBridgeModel.model_validate(event)
        assert parsed.detail_type == "Scheduled Event" and parsed.source == "aws.events"
        assert parsed.resources == [f"arn:aws:events:us-east-1:{ACCOUNT}:rule/every-minute"]
    times = sorted(EventBridgeModel.model_validate(e).time.timestamp() for e in got)
    assert all(later - earlier >= 60 and (later - earlier) % 60 == 0 for earlier, later in zip(times, times[1:])), (
        "whole lesson minutes apart"
    )
    scheduler = aws.triggers.scheduler
    assert scheduler is not None and scheduler.alive
    aws.close()
    assert not scheduler.alive
    assert not [t for t in threading.enumerate() if t.name == "labkit-schedules"]


class RecordingLambda:
    """A Lambda app that only records asynchronous invokes."""

    def __init__(self) -> None:
        self.invokes: list[tuple[str, dict[str, Any]]] = []

    def handle(self, request: Any) -> Any:
        raise NotImplementedError

    def invoke_async(self, name: str, qualifier: str | None, payload: bytes, **kwargs: Any) -> str:
        self.invokes.append((name, json.loads(payload)))
        return "request-id"


def test_each_local_aws_delivers_the_events_its_own_requests_cause() -> None:
    first, second = RecordingLambda(), RecordingLambda()
    with LocalAws.start(lambda_app=first) as aws_a, LocalAws.start(lambda_app=second) as aws_b:
        bucket = f"two-{uuid.uuid4().hex[:8]}"
        aws_a.client("s3").create_bucket(Bucket=bucket)
        aws_a.client("s3").put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
            "LambdaFunctionConfigurations": [{"LambdaFunctionArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:fn",
                                              "Events": ["s3:ObjectCreated:*"]}]})
        aws_a.client("s3").put_object(Bucket=bucket, Key="a.txt", Body=b"a")  # through the first local AWS
        aws_b.client("s3").put_object(Bucket=bucket, Key="b.txt", Body=b"b")  # through the second (moto's state is shared)
    assert [event["Records"][0]["s3"]["object"]["key"] for _, event in first.invokes] == ["a.txt"]
    assert [event["Records"][0]["s3"]["object"]["key"] for _, event in second.invokes] == ["b.txt"]
    assert aws_a.triggers.scheduler is None, "no EventBridge request: no scheduler thread"
