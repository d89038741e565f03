"""EventBridge rules with Lambda targets: matching events (and schedule firings) invoke the function
asynchronously (principal ``events.amazonaws.com``) with the event of :mod:`labkit.events.eventbridge`,
or what the target's ``Input``, ``InputPath`` or ``InputTransformer`` makes of it.

The embedded EventBridge hands each firing of a rule with Lambda targets over
(:class:`labkit.aws.embedded.hooks.RuleFiring`), and asks :func:`schedule_error` before it accepts a
ScheduleExpression. Other targets (SQS, logs...) stay the embedded AWS's.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from labkit.aws.embedded.hooks import RuleFiring, ScheduleRule
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


def scheduled_firing_event(rule: ScheduleRule, when: float) -> dict[str, Any]:
    """A schedule firing of `rule` at lesson time `when`, in the shape the embedded EventBridge routes."""
    event = eventbridge_events.scheduled_event(rule.name, event_time=when, region=rule.region, account=rule.account)
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


def firing_payloads(firing: RuleFiring) -> list[tuple[str, bytes]]:
    """Each Lambda target of `firing` with what it receives (see :func:`target_payload`)."""
    event = rule_event(firing.event)
    return [(target["Arn"], target_payload(target, event, firing.rule_arn, firing.rule_name)) for target in firing.targets]


def schedule_error(expression: str) -> str | None:
    """Why EventBridge rejects a ScheduleExpression (None: it accepts it)."""
    try:
        parse(expression)
    except ScheduleExpressionError as exc:
        return str(exc)
    return None
