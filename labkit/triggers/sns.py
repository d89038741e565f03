"""SNS subscriptions with protocol ``lambda``: each publish that passes the subscription's filter policy
invokes the function asynchronously (principal ``sns.amazonaws.com``) with the event of
:mod:`labkit.events.sns`, instead of moto's Lambda.
"""
from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from labkit.events import sns as sns_events

PRINCIPAL = "sns.amazonaws.com"


def subscription_event(subscription: Any, message: str, message_id: str, subject: str | None,
                       attributes: dict[str, Any] | None) -> dict[str, Any]:
    """The event SNS hands a Lambda subscriber of moto's `subscription`."""
    topic_arn = subscription.topic.arn
    return sns_events.event(
        message,
        topic=topic_arn,
        subject=subject,
        attributes=attributes,
        message_id=message_id,
        subscription_arn=subscription.arn,
        region=topic_arn.split(":")[3],
        account=subscription.account_id,
    )


def install(module: ModuleType, current_bridge: Callable[[], Any]) -> None:
    """Patch ``moto.sns.models.Subscription.publish`` for protocol ``lambda``."""
    subscription_class = module.Subscription
    original_publish = subscription_class.publish

    def publish(self: Any, message: str, message_id: str, subject: str | None = None,
                message_attributes: dict[str, Any] | None = None, group_id: str | None = None,
                deduplication_id: str | None = None, message_structure: str | None = None) -> None:
        bridge = current_bridge()
        if self.protocol != "lambda" or bridge is None:
            return original_publish(self, message, message_id, subject, message_attributes, group_id,
                                    deduplication_id, message_structure)
        matcher = self._filter_policy_matcher
        if matcher is not None and not matcher.matches(message_attributes, message):
            return None
        if message_structure == "json":
            message = self._parse_message_structure(message, self.protocol)
        event = subscription_event(self, message, message_id, subject, message_attributes)
        bridge.deliver("sns", self.topic.arn, PRINCIPAL, self.account_id, self.endpoint, event)
        return None

    subscription_class.publish = publish
