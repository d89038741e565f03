"""EventBridge rules with Lambda targets: matching events (and schedule firings) invoke the function
asynchronously (principal ``events.amazonaws.com``) with the event of :mod:`labkit.events.eventbridge`,
or what the target's ``Input``, ``InputPath`` or ``InputTransformer`` makes of it.

moto raises NotImplementedError for Lambda targets, sends every event to disabled rules and to
schedule rules, and accepts schedule expressions EventBridge rejects; the patched
``Rule.send_to_targets`` and ``EventsBackend.put_rule`` do as AWS does. Other targets (SQS, logs...)
stay moto's.
"""
from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

from labkit.events import eventbridge as eventbridge_events
from labkit.triggers.schedule import ScheduleExpressionError, parse

PRINCIPAL = "events.amazonaws.com"

_PATH_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']+)'\]")
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")


class InputPathError(ValueError):
    """A target's InputPath or InputPathsMap entry is not a JSONPath EventBridge accepts."""


def rule_event(moto_event: dict[str, Any]) -> dict[str, Any]:
    """The event a rule's targets get, from the one moto routes (epoch times, ingestion-time)."""
    when = moto_event.get("time")
    return eventbridge_events.event(
        moto_event.get("source", ""),
        moto_event.get("detail-type", ""),
        moto_event.get("detail") if isinstance(moto_event.get("detail"), dict) else {},
        resources=list(moto_event.get("resources") or []),
        event_id=moto_event.get("id"),
        event_time=when if isinstance(when, str) else float(when) if when not in (None, "") else None,
        region=moto_event.get("region", ""),
        account=moto_event.get("account", ""),
    )


def scheduled_moto_event(rule: Any, when: float) -> dict[str, Any]:
    """A schedule firing of moto's `rule` at lesson time `when`, in the shape moto's targets expect."""
    event = eventbridge_events.scheduled_event(rule.name, event_time=when, region=rule.region_name, account=rule.account_id)
    event["resources"] = [rule.arn]
    event["time"] = when
    event["ingestion-time"] = when
    return event


def target_payload(target: dict[str, Any], event: dict[str, Any], rule_arn: str, rule_name: str) -> bytes:
    """What a target receives: its constant Input, the InputPath's part, the InputTransformer's text, or the event."""
    if target.get("Input"):
        return str(target["Input"]).encode()
    if target.get("InputPath"):
        return json.dumps(json_path(event, target["InputPath"])).encode()
    transformer = target.get("InputTransformer")
    if transformer:
        return transform(event, transformer.get("InputPathsMap") or {}, transformer["InputTemplate"], rule_arn, rule_name)
    return json.dumps(event).encode()


def json_path(document: Any, path: str) -> Any:
    """The value at a simple JSONPath (``$``, ``$.detail.items[0].id``, ``$['detail-type']``); None if absent."""
    if not path.startswith("$"):
        raise InputPathError(f"{path!r} is not a JSONPath: start it with $, e.g. $.detail")
    rest, node = path[1:], document
    for step in _steps(path, rest):
        if isinstance(step, int):
            node = node[step] if isinstance(node, list) and step < len(node) else None
        else:
            node = node.get(step) if isinstance(node, dict) else None
    return node


def _steps(path: str, rest: str) -> Iterator[str | int]:
    position = 0
    while position < len(rest):
        match = _PATH_STEP.match(rest, position)
        if not match:
            raise InputPathError(f"{path!r}: cannot read {rest[position:]!r}; use $.a.b, $.a[0] or $['a-b']")
        name, index, quoted = match.groups()
        yield int(index) if index is not None else (name or quoted)
        position = match.end()


def transform(event: dict[str, Any], paths: dict[str, str], template: str, rule_arn: str, rule_name: str) -> bytes:
    """An InputTransformer: each ``<name>`` of the template becomes its path's value.

    Inside a quoted string a string value goes in as its text, elsewhere every value as JSON.
    """
    values: dict[str, Any] = {name: json_path(event, path) for name, path in paths.items()}
    values.update({
        "aws.events.rule-arn": rule_arn,
        "aws.events.rule-name": rule_name,
        "aws.events.event.json": event,
        "aws.events.event.ingestion-time": event.get("time"),
    })

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            return match.group(0)
        value = values[name]
        if _inside_string(template, match.start()):
            return json.dumps(value)[1:-1] if isinstance(value, str) else json.dumps(value)
        return json.dumps(value)

    text = _PLACEHOLDER.sub(substitute, template)
    try:
        json.loads(text)
    except ValueError:
        return json.dumps(text).encode()  # a plain-text template reaches the function as a JSON string
    return text.encode()


def _inside_string(template: str, position: int) -> bool:
    quotes = len(re.findall(r'(?<!\\)"', template[:position]))
    return quotes % 2 == 1


def install(module: ModuleType, current_bridge: Callable[[], Any]) -> None:
    """Patch ``moto.events.models``: Lambda targets through the bridge, AWS's rule states and schedules."""
    rule_class, backend_class = module.Rule, module.EventsBackend
    original_send = rule_class.send_to_targets
    original_put_rule = backend_class.put_rule
    validation_error = module.ValidationException

    def send_to_targets(self: Any, original_event: dict[str, Any], transform_input: bool = True,
                        scheduled: bool = False) -> None:
        bridge = current_bridge()
        if bridge is None:
            return original_send(self, original_event, transform_input)
        schedule_only = bool(self.scheduled_expression) and not self.event_pattern.get_pattern()
        if self.state != "ENABLED" or schedule_only != scheduled:
            return None
        lambda_targets = [t for t in self.targets if _is_lambda(t["Arn"])]
        other_targets = [t for t in self.targets if not _is_lambda(t["Arn"])]
        if other_targets:
            routed = copy.copy(self)
            routed.targets = other_targets
            original_send(routed, original_event, transform_input)
        if lambda_targets and self.event_pattern.matches_event(original_event):
            event = rule_event(original_event)
            for target in lambda_targets:
                payload = target_payload(target, event, self.arn, self.name)
                bridge.deliver("schedule" if scheduled else "events", self.arn, PRINCIPAL, self.account_id, target["Arn"],
                               payload)
        return None

    def put_rule(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        expression = kwargs.get("scheduled_expression")
        if expression and current_bridge() is not None:
            try:
                parse(expression)
            except ScheduleExpressionError as exc:
                raise validation_error(f"Parameter ScheduleExpression is not valid. {exc}") from None
        return original_put_rule(self, name, *args, **kwargs)

    rule_class.send_to_targets = send_to_targets
    backend_class.put_rule = put_rule


def scheduled_rules(module: ModuleType) -> Iterator[Any]:
    """Every enabled schedule rule of moto's EventBridge, in every account and region in use."""
    for account in list(module.events_backends.values()):
        for backend in list(account.values()):
            for bus in list(backend.event_buses.values()):
                for rule in list(bus.rules.values()):
                    if rule.scheduled_expression and rule.state == "ENABLED":
                        yield rule


def _is_lambda(arn: str) -> bool:
    return arn.split(":")[2:3] == ["lambda"]
