"""SQS event source mappings end to end: boto3 against the local AWS, real functions, real moto SQS."""
from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from labkit.aws.local import LocalAws
from labkit.aws.waiters import wait_function_ready
from labkit.events.sqs import md5_of_message_attributes, record_from_message, sqs_record
from labkit.service.clock import LessonClock
from labkit.service.lambda_service import LambdaService
from tests.packages import app_zip

ROLE = "arn:aws:iam::123456789012:role/lambda-role"

# Writes one line per message it handled successfully; fails the messages (or the batch) it is told to.
WORKER = """
import json, os, random, time
def handler(event, context):
    time.sleep(float(os.environ.get("BATCH_S", "0")))  # a batch takes a while: room for concurrent batches
    failures, done = [], []
    for record in event["Records"]:
        body = json.loads(record["body"])
        if body.get("raise"):
            raise RuntimeError("poison message " + record["messageId"])
        if body.get("fail") or random.random() < body.get("p_fail", 0):
            failures.append({"itemIdentifier": record["messageId"]})
        else:
            done.append(json.dumps({"n": body.get("n"), "id": record["messageId"],
                                    "count": record["attributes"]["ApproximateReceiveCount"]}))
    if random.random() < float(os.environ.get("P_RAISE", "0")):
        raise RuntimeError("the whole batch failed")
    if done:
        fd = os.open(os.environ["LEDGER"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, ("\\n".join(done) + "\\n").encode())
        os.close(fd)
    return {"batchItemFailures": failures}
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """Poll `condition` until it returns something truthy (real seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def ledger(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def wait_for_ledger(path: Path, count: int, what: str) -> list[dict[str, Any]]:
    """The ledger's rows once it holds at least `count` of them."""
    return wait_for(lambda: len(rows := ledger(path)) >= count and rows, what=what)


def make_queue(sqs: Any, name: str, **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def make_worker(
    aws: LocalAws, name: str, path: Path, p_raise: float = 0.0, timeout_s: int = 10, batch_s: float = 0.0
) -> None:
    aws.client("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": app_zip(WORKER)},
        Timeout=timeout_s, Environment={"Variables": {"LEDGER": str(path), "P_RAISE": str(p_raise), "BATCH_S": str(batch_s)}},
    )
    wait_function_ready(aws.client("lambda"), name)


def queue_depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", []):
        messages += batch
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return messages


def test_a_mapping_runs_the_function_with_lambdas_sqs_records(local: Any, tmp_path: Path) -> None:
    aws, service = local
    sqs, lam = aws.client("sqs"), aws.client("lambda")
    url, arn = make_queue(sqs, unique("orders"))
    make_worker(aws, "worker", tmp_path / "ledger")

    created = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="worker", BatchSize=5)
    assert created["State"] == "Creating" and created["BatchSize"] == 5
    assert created["FunctionArn"].endswith(":function:worker")
    assert lam.get_event_source_mapping(UUID=created["UUID"])["State"] == "Enabled"

    for n in range(12):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": n}), MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "order"}})
    rows = wait_for_ledger(tmp_path / "ledger", 12, "12 messages")
    assert sorted(row["n"] for row in rows) == list(range(12))
    wait_for(lambda: queue_depth(sqs, url) == 0, what="the successful messages to be deleted")
    assert service.metrics("worker").invocations >= 3, "batches of at most 5"


def test_partial_batch_failures_return_only_the_listed_messages(local: Any, tmp_path: Path) -> None:
    aws, service = local
    sqs, lam = aws.client("sqs"), aws.client("lambda")
    url, arn = make_queue(sqs, unique("partial"), VisibilityTimeout="1")
    make_worker(aws, "partial", tmp_path / "ledger")
    for n in range(6):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": n, "fail": n == 3}))
    mapping = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName="partial", BatchSize=10, MaximumBatchingWindowInSeconds=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    wait_for_ledger(tmp_path / "ledger", 5, "the five good messages")
    # The failed one comes back after its visibility timeout, and keeps failing.
    wait_for(lambda: service.metrics("partial").invocations >= 2, what="a second receive of the failed message")
    lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Disabled"
    rows = ledger(tmp_path / "ledger")
    assert sorted(row["n"] for row in rows) == [0, 1, 2, 4, 5], "each good message once, the failed one never"
    assert queue_depth(sqs, url) == 1


def test_a_poison_message_ends_in_the_dead_letter_queue(local: Any, tmp_path: Path) -> None:
    aws, service = local
    sqs, lam = aws.client("sqs"), aws.client("lambda")
    dlq_url, dlq_arn = make_queue(sqs, unique("dead"))
    url, arn = make_queue(
        sqs, unique("work"), VisibilityTimeout="1",
        RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}),
    )
    make_worker(aws, "poisoned", tmp_path / "ledger")
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": 1, "raise": True}))
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="poisoned", BatchSize=1)
    dead = wait_for(lambda: sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=1).get("Messages"), what="the DLQ")
    assert json.loads(dead[0]["Body"]) == {"n": 1, "raise": True}
    assert service.metrics("poisoned").errors == 2, "received twice (maxReceiveCount), failed twice"
    assert queue_depth(sqs, url) == 0


