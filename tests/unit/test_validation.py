"""Request validation from botocore's model, worded as AWS words it (messages recorded against AWS,
from LocalStack's snapshot tests/aws/services/lambda_/test_lambda_api.snapshot.json, Apache-2.0)."""
from __future__ import annotations

import json

import pytest

from labkit.service.validation import SerializationException, ValidationException, validate

FUNCTION_NAME_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?"
    r"([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?"
)


def message(operation: str, path: str, body: dict | None = None, query: dict | None = None,
            headers: dict | None = None) -> str:
    with pytest.raises(ValidationException) as raised:
        validate(operation, path, query or {}, headers or {}, body)
    response = raised.value.to_response()
    assert response.status == 400 and response.headers["x-amzn-ErrorType"] == "ValidationException"
    assert set(json.loads(response.body)) == {"message"}, "AWS sends no Type on the framework's errors"
    return raised.value.message


def test_an_invalid_function_name_names_the_model_s_pattern() -> None:
    assert message("Invoke", "/2015-03-31/functions/my-function!/invocations") == (
        "1 validation error detected: Value 'my-function!' at 'functionName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}"
    )


def test_a_role_that_is_no_arn_fails_its_pattern() -> None:
    body = {"FunctionName": "f", "Role": "r1", "Runtime": "python3.12", "Handler": "a.b", "Code": {"ZipFile": "UEs="}}
    assert message("CreateFunction", "/2015-03-31/functions", body) == (
        "1 validation error detected: Value 'r1' at 'role' failed to satisfy constraint: Member must satisfy regular "
        r"expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"
    )


def test_a_list_member_outside_its_enum_and_a_list_too_long() -> None:
    base = {"FunctionName": "f", "Role": "arn:aws:iam::123456789012:role/r", "Code": {"ZipFile": "UEs="}}
    assert message("CreateFunction", "/2015-03-31/functions", {**base, "Architectures": ["X86_64"]}) == (
        "1 validation error detected: Value '[X86_64]' at 'architectures' failed to satisfy constraint: Member must "
        "satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must not be null]"
    )
    assert message("CreateFunction", "/2015-03-31/functions", {**base, "Architectures": ["x86_64", "arm64"]}) == (
        "1 validation error detected: Value '[x86_64, arm64]' at 'architectures' failed to satisfy constraint: "
        "Member must have length less than or equal to 1"
    )


def test_ranges_query_strings_and_several_errors_at_once() -> None:
    small = {"FunctionName": "f", "Role": "arn:aws:iam::123456789012:role/r", "Code": {"ZipFile": "UEs="}, "MemorySize": 64}
    assert message("CreateFunction", "/2015-03-31/functions", small) == (
        "1 validation error detected: Value '64' at 'memorySize' failed to satisfy constraint: "
        "Member must have value greater than or equal to 128"
    )
    two = message("GetFunction", "/2015-03-31/functions/my-function!", query={"Qualifier": ["a" * 129]})
    assert two.startswith("2 validation errors detected: Value 'my-function!' at 'functionName'")
    assert "; Value '" + "a" * 129 + "' at 'qualifier' failed to satisfy constraint: Member must have length less " \
           "than or equal to 128" in two


def test_required_members_and_nested_paths() -> None:
    assert "Value null at 'role' failed to satisfy constraint: Member must not be null" in message(
        "CreateFunction", "/2015-03-31/functions", {"FunctionName": "f", "Code": {}})
    too_long = {"FunctionName": "f", "FilterCriteria": {"Filters": [{"Pattern": "x" * 4097}]}}
    assert "at 'filterCriteria.filters.1.member.pattern'" in message("CreateEventSourceMapping", "/2015-03-31/event-source-mappings", too_long)


def test_a_valid_request_passes_and_unknown_keys_are_ignored() -> None:
    body = {"FunctionName": "f", "Role": "arn:aws:iam::123456789012:role/r", "Runtime": "python3.12",
            "Handler": "app.handler", "Code": {"ZipFile": "UEs="}, "MemorySize": 256, "Unknown": [1]}
    validate("CreateFunction", "/2015-03-31/functions", {}, {}, body)
    validate("Invoke", "/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:f/invocations",
             {"Qualifier": ["$LATEST"]}, {"x-amz-invocation-type": "Event"}, None)


@pytest.mark.parametrize("body", [{"FunctionName": 5}, {"FunctionName": "f", "MemorySize": "big"},
                                  {"FunctionName": "f", "MemorySize": True}, {"FunctionName": "f", "Code": "x"}])
def test_a_member_of_the_wrong_json_type_is_a_serialization_error(body: dict) -> None:
    with pytest.raises(SerializationException) as raised:
        validate("CreateFunction", "/2015-03-31/functions", {}, {}, body)
    assert raised.value.to_response().status == 400
