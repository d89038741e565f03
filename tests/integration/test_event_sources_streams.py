"""DynamoDB Streams (and Kinesis) mappings end to end: boto3 against the local AWS, real functions."""
from __future__ import annotations

import base64
import json
import threading
from collections import Counter
from pathlib import Path
from typing import Any


from labkit.aws.local import LocalAws
from labkit.aws.waiters import wait_function_ready
from labkit.service.clock import LessonClock
from labkit.service.lambda_service import LambdaService
from tests.integration.test_event_sources_sqs import ROLE, drain, ledger, make_queue, unique, wait_for, wait_for_ledger
from tests.packages import app_zip

# Writes every record it gets (in order) to the ledger; fails a batch that holds a record marked poison.
RECORDER = """
import json, os
def handler(event, context):
    lines, failures = [], []
    for record in event["Records"]:
        if "dynamodb" in record:
            image = record["dynamodb"].get("NewImage") or {}
            if image.get("poison", {}).get("BOOL"):
                if os.environ.get("REPORT"):
                    failures.append({"itemIdentifier": record["dynamodb"]["SequenceNumber"]})
                    continue
                raise RuntimeError("poison record " + record["dynamodb"]["SequenceNumber"])
            lines.append(json.dumps({"name": record["eventName"], "keys": record["dynamodb"]["Keys"],
                                     "new": record["dynamodb"].get("NewImage"), "old": record["dynamodb"].get("OldImage"),
                                     "seq": record["dynamodb"]["SequenceNumber"], "size": len(event["Records"])}))
        else:
            lines.append(json.dumps({"data": record["kinesis"]["data"], "seq": record["kinesis"]["sequenceNumber"]}))
    fd = os.open(os.environ["LEDGER"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, ("\\n".join(lines) + "\\n").encode())
    os.close(fd)
    return {"batchItemFailures": failures}
"""


def make_recorder(aws: LocalAws, name: str, path: Path, report: bool = False) -> None:
    aws.client("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": app_zip(RECORDER)},
        Timeout=10, Environment={"Variables": {"LEDGER": str(path), "REPORT": "1" if report else ""}},
    )
    wait_function_ready(aws.client("lambda"), name)


def make_kinesis_stream(aws: LocalAws, name: str) -> str:
    """A one-shard Kinesis stream; returns its ARN."""
    kinesis = aws.client("kinesis")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    return str(kinesis.describe_stream(StreamName=name)["StreamDescription"]["StreamARN"])


def make_table(aws: LocalAws, name: str) -> str:
    table = aws.client("dynamodb").create_table(
        TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return str(table["TableDescription"]["LatestStreamArn"])


def test_item_changes_reach_the_function_in_order_with_their_images(local: Any, tmp_path: Path) -> None:
    aws, service = local
    ddb, lam = aws.client("dynamodb"), aws.client("lambda")
    table = unique("orders")
    stream_arn = make_table(aws, table)
    make_recorder(aws, "recorder", tmp_path / "ledger")
    ddb.put_item(TableName=table, Item={"id": {"S": "before"}})  # written before a LATEST mapping: not delivered
    mapping = lam.create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName="recorder", StartingPosition="LATEST", BatchSize=2
    )
    assert mapping["State"] == "Creating" and mapping["StartingPosition"] == "LATEST"
    assert mapping["MaximumRetryAttempts"] == -1 and mapping["BisectBatchOnFunctionError"] is False

    ddb.put_item(TableName=table, Item={"id": {"S": "a"}, "qty": {"N": "1"}})
    ddb.update_item(TableName=table, Key={"id": {"S": "a"}}, UpdateExpression="SET qty = :q",
                    ExpressionAttributeValues={":q": {"N": "2"}})
    ddb.put_item(TableName=table, Item={"id": {"S": "b"}})
    ddb.delete_item(TableName=table, Key={"id": {"S": "a"}})
    rows = wait_for_ledger(tmp_path / "ledger", 4, "4 records")
    assert [row["name"] for row in rows] == ["INSERT", "MODIFY", "INSERT", "REMOVE"]
    assert [row["keys"]["id"]["S"] for row in rows] == ["a", "a", "b", "a"]
    assert rows[1]["old"]["qty"] == {"N": "1"} and rows[1]["new"]["qty"] == {"N": "2"}
    assert rows[3]["new"] is None and rows[3]["old"]["qty"] == {"N": "2"}
    assert [int(row["seq"]) for row in rows] == sorted(int(row["seq"]) for row in rows)
    assert max(row["size"] for row in rows) <= 2, "BatchSize 2"
    ages = service.metrics("recorder").iterator_ages
    assert ages and all(age >= 0 for _t, age in ages), "IteratorAge is recorded per batch"
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["LastProcessingResult"] == "OK"


