"""Asynchronous invocation end to end: boto3 Event invokes, retries on the lesson clock, records in the local AWS."""
from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labkit.aws.local import LocalAws
from labkit.aws.waiters import wait_function_ready
from labkit.service.async_queue import EVENT_AGE_EXCEEDED, RETRIES_EXHAUSTED, SUCCESS
from labkit.service.clock import LessonClock
from labkit.service.destinations import AwsSender, RecordingSender
from labkit.service.lambda_service import LambdaService
from tests.packages import app_zip

ROLE = "arn:aws:iam::123456789012:role/lambda-role"
ACCOUNT = "123456789012"

WORKER = """
import random
def handler(event, context):
    if event.get("fail") or random.random() < event.get("p_fail", 0):
        raise RuntimeError("failed on purpose")
    return {"done": event.get("n")}
"""

SINK = """
import json, os, boto3
def handler(event, context):
    boto3.client("sqs").send_message(QueueUrl=os.environ["SINK_QUEUE"], MessageBody=json.dumps(event))
    return "stored"
"""


def queue_arn(name: str) -> str:
    return f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}"


def drain(sqs: Any, url: str, expected: int, timeout: float = 10.0, attributes: bool = False) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(messages) < expected and time.monotonic() < deadline:
        extra = {"MessageAttributeNames": ["All"]} if attributes else {}
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, **extra).get("Messages", [])
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        messages += batch
        if not batch:
            time.sleep(0.05)
    return messages


@pytest.fixture
def local(tmp_path: Path) -> Iterator[tuple[LocalAws, LambdaService, RecordingSender]]:
    recorder = RecordingSender()
    service = LambdaService(clock=LessonClock(speed=1200), data_dir=tmp_path / "lambda", sender=recorder, async_workers=8)
    recorder.forward = AwsSender(service._client_factory, service._enqueue_arn)  # record and deliver
    aws = LocalAws.start(lambda_app=service)
    service.endpoint_url = aws.endpoint_url
    try:
        yield aws, service, recorder
    finally:
        aws.close()
        service.close()


def create(aws: LocalAws, name: str, source: str, **extra: Any) -> None:
    aws.client("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": app_zip(source)},
        Timeout=10, **extra,
    )
    wait_function_ready(aws.client("lambda"), name)


