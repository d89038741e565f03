"""Event builders (SQS, DynamoDB Streams, Kinesis) against Powertools' parser models and SAM's sample events."""
from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamModel, KinesisDataStreamModel, SqsModel

from labkit.events.dynamodb import dynamodb_event, dynamodb_record, record_from_stream
from labkit.events.kinesis import kinesis_event, kinesis_record
from labkit.events.kinesis import record_from_stream as kinesis_from_stream
from labkit.events.sqs import md5_of_message_attributes, record_from_message, sqs_event, sqs_record

SAM = Path(__file__).resolve().parents[1] / "fixtures" / "sam_events"


def sam_record(name: str, index: int = 0) -> dict[str, Any]:
    return dict(json.loads((SAM / name).read_text())["Records"][index])


def keys(value: Any, prefix: str = "") -> set[str]:
    """Every key path of a JSON document, for shape comparisons."""
    if not isinstance(value, dict):
        return set()
    out: set[str] = set()
    for key, inner in value.items():
        out.add(prefix + key)
        if key not in ("Keys", "NewImage", "OldImage", "messageAttributes"):  # user data below these
            out |= keys(inner, f"{prefix}{key}.")
    return out


def test_sqs_records_parse_with_powertools_and_have_sams_keys() -> None:
    event = sqs_event(sqs_record({"order": 7}), sqs_record("text", message_attributes={"kind": "a", "n": 2, "b": b"\x01"}))
    parsed = SqsModel.model_validate(event)
    assert json.loads(parsed.Records[0].body) == {"order": 7}
    assert parsed.Records[1].messageAttributes["b"].binaryValue == base64.b64encode(b"\x01").decode()
    # AWS sends md5OfMessageAttributes: null without attributes (recorded answers, tests/conformance); SAM's sample omits it
    assert keys(event["Records"][0]) == keys(sam_record("sqs.json")) | {"md5OfMessageAttributes"}
    assert event["Records"][0]["md5OfMessageAttributes"] is None
    assert event["Records"][1]["md5OfMessageAttributes"] == md5_of_message_attributes(
        {"kind": {"DataType": "String", "StringValue": "a"}, "n": {"DataType": "Number", "StringValue": "2"},
         "b": {"DataType": "Binary", "BinaryValue": b"\x01"}}
    )


def test_an_sqs_message_from_boto3_becomes_the_same_record_shape() -> None:
    message = {
        "MessageId": "m-1", "ReceiptHandle": "r-1", "MD5OfBody": "x", "Body": "hello",
        "Attributes": {"SenderId": "123456789012", "ApproximateReceiveCount": "2", "SentTimestamp": "1",
                       "ApproximateFirstReceiveTimestamp": "2", "SomethingElse": "dropped"},
    }
    record = record_from_message(message, "arn:aws:sqs:eu-west-1:123456789012:q")
    assert keys(record) == keys(sqs_record()), "one shape for built and delivered records"
    assert record["attributes"]["ApproximateReceiveCount"] == "2" and "SomethingElse" not in record["attributes"]
    assert record["awsRegion"] == "eu-west-1"
    SqsModel.model_validate(sqs_event(record))


@pytest.mark.parametrize("name", ["INSERT", "MODIFY", "REMOVE"])
def test_dynamodb_records_parse_with_powertools_and_match_sams_samples(name: str) -> None:
    record = dynamodb_record(name, keys={"Id": 101}, new_image={"Id": 101, "Message": "hi", "price": 1.5},
                             old_image={"Id": 101, "Message": "old"})
    parsed = DynamoDBStreamModel.model_validate(dynamodb_event(record))
    assert parsed.Records[0].eventName == name
    sample = sam_record("dynamodb-update.json", ["INSERT", "MODIFY", "REMOVE"].index(name))
    assert keys(record) == keys(sample)
    assert record["dynamodb"]["Keys"] == {"Id": {"N": "101"}}


def test_stream_view_types_keep_the_images_a_real_stream_keeps() -> None:
    keys_only = dynamodb_record("MODIFY", stream_view_type="KEYS_ONLY")["dynamodb"]
    assert "NewImage" not in keys_only and "OldImage" not in keys_only
    assert "OldImage" not in dynamodb_record("MODIFY", stream_view_type="NEW_IMAGE")["dynamodb"]
    with pytest.raises(ValueError, match="use one of"):
        dynamodb_record("UPSERT")


def test_a_dynamodb_stream_record_from_boto3_becomes_lambdas_record() -> None:
    raw = {
        "eventID": "e1", "eventName": "INSERT", "eventVersion": "1.0", "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {"ApproximateCreationDateTime": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
                     "Keys": {"id": {"S": "a"}}, "NewImage": {"id": {"S": "a"}, "blob": {"B": b"\x00"}},
                     "SequenceNumber": "1", "SizeBytes": 9, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    }
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-01-01T00:00:00.000"
    record = record_from_stream(raw, arn)
    assert record["eventVersion"] == "1.1" and record["eventSourceARN"] == arn
    assert record["dynamodb"]["ApproximateCreationDateTime"] == 1767225600
    assert record["dynamodb"]["NewImage"]["blob"] == {"B": "AA=="}
    DynamoDBStreamModel.model_validate(dynamodb_event(record))


def test_kinesis_records_parse_with_powertools_and_have_sams_keys() -> None:
    record = kinesis_record({"temperature": 21}, partition_key="sensor-1")
    parsed = KinesisDataStreamModel.model_validate(kinesis_event(record))
    assert json.loads(parsed.Records[0].kinesis.data) == {"temperature": 21}
    assert keys(record) == keys(sam_record("kinesis.json"))
    raw = {"SequenceNumber": "42", "ApproximateArrivalTimestamp": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
           "Data": b"raw", "PartitionKey": "k"}
    delivered = kinesis_from_stream(raw, "arn:aws:kinesis:us-east-1:123456789012:stream/s", "shardId-1", "arn:aws:iam::123456789012:role/r")
    assert keys(delivered) == keys(record) and delivered["eventID"] == "shardId-1:42"
