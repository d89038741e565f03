"""A function's recent figures per period, for a dashboard: invocations, errors, duration
percentiles, concurrency, cold starts, recent log lines and the state of its alarms."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from labkit.errors import ConfigurationError
from labkit.observe.metrics import percentile


@dataclass(frozen=True)
class Bucket:
    """One period (lesson time `start` .. `start + period_s`)."""

    start: float
    invocations: int
    errors: int
    cold_starts: int
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    concurrency: int  # the most concurrent executions in the period


@dataclass(frozen=True)
class FunctionSummary:
    """What a dashboard shows for one function."""

    function_name: str
    period_s: float
    buckets: tuple[Bucket, ...]
    recent_logs: tuple[str, ...]
    alarms: tuple[tuple[str, str], ...]  # (alarm name, state)

    @property
    def totals(self) -> dict[str, int]:
        return {
            "invocations": sum(b.invocations for b in self.buckets),
            "errors": sum(b.errors for b in self.buckets),
            "cold_starts": sum(b.cold_starts for b in self.buckets),
        }


def summarize(observer: Any, function_name: str, period_s: float = 60, periods: int = 15, log_lines: int = 12) -> FunctionSummary:
    """The last `periods` periods of `function_name` as `observer` (a ServiceObserver) saw them."""
    if period_s <= 0 or periods < 1:
        raise ConfigurationError(f"period_s={period_s!r} and periods={periods!r} must be positive: e.g. period_s=60, periods=15")
    observer.flush()
    now = observer.clock.now()
    first = (math.floor(now / period_s) - periods + 1) * period_s
    runs = [s for s in list(observer.invocations) if s.function_name == function_name and s.at >= first]
    samples = observer.service.limiter.metrics(function_name).samples
    buckets = []
    level = max([n for t, n in samples if t < first][-1:] or [0])
    for index in range(periods):
        start = first + index * period_s
        inside = [s for s in runs if start <= s.at < start + period_s]
        durations = [s.duration_ms for s in inside]
        steps = [n for t, n in samples if start <= t < start + period_s]
        buckets.append(Bucket(
            start, len(inside), sum(s.error for s in inside), sum(s.init_ms is not None for s in inside),
            percentile(durations, 50), percentile(durations, 90), percentile(durations, 99), max([level, *steps]),
        ))
        level = steps[-1] if steps else level
    return FunctionSummary(function_name, period_s, tuple(buckets), tuple(_recent_logs(observer, function_name, log_lines)),
                           tuple(_alarms(observer, function_name)))


def _recent_logs(observer: Any, function_name: str, count: int) -> list[str]:
    logs = observer.client("logs")
    group = f"/aws/lambda/{function_name}"
    try:
        events = logs.filter_log_events(logGroupName=group)["events"]
    except Exception as exc:  # no invoke yet: the group does not exist
        if "ResourceNotFound" in str(exc):
            return []
        raise
    events.sort(key=lambda e: (e["timestamp"], int(e.get("eventId", 0)) if str(e.get("eventId", "")).isdigit() else 0))
    return [e["message"] for e in events[-count:]] if count else []


def _alarms(observer: Any, function_name: str) -> list[tuple[str, str]]:
    alarms = observer.client("cloudwatch").describe_alarms(AlarmTypes=["MetricAlarm"])["MetricAlarms"]
    return [
        (a["AlarmName"], a["StateValue"]) for a in alarms
        if {"Name": "FunctionName", "Value": function_name} in a.get("Dimensions", [])
    ]
