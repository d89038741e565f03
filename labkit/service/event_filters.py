"""Event filtering of event source mappings: ``FilterCriteria``, checked as Lambda's API checks it, applied to records.

A mapping's ``FilterCriteria`` is ``{"Filters": [{"Pattern": "<JSON>"}, ...]}``; a record goes to
the function when ANY pattern matches it (AWS docs: "Control which events Lambda sends to your
function", invocation-eventfiltering). Patterns use EventBridge's rule syntax (equality, prefix,
suffix, anything-but, numeric, exists, equals-ignore-case, wildcard, ``$or``); the matching is the
embedded AWS's EventBridge matcher (:mod:`labkit.aws.embedded.patterns`), so labkit has one matcher, not two.

What a pattern sees (:func:`filter_document`), per source:

* SQS: the record as Lambda sends it, with ``body`` parsed when it is JSON (so keys below
  ``body`` can be matched); a body that is not JSON is matched as a plain string.
* DynamoDB Streams: the record as Lambda sends it (``eventName``, ``dynamodb.NewImage`` ...).
* Kinesis: the fields of the record's ``kinesis`` object (``partitionKey``, ``data`` ...) next to
  the record's own (``eventName`` ...), with ``data`` base64-decoded when it is JSON; data that is
  not JSON stays the base64 text, so a pattern on keys below ``data`` never matches it.

What happens to a record that matches no filter is the pollers' business: SQS deletes it,
streams move their checkpoint past it.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from labkit.aws.embedded.patterns import EventPattern, InvalidPatternError, compile_pattern
from labkit.service.exceptions import InvalidParameterValueException

# "By default, you can define up to five different filters for a single event source mapping"
# (AWS docs, invocation-eventfiltering; a quota increase allows up to 10). Not in shared/FACTS.md.
MAX_FILTERS = 5
MAX_PATTERN_CHARS = 4096  # Filter.Pattern's length constraint in Lambda's API model
INVALID_PATTERN = "Invalid filter pattern definition."  # Lambda's own message


@dataclass(frozen=True)
class FilterCriteria:
    """A mapping's filters: one event pattern per filter (``dump()`` gives the pattern as sent)."""

    patterns: tuple[EventPattern, ...]

    def to_wire(self) -> dict[str, Any]:
        return {"Filters": [{"Pattern": pattern.dump()} for pattern in self.patterns]}

    def matches(self, document: dict[str, Any]) -> bool:
        """Does any filter match `document` (a record as :func:`filter_document` shows it)?"""
        return any(pattern.matches_event(document) for pattern in self.patterns)


def parse_filter_criteria(value: Any) -> FilterCriteria | None:
    """The ``FilterCriteria`` of a Create or Update request, validated; None clears the filters."""
    if value is None:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("Filters", []), list):
        raise InvalidParameterValueException(
            'FilterCriteria must look like {"Filters": [{"Pattern": "<JSON>"}, ...]}; send {"Filters": []} to remove '
            "the filters"
        )
    filters = value.get("Filters") or []
    if len(filters) > MAX_FILTERS:
        raise InvalidParameterValueException(
            f"FilterCriteria has {len(filters)} filters, more than the {MAX_FILTERS} allowed for one event source "
            "mapping: merge patterns (one pattern can list several accepted values, or use \"$or\")"
        )
    if not filters:
        return None
    return FilterCriteria(tuple(_compile(index, _pattern_text(index, item)) for index, item in enumerate(filters, start=1)))


def filter_document(source: str, record: dict[str, Any]) -> dict[str, Any]:
    """The record of a mapping's `source` (sqs, dynamodb, kinesis) as its filter patterns see it."""
    if source == "sqs":
        return {**record, "body": _json_or_text(record.get("body", ""))}
    if source == "kinesis":
        fields = record.get("kinesis") or {}
        outer = {key: value for key, value in record.items() if key != "kinesis"}
        return {**outer, **fields, "data": _decoded_data(fields.get("data", ""))}
    return record


def _pattern_text(index: int, item: Any) -> str:
    pattern = item.get("Pattern") if isinstance(item, dict) else None
    if not isinstance(pattern, str):
        raise InvalidParameterValueException(
            f'{INVALID_PATTERN} Filter {index} has no Pattern: give each filter {{"Pattern": "<JSON>"}}'
        )
    if len(pattern) > MAX_PATTERN_CHARS:
        raise InvalidParameterValueException(
            f"1 validation error detected: Value at 'filterCriteria.filters.{index}.member.pattern' failed to satisfy "
            f"constraint: Member must have length less than or equal to {MAX_PATTERN_CHARS}"
        )
    return pattern


def _compile(index: int, pattern: str) -> EventPattern:
    try:
        parsed = json.loads(pattern)
    except ValueError as exc:
        raise InvalidParameterValueException(
            f"{INVALID_PATTERN} The Pattern of filter {index} is not valid JSON ({exc}): write it with json.dumps, "
            'e.g. json.dumps({"body": {"kind": ["order"]}})'
        ) from None
    if not isinstance(parsed, dict):
        raise InvalidParameterValueException(
            f"{INVALID_PATTERN} The Pattern of filter {index} must be a JSON object, e.g. "
            '{"eventName": ["INSERT"]}'
        )
    try:
        return compile_pattern(pattern)
    except InvalidPatternError as exc:
        raise InvalidParameterValueException(
            f"{INVALID_PATTERN} Filter {index}: {exc.reason}. Each key maps to an object of keys or to a non-empty list of "
            'accepted values, e.g. {"body": {"kind": ["order"]}}'
        ) from None


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _decoded_data(data: str) -> Any:
    try:
        return json.loads(base64.b64decode(data, validate=True))
    except (ValueError, binascii.Error):  # UnicodeDecodeError is a ValueError
        return data
