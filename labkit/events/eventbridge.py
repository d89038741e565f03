"""EventBridge events as a Lambda target receives them, including the ``Scheduled Event`` of a schedule rule.

>>> eventbridge.event("shop.orders", "Order Placed", {"id": 7})["detail-type"]
'Order Placed'
"""
from __future__ import annotations

import time
import uuid
from typing import Any

from labkit.runtime import limits

SCHEDULED_DETAIL_TYPE = "Scheduled Event"


def event(
    source: str = "com.example.app",
    detail_type: str = "Example Event",
    detail: dict[str, Any] | None = None,
    *,
    resources: list[str] | None = None,
    event_id: str | None = None,
    event_time: float | str | None = None,
    region: str = limits.DEFAULT_REGION,
    account: str = limits.DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """One EventBridge event (the envelope every rule target gets).

    ``event_time`` is epoch seconds or an ISO string (default: now); events carry it to the second.
    """
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": event_time if isinstance(event_time, str) else iso_seconds(event_time),
        "region": region,
        "resources": list(resources or []),
        "detail": {} if detail is None else detail,
    }


def scheduled_event(
    rule: str = "example-rule",
    *,
    event_time: float | str | None = None,
    region: str = limits.DEFAULT_REGION,
    account: str = limits.DEFAULT_ACCOUNT_ID,
    event_id: str | None = None,
) -> dict[str, Any]:
    """What a schedule rule (``rate(...)`` / ``cron(...)``) sends its targets at each firing."""
    return event(
        "aws.events", SCHEDULED_DETAIL_TYPE, {}, resources=[rule_arn(rule, region, account)],
        event_id=event_id, event_time=event_time, region=region, account=account,
    )


def rule_arn(rule: str, region: str = limits.DEFAULT_REGION, account: str = limits.DEFAULT_ACCOUNT_ID,
             bus: str = "default") -> str:
    prefix = "" if bus == "default" else f"{bus}/"
    return f"arn:aws:events:{region}:{account}:rule/{prefix}{rule}"


def iso_seconds(epoch: float | None = None) -> str:
    """``2026-01-02T03:04:05Z``: the UTC time of an EventBridge event."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if epoch is None else epoch))
