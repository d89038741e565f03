"""SNS notifications as Lambda receives them: ``{"Records": [{"EventSource": "aws:sns", "Sns": {...}}]}``.

One record per delivery: the message, its subject (or None), its attributes as
``{"name": {"Type": "String", "Value": "..."}}`` and the notification's signature fields.
The local SNS trigger builds its events here.
"""
from __future__ import annotations

import base64
import hashlib
import uuid
from typing import Any

from labkit.events.s3 import iso_millis
from labkit.runtime import limits


def topic_arn(topic: str, region: str = limits.DEFAULT_REGION, account: str = limits.DEFAULT_ACCOUNT_ID) -> str:
    return f"arn:aws:sns:{region}:{account}:{topic}"


def record(
    message: str,
    *,
    topic: str = "example-topic",
    subject: str | None = None,
    attributes: dict[str, Any] | None = None,
    message_id: str | None = None,
    subscription_arn: str | None = None,
    timestamp: float | None = None,
    region: str = limits.DEFAULT_REGION,
    account: str = limits.DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """One SNS record.

    Parameters
    ----------
    message
        The message body (a string; publish JSON as ``json.dumps(...)``).
    attributes
        Message attributes, either plain values (``{"color": "red", "size": 3}``: String and
        Number) or SNS's own ``{"color": {"Type": "String", "Value": "red"}}``.
    topic
        The topic's name or ARN.
    subscription_arn
        The subscription's ARN (default: one made from the topic's).
    """
    arn = topic if topic.startswith("arn:") else topic_arn(topic, region, account)
    subscription = subscription_arn or f"{arn}:{uuid.uuid5(uuid.NAMESPACE_URL, arn)}"
    message_id = message_id or str(uuid.uuid4())
    endpoint = f"https://sns.{region}.amazonaws.com"
    digest = hashlib.sha256(f"{message_id}\n{message}\n{arn}".encode()).digest()
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription,
        "Sns": {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": arn,
            "Subject": subject,
            "Message": message,
            "Timestamp": iso_millis(timestamp),
            "SignatureVersion": "1",
            "Signature": base64.b64encode(digest * 8).decode(),
            "SigningCertUrl": f"{endpoint}/SimpleNotificationService-{hashlib.md5(arn.encode()).hexdigest()}.pem",
            "UnsubscribeUrl": f"{endpoint}/?Action=Unsubscribe&SubscriptionArn={subscription}",
            "MessageAttributes": message_attributes(attributes or {}),
        },
    }


def event(message: str = "example message", **fields: Any) -> dict[str, Any]:
    """An SNS event with one record (keyword arguments as :func:`record`)."""
    return {"Records": [record(message, **fields)]}


def message_attributes(attributes: dict[str, Any]) -> dict[str, dict[str, str]]:
    """SNS's ``{"Type", "Value"}`` form of message attributes (plain values: String, or Number for numbers)."""
    shaped: dict[str, dict[str, str]] = {}
    for name, value in attributes.items():
        if isinstance(value, dict) and "Type" in value:
            shaped[name] = {"Type": str(value["Type"]), "Value": _text(value.get("Value"))}
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            shaped[name] = {"Type": "Number", "Value": str(value)}
        else:
            shaped[name] = {"Type": "String", "Value": str(value)}
    return shaped


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return str(value)
