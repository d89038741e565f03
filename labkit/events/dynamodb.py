"""DynamoDB Streams events: the ``{"Records": [...]}`` batch a DynamoDB stream mapping hands a function.

:func:`dynamodb_record` builds one record from plain Python values (keys and images are
serialised to DynamoDB's typed JSON, ``{"N": "101"}``); :func:`record_from_stream` turns a
record as boto3's ``dynamodbstreams.get_records`` returns it into the record Lambda sends, and is
what labkit's stream poller uses. Both end in the same code.

>>> record = dynamodb_record("MODIFY", keys={"Id": 101}, new_image={"Id": 101, "Message": "changed"},
...                          old_image={"Id": 101, "Message": "New item!"})
>>> record["dynamodb"]["NewImage"]["Message"]
{'S': 'changed'}
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import time
import uuid
from decimal import Decimal
from typing import Any

from labkit.runtime.limits import DEFAULT_ACCOUNT_ID, DEFAULT_REGION

EVENT_NAMES = ("INSERT", "MODIFY", "REMOVE")
VIEW_TYPES = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")
DEFAULT_STREAM_ARN = (
    f"arn:aws:dynamodb:{DEFAULT_REGION}:{DEFAULT_ACCOUNT_ID}:table/my-table/stream/2026-01-01T00:00:00.000"
)


def dynamodb_event(*records: dict[str, Any]) -> dict[str, Any]:
    """The event of one batch: ``{"Records": [record, ...]}``."""
    return {"Records": list(records)}


def dynamodb_record(
    event_name: str = "INSERT",
    keys: dict[str, Any] | None = None,
    new_image: dict[str, Any] | None = None,
    old_image: dict[str, Any] | None = None,
    *,
    stream_view_type: str = "NEW_AND_OLD_IMAGES",
    stream_arn: str = DEFAULT_STREAM_ARN,
    sequence_number: str | None = None,
    created_at: float | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """One DynamoDB stream record as Lambda delivers it.

    Keys default to ``{"Id": 101}``; an INSERT or MODIFY without ``new_image`` gets the keys as
    its new image, a MODIFY or REMOVE without ``old_image`` the keys as its old one. The images
    kept follow ``stream_view_type`` as on a real stream.
    """
    if event_name not in EVENT_NAMES:
        raise ValueError(f"event_name {event_name!r} is not a DynamoDB stream event: use one of {EVENT_NAMES}")
    if stream_view_type not in VIEW_TYPES:
        raise ValueError(f"stream_view_type {stream_view_type!r} is invalid: use one of {VIEW_TYPES}")
    keys = {"Id": 101} if keys is None else keys
    if new_image is None and event_name != "REMOVE":
        new_image = dict(keys)
    if old_image is None and event_name != "INSERT":
        old_image = dict(keys)
    change: dict[str, Any] = {
        "ApproximateCreationDateTime": int(time.time() if created_at is None else created_at),
        "Keys": serialize(keys),
    }
    if new_image is not None and event_name != "REMOVE" and stream_view_type in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
        change["NewImage"] = serialize(new_image)
    if old_image is not None and event_name != "INSERT" and stream_view_type in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES"):
        change["OldImage"] = serialize(old_image)
    change["SequenceNumber"] = sequence_number or str(time.time_ns())
    change["SizeBytes"] = len(json.dumps([change.get("Keys"), change.get("NewImage"), change.get("OldImage")]))
    change["StreamViewType"] = stream_view_type
    return _record(event_id or uuid.uuid4().hex, event_name, change, stream_arn)


def record_from_stream(raw: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """The record Lambda sends for `raw`, one record of boto3's ``get_records`` answer."""
    change = dict(raw["dynamodb"])
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, dt.datetime):  # boto3 parses the timestamp; Lambda sends epoch seconds
        change["ApproximateCreationDateTime"] = int(created.timestamp())
    for image in ("Keys", "NewImage", "OldImage"):
        if image in change:
            change[image] = _json_ready(change[image])
    return _record(raw["eventID"], raw["eventName"], change, stream_arn)


def created_at(record: dict[str, Any]) -> float:
    """When the change was made (epoch seconds), from a record of either origin."""
    return float(record["dynamodb"].get("ApproximateCreationDateTime") or 0)


def serialize(item: dict[str, Any]) -> dict[str, Any]:
    """Plain Python values as DynamoDB's typed JSON (floats through Decimal, bytes as base64)."""
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {name: _json_ready(serializer.serialize(_decimals(value))) for name, value in item.items()}


def _record(event_id: str, event_name: str, change: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    return {
        "eventID": event_id,
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": stream_arn.split(":")[3],
        "dynamodb": change,
        "eventSourceARN": stream_arn,
    }


def _decimals(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _decimals(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_decimals(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return {_decimals(v) for v in value}
    return value


def _json_ready(value: Any) -> Any:
    """Typed JSON with binary values as base64 text, as in Lambda's event."""
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_json_ready(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    if hasattr(value, "value") and isinstance(getattr(value, "value"), bytes):  # boto3's Binary
        return base64.b64encode(value.value).decode()
    return value
