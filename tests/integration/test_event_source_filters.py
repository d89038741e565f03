"""Event filtering end to end: FilterCriteria through boto3 against the local AWS, real functions, real moto sources."""
from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from labkit.aws.waiters import wait_function_ready
from tests.integration.test_event_sources_sqs import (
    ROLE, drain, ledger, make_queue, queue_depth, unique, wait_for, wait_for_ledger,
)
from tests.integration.test_event_sources_streams import make_kinesis_stream, make_recorder, make_table
from tests.packages import app_zip

# Writes the body of every message it gets to the ledger, one JSON line per batch.
BODIES = """
import json, os
def handler(event, context):
    fd = os.open(os.environ["LEDGER"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, (json.dumps([record["body"] for record in event["Records"]]) + "\\n").encode())
    os.close(fd)
"""


def patterns(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"Filters": [{"Pattern": json.dumps(rule)} for rule in rules]}


def test_sqs_messages_that_match_no_filter_are_deleted_not_retried(local: Any, tmp_path: Path) -> None:
    aws, service = local
    sqs, lam = aws.client("sqs"), aws.client("lambda")
    dlq_url, dlq_arn = make_queue(sqs, unique("orders-dlq"))
    url, arn = make_queue(sqs, unique("orders"), VisibilityTimeout="1",
                          RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"}))
    lam.create_function(FunctionName="orders", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": app_zip(BODIES)}, Environment={"Variables": {"LEDGER": str(tmp_path / "ledger")}})
    wait_function_ready(lam, "orders")
    criteria = patterns({"body": {"kind": ["order"], "total": [{"numeric": [">=", 100]}]}}, {"body": [{"prefix": "urgent"}]})
    wanted = [json.dumps({"kind": "order", "total": 100 + n}) for n in range(3)] + ["urgent: call the customer"]
    unwanted = [json.dumps({"kind": "order", "total": 5}), json.dumps({"kind": "refund", "total": 500}), "hello"]
    for body in unwanted + wanted:
        sqs.send_message(QueueUrl=url, MessageBody=body)

    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="orders", BatchSize=10,
                                              MaximumBatchingWindowInSeconds=2, FilterCriteria=criteria)
    assert mapping["FilterCriteria"] == criteria
    assert lam.get_event_source_mapping(UUID=mapping["UUID"])["FilterCriteria"] == criteria
    [listed] = lam.list_event_source_mappings(FunctionName="orders")["EventSourceMappings"]
    assert listed["FilterCriteria"] == criteria

    wait_for(lambda: queue_depth(sqs, url) == 0, what="every message to leave the queue")
    delivered = [body for batch in ledger(tmp_path / "ledger") for body in batch]
    assert sorted(delivered) == sorted(wanted), "only the matching messages reach the function, each once"
    assert drain(sqs, dlq_url) == [], "filtered-out messages are deleted, never redriven to the DLQ"
    assert service.metrics("orders").invocations == len(ledger(tmp_path / "ledger"))


def test_a_dynamodb_stream_filtered_on_inserts_skips_the_other_changes(local: Any, tmp_path: Path) -> None:
    aws, _service = local
    ddb, lam = aws.client("dynamodb"), aws.client("lambda")
    table = unique("customers")
    stream_arn = make_table(aws, table)
    make_recorder(aws, "inserts", tmp_path / "ledger")
    mapping = lam.create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName="inserts", StartingPosition="TRIM_HORIZON", BatchSize=10,
        FilterCriteria=patterns({"eventName": ["INSERT"]}),
    )
    ddb.put_item(TableName=table, Item={"id": {"S": "a"}, "tier": {"S": "gold"}})
    ddb.update_item(TableName=table, Key={"id": {"S": "a"}}, UpdateExpression="SET tier = :t",
                    ExpressionAttributeValues={":t": {"S": "silver"}})
    ddb.put_item(TableName=table, Item={"id": {"S": "b"}})
    ddb.delete_item(TableName=table, Key={"id": {"S": "a"}})
    rows = wait_for_ledger(tmp_path / "ledger", 2, "the 2 inserts")
    assert [(row["name"], row["keys"]["id"]["S"]) for row in rows] == [("INSERT", "a"), ("INSERT", "b")]

    # Clearing the filters restarts the poller from its checkpoint, which has moved past the skipped
    # MODIFY and REMOVE: the next record to arrive is the next write, not a skipped change.
    wait_for(lambda: lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Enabled", what="Enabled")
    updated = lam.update_event_source_mapping(UUID=mapping["UUID"], FilterCriteria={})
    assert "FilterCriteria" not in updated
    assert "FilterCriteria" not in lam.get_event_source_mapping(UUID=mapping["UUID"])
    ddb.update_item(TableName=table, Key={"id": {"S": "b"}}, UpdateExpression="SET tier = :t",
                    ExpressionAttributeValues={":t": {"S": "gold"}})
    rows = wait_for_ledger(tmp_path / "ledger", 3, "the next write")
    assert [(row["name"], row["keys"]["id"]["S"]) for row in rows] == [("INSERT", "a"), ("INSERT", "b"), ("MODIFY", "b")]


def test_kinesis_records_are_filtered_on_their_json_data(local: Any, tmp_path: Path) -> None:
    aws, _service = local
    kinesis, lam = aws.client("kinesis"), aws.client("lambda")
    name = unique("clicks")
    arn = make_kinesis_stream(aws, name)
    make_recorder(aws, "clicks", tmp_path / "ledger")

    def put(data: Any) -> None:
        kinesis.put_record(StreamName=name, Data=data if isinstance(data, bytes) else json.dumps(data).encode(),
                           PartitionKey="user-1")

    def delivered() -> list[Any]:
        return [json.loads(base64.b64decode(row["data"]))["n"] for row in ledger(tmp_path / "ledger")]

    mapping = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName="clicks", StartingPosition="TRIM_HORIZON", BatchSize=10,
        FilterCriteria=patterns({"data": {"kind": ["click"], "n": [{"numeric": [">=", 2]}]}}),
    )
    for n in range(5):
        put({"kind": "click", "n": n})
    put({"kind": "view", "n": 5})
    put(b"plain text, not JSON")
    wait_for(lambda: len(delivered()) >= 3, what="the clicks from n=2")
    assert delivered() == [2, 3, 4]

    # A new filter applies from the checkpoint on, which is past the skipped view (n=5).
    wait_for(lambda: lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Enabled", what="Enabled")
    views = patterns({"data": {"kind": ["view"]}})
    assert lam.update_event_source_mapping(UUID=mapping["UUID"], FilterCriteria=views)["FilterCriteria"] == views
    put({"kind": "click", "n": 6})
    put({"kind": "view", "n": 7})
    wait_for(lambda: len(delivered()) >= 4, what="the next view")
    assert delivered() == [2, 3, 4, 7]


@pytest.mark.parametrize("criteria, message", [
    (patterns(*[{"eventName": [name]} for name in ("A", "B", "C", "D", "E", "F")]), "more than the 5 allowed"),
    ({"Filters": [{"Pattern": "{eventName: [INSERT]}"}]}, "Invalid filter pattern definition."),
    (patterns({"eventName": "INSERT"}), "'eventName' must be an object or an array"),
])
def test_invalid_filter_criteria_are_lambdas_errors(local: Any, tmp_path: Path, criteria: Any, message: str) -> None:
    aws, _service = local
    lam = aws.client("lambda")
    stream_arn = make_table(aws, unique("refused"))
    make_recorder(aws, "refused", tmp_path / "ledger")
    with pytest.raises(ClientError) as refused:
        lam.create_event_source_mapping(EventSourceArn=stream_arn, FunctionName="refused", StartingPosition="LATEST",
                                        FilterCriteria=criteria)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert message in refused.value.response["Error"]["Message"]
    assert lam.list_event_source_mappings(FunctionName="refused")["EventSourceMappings"] == []

    mapping = lam.create_event_source_mapping(EventSourceArn=stream_arn, FunctionName="refused", StartingPosition="LATEST")
    wait_for(lambda: lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Enabled", what="Enabled")
    with pytest.raises(ClientError, match="InvalidParameterValueException"):
        lam.update_event_source_mapping(UUID=mapping["UUID"], FilterCriteria=criteria)
    assert "FilterCriteria" not in lam.get_event_source_mapping(UUID=mapping["UUID"]), "a refused update changes nothing"
