"""The embedded AWS's deliveries to Lambda, handed to labkit: S3 notifications, SNS and EventBridge.

moto delivers to a Lambda target by invoking *moto's* Lambda; the local AWS serves Lambda with
labkit's own service. :func:`install` patches moto once per process so that each delivery goes to
the :class:`Deliveries` that ``current()`` returns at that moment (on the thread that delivers);
when it returns None, moto behaves as it does on its own. What crosses this seam are plain
records (:class:`ObjectEvent`, :class:`TopicMessage`, :class:`RuleFiring`, :class:`ScheduleRule`),
never moto's objects.

Beyond the hand-over, the patches do what AWS does where moto does not: an EventBridge rule that
is disabled gets no events, a schedule rule gets only its firings (never bus events), other
targets of a rule stay moto's, and ``PutRule`` and ``PutBucketNotificationConfiguration`` are
refused where :class:`Deliveries` says AWS would refuse them.
"""
from __future__ import annotations

import copy
import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from labkit.aws.embedded.loading import load_moto


@dataclass(frozen=True)
class ObjectEvent:
    """One S3 object event that a bucket's notification configuration sends on."""

    event_name: str  # "s3:ObjectCreated:Put"
    bucket: str
    key: str
    size: int
    etag: str
    version_id: str | None  # None unless the bucket is versioned
    configuration_id: str
    region: str


@dataclass(frozen=True)
class TopicMessage:
    """One SNS message for a subscription with protocol ``lambda`` that passed its filter policy."""

    topic_arn: str
    subscription_arn: str
    account: str
    function_arn: str  # the subscription's endpoint
    message: str  # for this protocol (a ``MessageStructure=json`` message already picked)
    message_id: str
    subject: str | None
    attributes: dict[str, Any] | None


@dataclass(frozen=True)
class RuleFiring:
    """An event that an enabled EventBridge rule matched (or a schedule firing), for its Lambda targets."""

    rule_arn: str
    rule_name: str
    account: str
    event: dict[str, Any]  # as the bus routes it (``time`` may be epoch seconds)
    targets: tuple[dict[str, Any], ...]  # the rule's Lambda targets: Arn, Input, InputPath, InputTransformer
    scheduled: bool


class Deliveries(Protocol):
    """What labkit does with the embedded AWS's deliveries."""

    def s3_notification(self, event: ObjectEvent) -> dict[str, Any]:
        """The notification (``{"Records": [...]}``) S3 sends every destination for `event`."""

    def s3_to_lambda(self, account: str, notification: dict[str, Any], function_arn: str) -> None:
        """Invoke `function_arn` with `notification` (from the bucket owned by `account`)."""

    def s3_refusal(self, bucket: str, account: str, function_arn: str) -> str | None:
        """Why S3 may not invoke `function_arn` for `bucket` (None: it may)."""

    def sns_to_lambda(self, message: TopicMessage) -> None:
        """Invoke the subscriber of `message`."""

    def rule_to_lambda(self, firing: RuleFiring) -> None:
        """Invoke each of the firing's targets."""

    def schedule_error(self, expression: str) -> str | None:
        """Why EventBridge rejects the ScheduleExpression (None: it accepts it)."""


@dataclass(frozen=True)
class ScheduleRule:
    """An enabled EventBridge rule with a ScheduleExpression."""

    arn: str
    name: str
    expression: str
    region: str
    account: str
    _rule: Any

    def fire(self, event: dict[str, Any]) -> None:
        """Send one firing's event (moto's shape: ``time`` in epoch seconds) to the rule's targets."""
        self._rule.send_to_targets(event, scheduled=True)


def schedule_rules() -> list[ScheduleRule]:
    """Every enabled schedule rule of the embedded EventBridge, in every account and region in use."""
    load_moto()
    module = importlib.import_module("moto.events.models")
    found = []
    for account in list(module.events_backends.values()):
        for backend in list(account.values()):
            for bus in list(backend.event_buses.values()):
                for rule in list(bus.rules.values()):
                    if rule.scheduled_expression and rule.state == "ENABLED":
                        found.append(ScheduleRule(rule.arn, rule.name, rule.scheduled_expression, rule.region_name,
                                                  rule.account_id, rule))
    return found


CurrentDeliveries = Callable[[], "Deliveries | None"]

_lock = threading.Lock()
_installed = False


def install(current: CurrentDeliveries) -> None:
    """Patch moto's S3, SNS and EventBridge (once per process; later calls change nothing)."""
    global _installed
    load_moto()
    with _lock:
        if _installed:
            return
        _install_s3(importlib.import_module("moto.s3.notifications"), importlib.import_module("moto.s3.models"), current)
        _install_sns(importlib.import_module("moto.sns.models"), current)
        _install_events(importlib.import_module("moto.events.models"), current)
        _installed = True