def test_message_conservation_under_random_failures(local: Any, tmp_path: Path) -> None:
    """300 messages, random failures of items and of whole batches: each succeeds exactly once or is dead-lettered.

    The queue's visibility timeout is 6x the function's timeout, as AWS advises: a shorter one lets
    a slow batch's messages reappear while it still runs, and they are processed twice (on AWS too).
    """
    aws, service = local
    sqs, lam = aws.client("sqs"), aws.client("lambda")
    dlq_url, dlq_arn = make_queue(sqs, unique("dead"))
    url, arn = make_queue(
        sqs, unique("busy"), VisibilityTimeout="6",
        RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}),
    )
    make_worker(aws, "busy", tmp_path / "ledger", p_raise=0.1, timeout_s=1, batch_s=0.2)
    total, poison = 300, {7, 150, 299}
    for start in range(0, total, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(n), "MessageBody": json.dumps({"n": n, "p_fail": 0.2, "fail": n in poison})}
            for n in range(start, start + 10)
        ])
    lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName="busy", BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"],
        ScalingConfig={"MaximumConcurrency": 4},
    )
    dead: list[dict[str, Any]] = []

    def settled() -> bool:
        dead.extend(drain(sqs, dlq_url))
        return len({row["n"] for row in ledger(tmp_path / "ledger")}) + len(dead) >= total and queue_depth(sqs, url) == 0

    wait_for(settled, timeout=120, what="every message to succeed or be dead-lettered")
    rows = ledger(tmp_path / "ledger")
    done = Counter(row["n"] for row in rows)
    dead_ns = {json.loads(message["Body"])["n"] for message in dead}
    assert not [n for n, times in done.items() if times > 1], "a message was processed again after its success"
    assert not set(done) & dead_ns, "a processed message was dead-lettered"
    assert set(done) | dead_ns == set(range(total)), "a message was lost"
    assert poison <= dead_ns
    assert service.metrics("busy").peak_concurrency >= 2, "a deep queue runs several batches at once"
    assert service.metrics("busy").peak_concurrency <= 4, "ScalingConfig.MaximumConcurrency bounds the batches"


def test_pollers_stop_when_the_service_closes(tmp_path: Path) -> None:
    service = LambdaService(clock=LessonClock(speed=600), data_dir=tmp_path / "lambda")
    aws = LocalAws.start(lambda_app=service)
    service.endpoint_url = aws.endpoint_url
    try:
        sqs = aws.client("sqs")
        _url, arn = make_queue(sqs, unique("idle"))
        make_worker(aws, "idle", tmp_path / "ledger")
        aws.client("lambda").create_event_source_mapping(EventSourceArn=arn, FunctionName="idle")
        threads = service.event_sources.threads()
        assert threads, "the mapping polls on a thread of its own"
    finally:
        service.close()
        aws.close()
    assert not [t for t in threads if t.is_alive()]
    assert not [t for t in threading.enumerate() if t.name.startswith(("labkit-sqs-", "labkit-stream-"))]


