"""Event filtering without a poller: FilterCriteria validation, what each source's patterns see, the API shape."""
from __future__ import annotations

import json
import re
from typing import Any

import botocore.session
import pytest

from labkit.events.dynamodb import dynamodb_record
from labkit.events.kinesis import kinesis_record
from labkit.events.sqs import sqs_record
from labkit.service.event_filters import MAX_FILTERS, FilterCriteria, filter_document, parse_filter_criteria
from labkit.service.event_sources import EventSourceMapping
from labkit.service.exceptions import InvalidParameterValueException

MODEL = botocore.session.get_session().get_service_model("lambda")


def criteria(*patterns: dict[str, Any]) -> FilterCriteria:
    parsed = parse_filter_criteria({"Filters": [{"Pattern": json.dumps(pattern)} for pattern in patterns]})
    assert parsed is not None
    return parsed


def admits(source: str, record: dict[str, Any], *patterns: dict[str, Any]) -> bool:
    return criteria(*patterns).matches(filter_document(source, record))


@pytest.mark.parametrize("value, message", [
    ({"Filters": [{"Pattern": "{}"}] * (MAX_FILTERS + 1)}, f"more than the {MAX_FILTERS} allowed"),
    ({"Filters": [{"Pattern": '{"body": {"kind": ["order"]}'}]}, "Invalid filter pattern definition. The Pattern of filter 1 is not valid JSON"),
    ({"Filters": [{"Pattern": ""}]}, "not valid JSON"),
    ({"Filters": [{"Pattern": '["INSERT"]'}]}, "must be a JSON object"),
    ({"Filters": [{"Pattern": "{}"}, {"Pattern": '{"eventName": "INSERT"}'}]}, "Filter 2: 'eventName' must be an object or an array"),
    ({"Filters": [{"Pattern": '{"eventName": []}'}]}, "Empty arrays are not allowed"),
    ({"Filters": [{}]}, "Filter 1 has no Pattern"),
    ({"Filters": [{"Pattern": json.dumps({"body": ["x" * 4096]})}]}, "length less than or equal to 4096"),
    ({"Filters": {"Pattern": "{}"}}, '{"Filters": [{"Pattern": "<JSON>"}, ...]}'),
])
def test_bad_filter_criteria_are_refused_with_a_message_that_names_the_problem(value: Any, message: str) -> None:
    with pytest.raises(InvalidParameterValueException, match=re.escape(message)):
        parse_filter_criteria(value)


def test_no_filters_means_no_filtering() -> None:
    assert parse_filter_criteria(None) is None
    assert parse_filter_criteria({}) is None
    assert parse_filter_criteria({"Filters": []}) is None
    assert parse_filter_criteria({"Filters": [{"Pattern": "{}"}] * MAX_FILTERS}) is not None


def test_the_configuration_document_returns_the_filters_as_given() -> None:
    given = {"Filters": [{"Pattern": '{ "eventName": ["INSERT"] }'}, {"Pattern": '{"eventName": ["REMOVE"]}'}]}
    mapping = EventSourceMapping(
        uuid="6d9f7a4e-0b8c-4d7e-9f2a-1c3b5d7e9f10", source="dynamodb",
        event_source_arn="arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-01-01T00:00:00.000",
        function_name="f", qualifier=None, batch_size=100, starting_position="LATEST",
        filter_criteria=parse_filter_criteria(given),
    )
    document = mapping.to_wire()
    assert document["FilterCriteria"] == given, "patterns come back as sent, spacing included"
    assert set(document) <= set(MODEL.shape_for("EventSourceMappingConfiguration").members)
    assert "FilterCriteria" not in EventSourceMapping(
        uuid="u", source="sqs", event_source_arn="arn:aws:sqs:us-east-1:123456789012:q", function_name="f",
        qualifier=None, batch_size=10,
    ).to_wire()


def test_sqs_patterns_see_a_json_body_as_json_and_other_bodies_as_text() -> None:
    order = sqs_record({"kind": "order", "total": 250, "customer": {"tier": "gold"}})
    note = sqs_record("urgent: call the customer")
    assert admits("sqs", order, {"body": {"kind": ["order"]}})
    assert admits("sqs", order, {"body": {"total": [{"numeric": [">", 100, "<=", 500]}]}})
    assert not admits("sqs", order, {"body": {"total": [{"numeric": [">", 300]}]}})
    assert admits("sqs", order, {"body": {"customer": {"tier": [{"anything-but": ["bronze"]}]}}})
    assert admits("sqs", order, {"body": {"coupon": [{"exists": False}]}})
    assert not admits("sqs", order, {"body": [{"prefix": "{"}]}), "a JSON body is not matched as text"
    assert admits("sqs", note, {"body": [{"prefix": "urgent"}]})
    assert not admits("sqs", note, {"body": {"kind": ["order"]}}), "no keys below a body that is not JSON"
    assert admits("sqs", note, {"body": {"kind": ["order"]}}, {"body": [{"prefix": "urgent"}]}), "any filter may match"
    assert admits("sqs", order, {"eventSource": ["aws:sqs"]}), "the record's other fields can be matched"


def test_dynamodb_patterns_see_the_record_as_lambda_sends_it() -> None:
    insert = dynamodb_record("INSERT", keys={"id": "a"}, new_image={"id": "a", "status": "NEW", "urgent": True})
    modify = dynamodb_record("MODIFY", keys={"id": "a"}, new_image={"id": "a", "status": "PAID"})
    only_inserts = {"eventName": ["INSERT"]}
    assert admits("dynamodb", insert, only_inserts) and not admits("dynamodb", modify, only_inserts)
    assert admits("dynamodb", modify, {"dynamodb": {"NewImage": {"status": {"S": [{"prefix": "PA"}]}}}})
    assert admits("dynamodb", insert, {"dynamodb": {"NewImage": {"urgent": {"BOOL": [True]}}}})
    assert not admits("dynamodb", modify, {"dynamodb": {"OldImage": {"status": {"S": ["PAID"]}}}})


def test_kinesis_patterns_see_json_data_decoded_next_to_the_record_fields() -> None:
    click = kinesis_record({"kind": "click", "n": 3}, partition_key="user-1")
    text = kinesis_record(b"plain text, not JSON")
    assert admits("kinesis", click, {"data": {"kind": ["click"], "n": [{"numeric": [">=", 2]}]}})
    assert not admits("kinesis", click, {"data": {"n": [{"numeric": [">", 3]}]}})
    assert admits("kinesis", click, {"partitionKey": ["user-1"], "eventName": ["aws:kinesis:record"]})
    assert not admits("kinesis", text, {"data": {"kind": ["click"]}}), "data that is not JSON has no keys"
    assert admits("kinesis", text, {"data": [{"exists": True}]})