def test_bisect_isolates_a_poison_record_and_reports_it(local: Any, tmp_path: Path) -> None:
    aws, _service = local
    ddb, sqs, lam = aws.client("dynamodb"), aws.client("sqs"), aws.client("lambda")
    table = unique("payments")
    stream_arn = make_table(aws, table)
    failed_url, failed_arn = make_queue(sqs, unique("discarded"))
    make_recorder(aws, "bisect", tmp_path / "ledger")
    for n in range(8):
        ddb.put_item(TableName=table, Item={"id": {"S": f"p{n}"}, "poison": {"BOOL": n == 5}})
    lam.create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName="bisect", StartingPosition="TRIM_HORIZON", BatchSize=8,
        BisectBatchOnFunctionError=True, MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": failed_arn}},
    )
    [discarded] = wait_for(lambda: drain(sqs, failed_url), what="the failure record")
    record = json.loads(discarded["Body"])
    info = record["DDBStreamBatchInfo"]
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2, "one try and one retry"
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert info["batchSize"] == 1 and info["startSequenceNumber"] == info["endSequenceNumber"]
    assert info["streamArn"] == stream_arn
    rows = wait_for_ledger(tmp_path / "ledger", 7, "7 good records")
    ids = [row["keys"]["id"]["S"] for row in rows]
    assert sorted(set(ids)) == [f"p{n}" for n in range(8) if n != 5], "every other record got through"
    assert "p5" not in ids


def test_a_failing_batch_blocks_its_shard_until_it_succeeds(local: Any, tmp_path: Path) -> None:
    aws, service = local
    ddb, lam = aws.client("dynamodb"), aws.client("lambda")
    table = unique("blocked")
    stream_arn = make_table(aws, table)
    make_recorder(aws, "blocked", tmp_path / "ledger")
    ddb.put_item(TableName=table, Item={"id": {"S": "x"}, "poison": {"BOOL": True}})
    ddb.put_item(TableName=table, Item={"id": {"S": "y"}})
    mapping = lam.create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName="blocked", StartingPosition="TRIM_HORIZON", BatchSize=1
    )
    wait_for(lambda: service.metrics("blocked").errors >= 3, what="retries of the poison record")
    assert ledger(tmp_path / "ledger") == [], "nothing after the failing record gets through"
    # A stream record cannot be taken back: a maximum record age lets the shard move on past it.
    lam.update_event_source_mapping(UUID=mapping["UUID"], MaximumRecordAgeInSeconds=60)
    rows = wait_for(lambda: ledger(tmp_path / "ledger"), what="the shard to move on")
    assert [row["keys"]["id"]["S"] for row in rows] == ["y"]


def test_a_partial_batch_response_checkpoints_before_the_first_failed_record(local: Any, tmp_path: Path) -> None:
    aws, _service = local
    ddb, sqs, lam = aws.client("dynamodb"), aws.client("sqs"), aws.client("lambda")
    table = unique("partial")
    stream_arn = make_table(aws, table)
    failed_url, failed_arn = make_queue(sqs, unique("discarded"))
    make_recorder(aws, "reporter", tmp_path / "ledger", report=True)
    for name in ("a", "b", "poison", "c"):
        ddb.put_item(TableName=table, Item={"id": {"S": name}, "poison": {"BOOL": name == "poison"}})
    lam.create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName="reporter", StartingPosition="TRIM_HORIZON", BatchSize=4,
        MaximumBatchingWindowInSeconds=5, MaximumRetryAttempts=1, FunctionResponseTypes=["ReportBatchItemFailures"],
        DestinationConfig={"OnFailure": {"Destination": failed_arn}},
    )
    [discarded] = wait_for(lambda: drain(sqs, failed_url), what="the failure record")
    info = json.loads(discarded["Body"])["DDBStreamBatchInfo"]
    assert info["batchSize"] == 2, "the failed record and the one after it are given up together"
    delivered = Counter(row["keys"]["id"]["S"] for row in ledger(tmp_path / "ledger"))
    assert delivered == {"a": 1, "b": 1, "c": 2}, "records before the failure are done once; the rest is retried"


def test_kinesis_records_reach_the_function(local: Any, tmp_path: Path) -> None:
    aws, _service = local
    kinesis, lam = aws.client("kinesis"), aws.client("lambda")
    name = unique("clicks")
    arn = make_kinesis_stream(aws, name)
    make_recorder(aws, "clicks", tmp_path / "ledger")
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="clicks", StartingPosition="TRIM_HORIZON")
    for n in range(3):
        kinesis.put_record(StreamName=name, Data=json.dumps({"n": n}).encode(), PartitionKey="user-1")
    rows = wait_for_ledger(tmp_path / "ledger", 3, "3 records")
    assert [json.loads(base64.b64decode(row["data"]))["n"] for row in rows] == [0, 1, 2]


def test_stream_pollers_stop_when_the_service_closes(tmp_path: Path) -> None:
    service = LambdaService(clock=LessonClock(speed=600), data_dir=tmp_path / "lambda")
    aws = LocalAws.start(lambda_app=service)
    service.endpoint_url = aws.endpoint_url
    try:
        stream_arn = make_table(aws, unique("idle"))
        make_recorder(aws, "idle", tmp_path / "ledger")
        aws.client("lambda").create_event_source_mapping(
            EventSourceArn=stream_arn, FunctionName="idle", StartingPosition="LATEST"
        )
        threads = service.event_sources.threads()
        assert threads
    finally:
        service.close()
        aws.close()
    assert not [t for t in threads if t.is_alive()]
    assert not [t for t in threading.enumerate() if t.name.startswith("labkit-stream-")]