def test_api_errors_are_lambdas(local: Any, tmp_path: Path) -> None:
    aws, _service = local
    sqs, lam = aws.client("sqs"), aws.client("lambda")
    _url, arn = make_queue(sqs, unique("errors"))
    make_worker(aws, "errors", tmp_path / "ledger")

    def error(**kwargs: Any) -> tuple[str, str]:
        with pytest.raises(ClientError) as caught:
            lam.create_event_source_mapping(**kwargs)
        return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]

    assert error(EventSourceArn=arn, FunctionName="missing")[0] == "ResourceNotFoundException"
    code, message = error(EventSourceArn=arn, FunctionName="errors", BatchSize=50)
    assert code == "InvalidParameterValueException" and "greater than 0 if maximum batch size is greater than 10" in message
    assert error(EventSourceArn=arn, FunctionName="errors", StartingPosition="LATEST")[0] == "InvalidParameterValueException"
    assert error(EventSourceArn=arn, FunctionName="errors", BisectBatchOnFunctionError=True)[0] == "InvalidParameterValueException"
    code, message = error(EventSourceArn=arn + "-nope", FunctionName="errors")
    assert code == "InvalidParameterValueException" and "Create the queue first" in message

    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="errors", Enabled=False)
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Disabled"
    code, message = error(EventSourceArn=arn, FunctionName="errors")
    assert code == "ResourceConflictException" and mapping["UUID"] in message
    listed = lam.list_event_source_mappings(FunctionName="errors")["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [mapping["UUID"]]
    assert lam.delete_event_source_mapping(UUID=mapping["UUID"])["State"] == "Deleting"
    with pytest.raises(ClientError) as caught:
        lam.get_event_source_mapping(UUID=mapping["UUID"])
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_delivered_records_match_the_builders_and_sqs_checksums(local: Any) -> None:
    aws, _service = local
    sqs = aws.client("sqs")
    url, arn = make_queue(sqs, unique("shape"))
    attributes = {"kind": {"DataType": "String", "StringValue": "order"}, "n": {"DataType": "Number", "StringValue": "3"}}
    sqs.send_message(QueueUrl=url, MessageBody="hello", MessageAttributes=attributes)
    [message] = sqs.receive_message(QueueUrl=url, AttributeNames=["All"], MessageAttributeNames=["All"])["Messages"]
    delivered = record_from_message(message, arn)
    built = sqs_record("hello", message_attributes=attributes, queue_arn=arn)
    assert delivered.keys() == built.keys() and delivered["attributes"].keys() == built["attributes"].keys()
    assert built["md5OfMessageAttributes"] == message["MD5OfMessageAttributes"] == md5_of_message_attributes(attributes)
    assert built["md5OfBody"] == message["MD5OfBody"]
    assert delivered["messageAttributes"] == built["messageAttributes"]


def test_reserved_concurrency_bounds_the_batches_of_a_deep_queue(local: Any, tmp_path: Path) -> None:
    aws, service = local
    sqs, lam = aws.client("sqs"), aws.client("lambda")
    url, arn = make_queue(sqs, unique("reserved"), VisibilityTimeout="30")
    make_worker(aws, "reserved", tmp_path / "ledger", batch_s=0.1)
    lam.put_function_concurrency(FunctionName="reserved", ReservedConcurrentExecutions=1)
    for start in range(0, 60, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(n), "MessageBody": json.dumps({"n": n})} for n in range(start, start + 10)
        ])
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="reserved", BatchSize=5)
    wait_for_ledger(tmp_path / "ledger", 60, "every message")
    metrics = service.metrics("reserved")
    assert metrics.peak_concurrency == 1 and metrics.throttles == 0, "one batch at a time, none throttled"
