"""SQS events: the ``{"Records": [...]}`` batch an SQS event source mapping hands a function.

:func:`sqs_record` builds one record with sensible defaults (any field can be overridden);
:func:`record_from_message` turns a message as boto3's ``ReceiveMessage`` returns it into the
record Lambda sends, and is what labkit's SQS poller uses. Both end in the same code, so a record
built by hand and one delivered by the poller have the same shape.

>>> event = sqs_event(sqs_record({"order": 1}), sqs_record("plain text"))
>>> event["Records"][0]["eventSource"]
'aws:sqs'
"""
from __future__ import annotations

import base64
import hashlib
import json
import struct
import time
import uuid
from typing import Any

from labkit.runtime.limits import DEFAULT_ACCOUNT_ID, DEFAULT_REGION

DEFAULT_QUEUE_ARN = f"arn:aws:sqs:{DEFAULT_REGION}:{DEFAULT_ACCOUNT_ID}:my-queue"

#: The message system attributes Lambda copies into a record (those the message has).
RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "AWSTraceHeader",
    "SentTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "SenderId",
    "MessageDeduplicationId",
    "ApproximateFirstReceiveTimestamp",
)


def sqs_event(*records: dict[str, Any]) -> dict[str, Any]:
    """The event of one batch: ``{"Records": [record, ...]}``."""
    return {"Records": list(records)}


def sqs_record(
    body: Any = "Hello from SQS!",
    *,
    message_id: str | None = None,
    receipt_handle: str | None = None,
    queue_arn: str = DEFAULT_QUEUE_ARN,
    receive_count: int = 1,
    sent_at: float | None = None,
    message_attributes: dict[str, Any] | None = None,
    attributes: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One SQS record as Lambda delivers it.

    Parameters
    ----------
    body
        The message body: text as is, anything else as JSON.
    message_attributes
        ``{"name": value}`` where value is text (String), a number (Number), bytes (Binary), or an
        attribute in boto3's shape (``{"DataType": ..., "StringValue": ...}``).
    attributes
        System attributes merged over the defaults (``SentTimestamp``, ``SenderId``, ...).
    """
    text = body if isinstance(body, str) else json.dumps(body)
    sent_ms = str(int((time.time() if sent_at is None else sent_at) * 1000))
    system = {
        "ApproximateReceiveCount": str(receive_count),
        "SentTimestamp": sent_ms,
        "SenderId": DEFAULT_ACCOUNT_ID,
        "ApproximateFirstReceiveTimestamp": sent_ms,
        **(attributes or {}),
    }
    boto_attributes = {name: _boto_attribute(value) for name, value in (message_attributes or {}).items()}
    message_id = message_id or str(uuid.uuid4())
    return _record(
        message_id=message_id,
        receipt_handle=receipt_handle or base64.b64encode(f"{message_id} {uuid.uuid4().hex}".encode()).decode(),
        body=text,
        system=system,
        boto_attributes=boto_attributes,
        md5_of_attributes=md5_of_message_attributes(boto_attributes) if boto_attributes else None,
        queue_arn=queue_arn,
    )


def record_from_message(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """The record Lambda sends for `message`, one message of boto3's ``ReceiveMessage`` answer
    (asked for with ``MessageSystemAttributeNames=["All"]`` and ``MessageAttributeNames=["All"]``)."""
    return _record(
        message_id=message["MessageId"],
        receipt_handle=message["ReceiptHandle"],
        body=message.get("Body", ""),
        system=message.get("Attributes") or {},
        boto_attributes=message.get("MessageAttributes") or {},
        md5_of_attributes=message.get("MD5OfMessageAttributes"),
        queue_arn=queue_arn,
        md5_of_body=message.get("MD5OfBody"),
    )


def _record(
    *,
    message_id: str,
    receipt_handle: str,
    body: str,
    system: dict[str, str],
    boto_attributes: dict[str, dict[str, Any]],
    md5_of_attributes: str | None,
    queue_arn: str,
    md5_of_body: str | None = None,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "messageId": message_id,
        "receiptHandle": receipt_handle,
        "body": body,
        "attributes": {name: system[name] for name in RECORD_ATTRIBUTES if name in system},
        "messageAttributes": {name: _lambda_attribute(value) for name, value in boto_attributes.items()},
        "md5OfBody": md5_of_body or hashlib.md5(body.encode()).hexdigest(),
    }
    record["md5OfMessageAttributes"] = md5_of_attributes or None  # null without attributes, as Lambda sends it
    record["eventSource"] = "aws:sqs"
    record["eventSourceARN"] = queue_arn
    record["awsRegion"] = queue_arn.split(":")[3]
    return record


def _boto_attribute(value: Any) -> dict[str, Any]:
    """A message attribute in boto3's (SendMessage) shape."""
    if isinstance(value, dict):
        return value
    if isinstance(value, (bytes, bytearray)):
        return {"DataType": "Binary", "BinaryValue": bytes(value)}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {"DataType": "Number", "StringValue": str(value)}
    return {"DataType": "String", "StringValue": str(value)}


def _lambda_attribute(attribute: dict[str, Any]) -> dict[str, Any]:
    """boto3's ``{"StringValue", "BinaryValue", "DataType"}`` as Lambda spells it in a record."""
    out: dict[str, Any] = {}
    if "StringValue" in attribute:
        out["stringValue"] = attribute["StringValue"]
    if "BinaryValue" in attribute:
        out["binaryValue"] = base64.b64encode(attribute["BinaryValue"]).decode()
    out["stringListValues"] = list(attribute.get("StringListValues") or [])
    out["binaryListValues"] = [base64.b64encode(v).decode() for v in attribute.get("BinaryListValues") or []]
    out["dataType"] = attribute["DataType"]
    return out


def md5_of_message_attributes(attributes: dict[str, dict[str, Any]]) -> str:
    """SQS's MD5 of message attributes (names sorted; each field length-prefixed; 1 = text, 2 = binary)."""
    digest = hashlib.md5()

    def put(data: bytes) -> None:
        digest.update(struct.pack(">I", len(data)) + data)

    for name in sorted(attributes):
        attribute = attributes[name]
        put(name.encode())
        put(attribute["DataType"].encode())
        if "BinaryValue" in attribute:
            digest.update(b"\x02")
            put(bytes(attribute["BinaryValue"]))
        else:
            digest.update(b"\x01")
            put(str(attribute["StringValue"]).encode())
    return digest.hexdigest()
