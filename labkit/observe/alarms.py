"""CloudWatch metric alarms evaluated locally: moto stores alarms but never moves their state.

:class:`AlarmEvaluator` does what CloudWatch does every period: for each metric alarm it reads
the alarm's statistic over its last ``EvaluationPeriods`` periods (on the lesson clock), counts
the breaching datapoints (``DatapointsToAlarm`` of them turn it to ALARM), applies
``TreatMissingData``, and on a change calls ``SetAlarmState`` with CloudWatch's reason text and
publishes the alarm's SNS actions. ``describe_alarms`` then shows the new state.
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from labkit.service.clock import LessonClock

COMPARISONS: dict[str, tuple[str, Callable[[float, float], bool]]] = {
    "GreaterThanOrEqualToThreshold": ("greater than or equal to", lambda v, t: v >= t),
    "GreaterThanThreshold": ("greater than", lambda v, t: v > t),
    "LessThanThreshold": ("less than", lambda v, t: v < t),
    "LessThanOrEqualToThreshold": ("less than or equal to", lambda v, t: v <= t),
}


@dataclass(frozen=True)
class AlarmChange:
    """An alarm that changed state in one evaluation."""

    name: str
    old: str
    new: str
    reason: str
    at: float  # lesson time


def decide(alarm: dict[str, Any], values: list[float | None]) -> tuple[str, str] | None:
    """The state an alarm should be in given its last periods' values (oldest first, None: no data).

    Returns (state, reason), or None when the alarm keeps its state (missing data treated as
    ``ignore``, or an unknown comparison).
    """
    comparison = COMPARISONS.get(alarm.get("ComparisonOperator", ""))
    if comparison is None:
        return None
    words, breaches = comparison
    threshold = float(alarm["Threshold"])
    periods = int(alarm["EvaluationPeriods"])
    needed = int(alarm.get("DatapointsToAlarm") or periods)
    missing = alarm.get("TreatMissingData", "missing")
    present = [v for v in values if v is not None]
    if not present and missing in ("missing", "ignore"):
        return None if missing == "ignore" else ("INSUFFICIENT_DATA", "Insufficient Data: no datapoints were received.")
    breaching = sum(1 for v in present if breaches(v, threshold))
    if missing == "breaching":
        breaching += len(values) - len(present)
    shown = ", ".join(f"{v:g}" for v in present[-5:])
    if breaching >= needed:
        return "ALARM", f"Threshold Crossed: {_count(breaching, periods)} [{shown}] was {words} the threshold ({threshold:g})."
    calm = len(values) - breaching
    return "OK", f"Threshold Crossed: {_count(calm, periods)} [{shown}] was not {words} the threshold ({threshold:g})."


def _count(datapoints: int, periods: int) -> str:
    """CloudWatch's wording: "1 datapoint", "2 out of the last 3 datapoints"."""
    if periods > 1:
        return f"{datapoints} out of the last {periods} datapoints"
    return f"{datapoints} datapoint" if datapoints == 1 else f"{datapoints} datapoints"


class AlarmEvaluator:
    """Evaluates every metric alarm of the local CloudWatch against its data (see the module docstring)."""

    def __init__(self, cloudwatch: Any, clock: LessonClock, sns: Callable[[], Any] | None = None) -> None:
        self.cloudwatch = cloudwatch
        self.clock = clock
        self._sns = sns
        self.changes: list[AlarmChange] = []

    def evaluate(self) -> list[AlarmChange]:
        """One round over all metric alarms; returns the changes (also kept in ``changes``)."""
        now = self.clock.now()
        changes = []
        for alarm in self._alarms():
            if not alarm.get("MetricName") or alarm.get("Metrics"):
                continue  # metric-math alarms are not evaluated locally
            decision = decide(alarm, self._values(alarm, now))
            if decision is None or decision[0] == alarm["StateValue"]:
                continue
            state, reason = decision
            self.cloudwatch.set_alarm_state(
                AlarmName=alarm["AlarmName"], StateValue=state, StateReason=reason,
                StateReasonData=json.dumps({"version": "1.0", "evaluatedAt": _iso(now)}),
            )
            change = AlarmChange(alarm["AlarmName"], alarm["StateValue"], state, reason, now)
            changes.append(change)
            self._notify(alarm, change)
        self.changes += changes
        return changes

    def _alarms(self) -> list[dict[str, Any]]:
        alarms: list[dict[str, Any]] = []
        for page in self.cloudwatch.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"]):
            alarms += page.get("MetricAlarms", [])
        return alarms

    def _values(self, alarm: dict[str, Any], now: float) -> list[float | None]:
        period = int(alarm["Period"])
        periods = int(alarm["EvaluationPeriods"])
        statistic = alarm.get("Statistic") or "Average"
        end = now - now % period + period  # the period in progress counts, as data arrives
        values: list[float | None] = []
        for index in range(periods, 0, -1):  # one query per period: periods aligned to the clock
            start = end - index * period
            answer = self.cloudwatch.get_metric_statistics(
                Namespace=alarm["Namespace"], MetricName=alarm["MetricName"], Dimensions=alarm.get("Dimensions", []),
                StartTime=_utc(start), EndTime=_utc(start + period), Period=period, Statistics=[statistic],
            )
            points = answer.get("Datapoints", [])
            values.append(points[0][statistic] if points else None)
        return values

    def _notify(self, alarm: dict[str, Any], change: AlarmChange) -> None:
        actions = {"ALARM": "AlarmActions", "OK": "OKActions", "INSUFFICIENT_DATA": "InsufficientDataActions"}
        topics = [arn for arn in alarm.get(actions[change.new], []) if arn.startswith("arn:aws:sns:")]
        if not topics or not alarm.get("ActionsEnabled", True) or self._sns is None:
            return
        sns = self._sns()
        message = json.dumps({
            "AlarmName": change.name, "NewStateValue": change.new, "OldStateValue": change.old,
            "NewStateReason": change.reason, "StateChangeTime": _iso(change.at),
            "Trigger": {k: alarm.get(k) for k in ("MetricName", "Namespace", "Statistic", "Period", "Threshold",
                                                   "ComparisonOperator", "EvaluationPeriods")},
        })
        subject = f'{change.new}: "{change.name}" in {alarm.get("AlarmArn", ":::us-east-1").split(":")[3]}'
        for topic in topics:
            sns.publish(TopicArn=topic, Subject=subject[:100], Message=message)


def _utc(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc)


def _iso(epoch: float) -> str:
    return _utc(epoch).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
