"""Event builders for S3, SNS, EventBridge and CloudWatch Logs: valid for Powertools' parser models, with SAM's keys."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import CloudWatchLogsModel, EventBridgeModel, S3Model, SnsModel

from labkit.events import cloudwatch_logs, eventbridge, s3, sns

SAM = Path(__file__).parent.parent / "fixtures" / "sam_events"


def sam(name: str) -> dict[str, Any]:
    return json.loads((SAM / name).read_text())


def key_paths(node: Any, prefix: str = "") -> set[str]:
    """Every key path of a JSON document (list items as [])."""
    paths: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            paths.add(prefix + key)
            paths |= key_paths(value, f"{prefix}{key}.")
    elif isinstance(node, list):
        for item in node:
            paths |= key_paths(item, f"{prefix}[].")
    return paths


def attribute_names_hidden(paths: set[str]) -> set[str]:
    """SNS key paths with each message attribute's name as *."""
    return {re.sub(r"(MessageAttributes\.)[^.]+", r"\1*", path) for path in paths}


def test_an_s3_put_has_sams_keys_and_parses_as_powertools_s3_model() -> None:
    event = s3.event("photos", "holiday pics/tom & jerry.jpg", size=2048, etag='"abc"')
    assert key_paths(event) == key_paths(sam("s3-put.json"))
    parsed = S3Model.model_validate(event).Records[0]
    assert parsed.s3.object.key == "holiday+pics/tom+%26+jerry.jpg", "keys arrive URL-encoded, as S3 sends them"
    assert s3.object_key(event["Records"][0]) == "holiday pics/tom & jerry.jpg"
    assert parsed.s3.object.size == 2048 and parsed.s3.object.eTag == "abc"
    assert parsed.s3.bucket.arn == "arn:aws:s3:::photos" and parsed.eventVersion == "2.1"


def test_an_s3_delete_has_no_size_or_etag_and_versions_only_when_given() -> None:
    event = s3.event("photos", "a.jpg", event_name="s3:ObjectRemoved:Delete")
    assert key_paths(event) == key_paths(sam("s3-delete.json"))
    assert S3Model.model_validate(event).Records[0].eventName == "ObjectRemoved:Delete"
    versioned = s3.record("photos", "a.jpg", version_id="3HL4kqtJlcpXroDTDmjVBH40Nrjfkd")
    assert versioned["s3"]["object"]["versionId"] == "3HL4kqtJlcpXroDTDmjVBH40Nrjfkd"


def test_s3_sequencers_grow_for_later_events_on_a_key() -> None:
    first, second = (s3.record("b", "k")["s3"]["object"]["sequencer"] for _ in range(2))
    assert len(first) == len(second) and second > first


def test_an_sns_event_has_sams_keys_and_parses_as_powertools_sns_model() -> None:
    event = sns.event("hello", topic="orders", subject="New order", attributes={"color": "red", "size": 3})
    assert attribute_names_hidden(key_paths(event)) == attribute_names_hidden(key_paths(sam("sns.json")))
    parsed = SnsModel.model_validate(event).Records[0]
    assert parsed.Sns.TopicArn == "arn:aws:sns:us-east-1:123456789012:orders"
    assert parsed.EventSubscriptionArn.startswith(parsed.Sns.TopicArn + ":")
    assert parsed.Sns.MessageAttributes is not None
    assert {k: (v.Type, v.Value) for k, v in parsed.Sns.MessageAttributes.items()} == {
        "color": ("String", "red"), "size": ("Number", "3"),
    }
    assert sns.event("x")["Records"][0]["Sns"]["Subject"] is None


def test_an_eventbridge_event_parses_as_powertools_eventbridge_model() -> None:
    event = eventbridge.event("shop.orders", "Order Placed", {"id": 7}, resources=["arn:aws:s3:::b"], event_time=0)
    parsed = EventBridgeModel.model_validate(event)
    assert parsed.detail_type == "Order Placed" and parsed.detail == {"id": 7}
    assert event["time"] == "1970-01-01T00:00:00Z" and event["version"] == "0"


def test_a_scheduled_event_has_sams_keys_and_names_its_rule() -> None:
    event = eventbridge.scheduled_event("nightly", event_time=0)
    assert key_paths(sam("scheduled-event.json")) <= key_paths(event)
    assert key_paths(event) - key_paths(sam("scheduled-event.json")) == {"version"}, "AWS adds version: 0"
    parsed = EventBridgeModel.model_validate(event)
    assert parsed.resources == ["arn:aws:events:us-east-1:123456789012:rule/nightly"]
    assert parsed.source == "aws.events" and parsed.detail_type == "Scheduled Event" and parsed.detail == {}


def test_a_cloudwatch_logs_event_is_gzip_and_base64_and_parses_as_powertools_model() -> None:
    event = cloudwatch_logs.event([(1.5, "first"), (2.0, "second")], log_group="/aws/lambda/shop")
    assert key_paths(event) == key_paths(sam("cloudwatch-logs.json"))
    data = cloudwatch_logs.decode(event)
    assert key_paths(data) >= key_paths(cloudwatch_logs.decode(sam("cloudwatch-logs.json")))
    parsed = CloudWatchLogsModel.model_validate(event).awslogs.decoded_data
    assert [e.message for e in parsed.logEvents] == ["first", "second"]
    assert [e["timestamp"] for e in data["logEvents"]] == [1500, 2000]
    assert parsed.logGroup == "/aws/lambda/shop" and len(data["logEvents"][0]["id"]) == 56


@pytest.mark.parametrize("epoch, text", [(0, "1970-01-01T00:00:00.000Z"), (1.25, "1970-01-01T00:00:01.250Z")])
def test_s3_and_sns_times_carry_milliseconds(epoch: float, text: str) -> None:
    assert s3.record("b", "k", event_time=epoch)["eventTime"] == text
    assert sns.record("m", timestamp=epoch)["Sns"]["Timestamp"] == text
