"""SNS subscriptions with protocol ``lambda``: each publish that passes the subscription's filter policy
invokes the function asynchronously (principal ``sns.amazonaws.com``) with the event of
:mod:`labkit.events.sns`, instead of moto's Lambda.
"""
from __future__ import annotations

from typing import Any

from labkit.aws.embedded.hooks import TopicMessage
from labkit.events import sns as sns_events

PRINCIPAL = "sns.amazonaws.com"


def subscription_event(message: TopicMessage) -> dict[str, Any]:
    """The event SNS hands the Lambda subscriber of `message`."""
    return sns_events.event(
        message.message,
        topic=message.topic_arn,
        subject=message.subject,
        attributes=message.attributes,
        message_id=message.message_id,
        subscription_arn=message.subscription_arn,
        region=message.topic_arn.split(":")[3],
        account=message.account,
    )
