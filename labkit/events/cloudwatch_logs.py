"""CloudWatch Logs subscription events: ``{"awslogs": {"data": base64(gzip(JSON))}}``, and their decoding.

>>> data = cloudwatch_logs.decode(cloudwatch_logs.event(["hello"]))
>>> data["logEvents"][0]["message"]
'hello'
"""
from __future__ import annotations

import base64
import gzip
import json
import time
from collections.abc import Iterable
from typing import Any

from labkit.runtime import limits


def event(
    messages: Iterable[str | tuple[float, str]] = ("example log line",),
    *,
    log_group: str = "/aws/lambda/example",
    log_stream: str = "2026/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
    subscription_filters: list[str] | None = None,
    account: str = limits.DEFAULT_ACCOUNT_ID,
    message_type: str = "DATA_MESSAGE",
) -> dict[str, Any]:
    """A subscription event carrying `messages` (strings, or ``(epoch seconds, message)`` pairs)."""
    now_ms = int(time.time() * 1000)
    log_events = []
    for index, item in enumerate(messages):
        timestamp_ms, message = (int(item[0] * 1000), item[1]) if isinstance(item, tuple) else (now_ms, item)
        log_events.append({"id": _event_id(timestamp_ms, index), "timestamp": timestamp_ms, "message": message})
    data = {
        "messageType": message_type,
        "owner": account,
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": list(subscription_filters or ["example-filter"]),
        "logEvents": log_events,
    }
    return {"awslogs": {"data": encode(data)}}


def encode(data: dict[str, Any]) -> str:
    """gzip, then base64, as CloudWatch Logs sends a subscription's payload."""
    return base64.b64encode(gzip.compress(json.dumps(data).encode())).decode()


def decode(event: dict[str, Any]) -> dict[str, Any]:
    """The JSON inside a subscription event (what a handler does first)."""
    return json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))


def _event_id(timestamp_ms: int, index: int) -> str:
    """A 56-digit event id like CloudWatch's (the timestamp first, so ids sort by time)."""
    return f"{timestamp_ms:020d}{index:036d}"
