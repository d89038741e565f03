"""Kinesis Data Streams events: the ``{"Records": [...]}`` batch a Kinesis mapping hands a function.

:func:`kinesis_record` builds one record (the data base64-encoded, as Lambda sends it);
:func:`record_from_stream` turns a record of boto3's ``kinesis.get_records`` answer into it.

>>> import base64, json
>>> record = kinesis_record({"temperature": 21})
>>> json.loads(base64.b64decode(record["kinesis"]["data"]))
{'temperature': 21}
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import time
from typing import Any

from labkit.runtime.limits import DEFAULT_ACCOUNT_ID, DEFAULT_REGION

DEFAULT_STREAM_ARN = f"arn:aws:kinesis:{DEFAULT_REGION}:{DEFAULT_ACCOUNT_ID}:stream/my-stream"
DEFAULT_ROLE_ARN = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/lambda-role"
DEFAULT_SHARD = "shardId-000000000000"


def kinesis_event(*records: dict[str, Any]) -> dict[str, Any]:
    """The event of one batch: ``{"Records": [record, ...]}``."""
    return {"Records": list(records)}


def kinesis_record(
    data: Any = "Hello from Kinesis!",
    *,
    partition_key: str = "1",
    sequence_number: str | None = None,
    arrived_at: float | None = None,
    stream_arn: str = DEFAULT_STREAM_ARN,
    shard_id: str = DEFAULT_SHARD,
    role_arn: str = DEFAULT_ROLE_ARN,
) -> dict[str, Any]:
    """One Kinesis record as Lambda delivers it; `data` as bytes, text, or anything else as JSON."""
    payload = data if isinstance(data, bytes) else (data if isinstance(data, str) else json.dumps(data)).encode()
    return _record(
        {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": sequence_number or str(time.time_ns()),
            "data": base64.b64encode(payload).decode(),
            "approximateArrivalTimestamp": time.time() if arrived_at is None else arrived_at,
        },
        stream_arn, shard_id, role_arn,
    )


def record_from_stream(raw: dict[str, Any], stream_arn: str, shard_id: str, role_arn: str) -> dict[str, Any]:
    """The record Lambda sends for `raw`, one record of boto3's ``kinesis.get_records`` answer."""
    arrival = raw["ApproximateArrivalTimestamp"]
    return _record(
        {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": raw["PartitionKey"],
            "sequenceNumber": raw["SequenceNumber"],
            "data": base64.b64encode(raw["Data"]).decode(),
            "approximateArrivalTimestamp": arrival.timestamp() if isinstance(arrival, dt.datetime) else float(arrival),
        },
        stream_arn, shard_id, role_arn,
    )


def _record(kinesis: dict[str, Any], stream_arn: str, shard_id: str, role_arn: str) -> dict[str, Any]:
    return {
        "kinesis": kinesis,
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{kinesis['sequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": role_arn,
        "awsRegion": stream_arn.split(":")[3],
        "eventSourceARN": stream_arn,
    }
