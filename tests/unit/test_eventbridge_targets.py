"""What an EventBridge Lambda target receives: the event, its Input, InputPath or InputTransformer."""
from __future__ import annotations

import json

import pytest

from labkit.events import eventbridge
from labkit.triggers.eventbridge import InputPathError, json_path, rule_event, target_payload, transform

EVENT = eventbridge.event("shop", "Order Paid", {"id": 7, "items": [{"sku": "A-1"}], "note": 'say "hi"'}, event_time=0)
RULE_ARN = "arn:aws:events:us-east-1:123456789012:rule/paid"


def payload(target: dict) -> object:
    return json.loads(target_payload(target, EVENT, RULE_ARN, "paid"))


def test_without_input_settings_the_target_gets_the_event() -> None:
    assert payload({"Arn": "x"}) == EVENT


def test_constant_input_and_input_path() -> None:
    assert payload({"Input": '{"fixed": true}'}) == {"fixed": True}
    assert payload({"InputPath": "$.detail.items[0].sku"}) == "A-1"
    assert payload({"InputPath": "$['detail-type']"}) == "Order Paid"
    assert payload({"InputPath": "$.detail.missing"}) is None


def test_an_input_transformer_quotes_strings_only_outside_quotes() -> None:
    text = transform(EVENT, {"id": "$.detail.id", "note": "$.detail.note", "kind": "$.detail-type"},
                     '{"line": "<kind>: <id> <note>", "id": <id>, "kind": <kind>, "rule": "<aws.events.rule-name>"}',
                     RULE_ARN, "paid")
    assert json.loads(text) == {"line": 'Order Paid: 7 say "hi"', "id": 7, "kind": "Order Paid", "rule": "paid"}


def test_a_plain_text_template_arrives_as_a_json_string() -> None:
    assert json.loads(transform(EVENT, {"id": "$.detail.id"}, "order <id> paid", RULE_ARN, "paid")) == "order 7 paid"


def test_bad_paths_say_how_to_write_them() -> None:
    with pytest.raises(InputPathError, match=r"start it with \$"):
        json_path(EVENT, "detail.id")
    with pytest.raises(InputPathError, match=r"\$\.a\.b"):
        json_path(EVENT, "$.detail..id")


def test_moto_events_become_the_builders_events() -> None:
    moto_event = {"version": "0", "id": "e-1", "detail-type": "T", "source": "s", "account": "123456789012",
                  "time": 90.5, "region": "us-east-1", "resources": [], "detail": {"a": 1}, "ingestion-time": 91.0}
    assert rule_event(moto_event) == eventbridge.event("s", "T", {"a": 1}, event_id="e-1", event_time=90.5)