def installed() -> bool:
    return _installed


def _install_s3(notifications: Any, models: Any, current: CurrentDeliveries) -> None:
    load_moto()
    from moto.s3.exceptions import InvalidArgumentError

    original_record = notifications._get_s3_event
    original_invoke = notifications._invoke_awslambda
    original_put = models.S3Backend.put_bucket_notification_configuration

    def record(event_name: Any, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
        deliveries = current()
        if deliveries is None:
            return dict(original_record(event_name, bucket, key, notification_id))
        return deliveries.s3_notification(ObjectEvent(
            str(getattr(event_name, "value", event_name)),  # moto passes its S3NotificationEvent enum
            bucket.name, key.name, key.size, key.etag,
            key.version_id if getattr(bucket, "is_versioned", False) else None,
            notification_id, bucket.region_name,
        ))

    def invoke_lambda(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
        deliveries = current()
        if deliveries is None:
            return original_invoke(account_id, event_body, fn_arn, region_name)  # type: ignore[no-any-return]
        deliveries.s3_to_lambda(account_id, event_body, fn_arn)
        return None

    def put_bucket_notification_configuration(self: Any, bucket_name: str, notification_config: dict[str, Any]) -> None:
        deliveries = current()
        if deliveries is not None:
            for config in notification_config.get("CloudFunctionConfiguration") or []:
                arn = config["CloudFunction"]
                if deliveries.s3_refusal(bucket_name, self.account_id, arn) is not None:
                    raise InvalidArgumentError(
                        "Unable to validate the following destination configurations", config.get("Id") or arn,
                        f"Not authorized to invoke function [{arn}]",
                    )
        original_put(self, bucket_name, notification_config)

    notifications._get_s3_event = record
    notifications._invoke_awslambda = invoke_lambda
    models.S3Backend.put_bucket_notification_configuration = put_bucket_notification_configuration


def _install_sns(models: Any, current: CurrentDeliveries) -> None:
    subscription_class = models.Subscription
    original_publish = subscription_class.publish

    def publish(self: Any, message: str, message_id: str, subject: str | None = None,
                message_attributes: dict[str, Any] | None = None, group_id: str | None = None,
                deduplication_id: str | None = None, message_structure: str | None = None) -> None:
        deliveries = current()
        if self.protocol != "lambda" or deliveries is None:
            return original_publish(self, message, message_id, subject, message_attributes,  # type: ignore[no-any-return]
                                    group_id, deduplication_id, message_structure)
        matcher = self._filter_policy_matcher
        if matcher is not None and not matcher.matches(message_attributes, message):
            return None
        if message_structure == "json":
            message = self._parse_message_structure(message, self.protocol)
        deliveries.sns_to_lambda(TopicMessage(self.topic.arn, self.arn, self.account_id, self.endpoint, message,
                                              message_id, subject, message_attributes))
        return None

    subscription_class.publish = publish


def _install_events(models: Any, current: CurrentDeliveries) -> None:
    rule_class, backend_class = models.Rule, models.EventsBackend
    original_send = rule_class.send_to_targets
    original_put_rule = backend_class.put_rule
    validation_error = models.ValidationException

    def send_to_targets(self: Any, original_event: dict[str, Any], transform_input: bool = True,
                        scheduled: bool = False) -> None:
        deliveries = current()
        if deliveries is None:
            return original_send(self, original_event, transform_input)  # type: ignore[no-any-return]
        schedule_only = bool(self.scheduled_expression) and not self.event_pattern.get_pattern()
        if self.state != "ENABLED" or schedule_only != scheduled:
            return None
        lambda_targets = tuple(t for t in self.targets if _is_lambda(t["Arn"]))
        other_targets = [t for t in self.targets if not _is_lambda(t["Arn"])]
        if other_targets:
            routed = copy.copy(self)
            routed.targets = other_targets
            original_send(routed, original_event, transform_input)
        if lambda_targets and self.event_pattern.matches_event(original_event):
            deliveries.rule_to_lambda(RuleFiring(self.arn, self.name, self.account_id, original_event, lambda_targets,
                                                 scheduled))
        return None

    def put_rule(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        expression = kwargs.get("scheduled_expression")
        deliveries = current()
        if expression and deliveries is not None:
            error = deliveries.schedule_error(expression)
            if error is not None:
                raise validation_error(f"Parameter ScheduleExpression is not valid. {error}")
        return original_put_rule(self, name, *args, **kwargs)

    rule_class.send_to_targets = send_to_targets
    backend_class.put_rule = put_rule


def _is_lambda(arn: str) -> bool:
    return arn.split(":")[2:3] == ["lambda"]