def test_event_invokes_report_to_sqs_destinations_and_the_dead_letter_queue(local: Any) -> None:
    aws, service, _recorder = local
    sqs, lam = aws.client("sqs"), aws.client("lambda")
    ok_url = sqs.create_queue(QueueName="ok")["QueueUrl"]
    failed_url = sqs.create_queue(QueueName="failed")["QueueUrl"]
    dlq_url = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    create(aws, "worker", WORKER, DeadLetterConfig={"TargetArn": queue_arn("dlq")})
    lam.put_function_event_invoke_config(
        FunctionName="worker", MaximumRetryAttempts=1,
        DestinationConfig={"OnSuccess": {"Destination": queue_arn("ok")}, "OnFailure": {"Destination": queue_arn("failed")}},
    )
    accepted = lam.invoke(FunctionName="worker", InvocationType="Event", Payload=b'{"n": 1}')
    failing = lam.invoke(FunctionName="worker", InvocationType="Event", Payload=b'{"n": 2, "fail": true}')
    assert accepted["StatusCode"] == 202 and accepted["Payload"].read() == b""
    assert service.wait_for_async(20)

    [ok] = drain(sqs, ok_url, 1)
    record = json.loads(ok["Body"])
    assert record["requestContext"]["requestId"] == accepted["ResponseMetadata"]["RequestId"]
    assert record["requestContext"]["functionArn"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:worker:$LATEST"
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestPayload"] == {"n": 1} and record["responsePayload"] == {"done": 1}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}

    [failed] = drain(sqs, failed_url, 1)
    record = json.loads(failed["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2, "MaximumRetryAttempts=1: two attempts"
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorMessage"] == "failed on purpose"

    [dead] = drain(sqs, dlq_url, 1, attributes=True)
    assert json.loads(dead["Body"]) == {"n": 2, "fail": True}
    attributes = {key: value["StringValue"] for key, value in dead["MessageAttributes"].items()}
    assert attributes == {
        "RequestID": failing["ResponseMetadata"]["RequestId"], "ErrorCode": "200", "ErrorMessage": "failed on purpose",
    }
    metrics = service.metrics("worker")
    assert (metrics.invocations, metrics.errors, metrics.async_received, metrics.async_retries) == (3, 2, 2, 1)


def test_sns_eventbridge_and_lambda_destinations_and_an_sns_dead_letter_topic(local: Any) -> None:
    aws, service, _recorder = local
    sqs, sns, events, lam = aws.client("sqs"), aws.client("sns"), aws.client("events"), aws.client("lambda")
    via_sns = sqs.create_queue(QueueName="via-sns")["QueueUrl"]
    via_bus = sqs.create_queue(QueueName="via-bus")["QueueUrl"]
    via_sink = sqs.create_queue(QueueName="via-sink")["QueueUrl"]
    topic = sns.create_topic(Name="results")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn("via-sns"), Attributes={"RawMessageDelivery": "true"})
    dead_topic = sns.create_topic(Name="dead")["TopicArn"]
    via_dead = sqs.create_queue(QueueName="via-dead")["QueueUrl"]
    sns.subscribe(TopicArn=dead_topic, Protocol="sqs", Endpoint=queue_arn("via-dead"), Attributes={"RawMessageDelivery": "true"})
    events.put_rule(Name="lambda-results", EventPattern=json.dumps({"source": ["lambda"]}))
    events.put_targets(Rule="lambda-results", Targets=[{"Id": "q", "Arn": queue_arn("via-bus")}])
    bus = f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default"
    create(aws, "sink", SINK, Environment={"Variables": {"SINK_QUEUE": via_sink}})
    sink_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:sink"
    for name, on_success, on_failure in [("to-sns", topic, None), ("to-bus", bus, bus), ("to-lambda", None, sink_arn)]:
        create(aws, name, WORKER)
        config: dict[str, Any] = {}
        if on_success:
            config["OnSuccess"] = {"Destination": on_success}
        if on_failure:
            config["OnFailure"] = {"Destination": on_failure}
        lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0, DestinationConfig=config)
    create(aws, "dlq-sns", WORKER, DeadLetterConfig={"TargetArn": dead_topic})
    lam.put_function_event_invoke_config(FunctionName="dlq-sns", MaximumRetryAttempts=0)
    lam.invoke(FunctionName="dlq-sns", InvocationType="Event", Payload=b'{"n": "dead", "fail": true}')
    lam.invoke(FunctionName="to-sns", InvocationType="Event", Payload=b'{"n": "sns"}')
    lam.invoke(FunctionName="to-bus", InvocationType="Event", Payload=b'{"n": "bus"}')
    lam.invoke(FunctionName="to-lambda", InvocationType="Event", Payload=b'{"n": "lambda", "fail": true}')
    assert service.wait_for_async(20)

    [from_sns] = drain(sqs, via_sns, 1)
    assert json.loads(from_sns["Body"])["responsePayload"] == {"done": "sns"}
    [from_bus] = drain(sqs, via_bus, 1)
    envelope = json.loads(from_bus["Body"])
    assert envelope["source"] == "lambda"
    assert envelope["detail-type"] == "Lambda Function Invocation Result - Success"
    assert envelope["detail"]["requestPayload"] == {"n": "bus"}
    [from_sink] = drain(sqs, via_sink, 1)
    record = json.loads(from_sink["Body"])  # the record was the sink function's event
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestPayload"] == {"n": "lambda", "fail": True}
    [dead] = drain(sqs, via_dead, 1, attributes=True)
    assert json.loads(dead["Body"]) == {"n": "dead", "fail": True}
    assert dead["MessageAttributes"]["ErrorMessage"]["StringValue"] == "failed on purpose"
    assert dead["MessageAttributes"]["ErrorCode"] == {"StringValue": "200", "DataType": "Number"}
    ends = Counter((o.function_name, o.condition) for o in service.async_outcomes)
    assert ends == Counter({
        ("to-sns", SUCCESS): 1, ("to-bus", SUCCESS): 1, ("to-lambda", RETRIES_EXHAUSTED): 1, ("sink", SUCCESS): 1,
        ("dlq-sns", RETRIES_EXHAUSTED): 1,
    })


def test_a_thousand_events_each_end_exactly_once(local: Any) -> None:
    """Random failures, throttles (reserved concurrency 2 for 8 workers), expiry: none lost, none twice."""
    aws, service, recorder = local
    service.clock.speed(600)  # retries after 0.1 and 0.2 real seconds; throttle back-off at most 0.5 s
    lam = aws.client("lambda")
    ok, failed, dlq = queue_arn("ok"), queue_arn("failed"), queue_arn("dlq")
    recorder.forward = None  # keep the records here: 1,000 SQS messages would only slow the test
    create(aws, "exhausts", WORKER, DeadLetterConfig={"TargetArn": dlq})
    create(aws, "expires", WORKER)
    lam.put_function_event_invoke_config(
        FunctionName="exhausts", MaximumRetryAttempts=1,
        DestinationConfig={"OnSuccess": {"Destination": ok}, "OnFailure": {"Destination": failed}},
    )
    lam.put_function_event_invoke_config(  # the second retry (at 180 s) would be past the 150 s age
        FunctionName="expires", MaximumEventAgeInSeconds=150,
        DestinationConfig={"OnSuccess": {"Destination": ok}, "OnFailure": {"Destination": failed}},
    )
    lam.put_function_concurrency(FunctionName="exhausts", ReservedConcurrentExecutions=2)
    lam.put_function_concurrency(FunctionName="expires", ReservedConcurrentExecutions=2)
    ids: dict[str, str] = {}
    for n in range(1000):
        name = "exhausts" if n % 2 else "expires"
        ids[service.invoke_async(name, None, json.dumps({"n": n, "p_fail": 0.5}).encode())] = name
    assert service.wait_for_async(60), f"{service.queue.outstanding} events never ended"

    outcomes = service.async_outcomes
    ends = Counter(o.request_id for o in outcomes)
    assert set(ends) == set(ids), "events were lost"
    assert max(ends.values()) == 1, "an event ended twice"
    conditions = Counter((o.function_name, o.condition) for o in outcomes)
    assert set(conditions) == {
        ("exhausts", SUCCESS), ("exhausts", RETRIES_EXHAUSTED), ("expires", SUCCESS), ("expires", EVENT_AGE_EXCEEDED),
    }, conditions
    for outcome in outcomes:
        if outcome.condition == EVENT_AGE_EXCEEDED:
            assert "EventAgeExceeded" in outcome.log and outcome.age_s >= 150
    records = Counter((s.kind, s.arn) for s in recorder.sent)
    successes = sum(n for (_, condition), n in conditions.items() if condition == SUCCESS)
    assert records[("destination", ok)] == successes
    assert records[("destination", failed)] == 1000 - successes
    assert records[("dlq", dlq)] == conditions[("exhausts", RETRIES_EXHAUSTED)]
    record_ids = Counter(s.body["requestContext"]["requestId"] for s in recorder.sent if s.kind == "destination")
    assert set(record_ids) == set(ids) and max(record_ids.values()) == 1
    throttles = service.metrics("exhausts").throttles + service.metrics("expires").throttles
    assert throttles > 0, "the reserved concurrency of 2 never throttled the 8 workers"
    assert service.metrics("exhausts").peak_concurrency <= 2
