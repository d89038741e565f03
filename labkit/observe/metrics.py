"""Lambda's CloudWatch metrics (namespace AWS/Lambda) and custom metrics from the Embedded Metric Format.

Per invocation: Invocations, Errors (0 or 1), Duration (and AsyncEventAge for asynchronous
events), with the dimension FunctionName. (AWS also
counts a qualified invoke under FunctionName + Resource; the local CloudWatch matches dimensions
as a subset, so those data would be counted twice under FunctionName alone: they are left out.) From the service's
counters (:class:`labkit.service.invoke.FunctionMetrics`): Throttles, DeadLetterErrors,
DestinationDeliveryFailures, AsyncEventsReceived, AsyncEventsDropped, the ConcurrentExecutions
steps and the IteratorAge of each stream batch. EMF lines (``{"_aws": {"CloudWatchMetrics": [...]}, ...}``, what
Powertools' ``Metrics`` prints) become metrics in their own namespace.

Timestamps are lesson time (``labkit.clock``), so alarms see periods pass as fast as the clock runs.
"""
from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from typing import Any

from labkit.service.invoke import FunctionMetrics

NAMESPACE = "AWS/Lambda"
MAX_DATA_PER_CALL = 1000  # PutMetricData: MetricData entries per call

# FunctionMetrics counter -> the CloudWatch metric published as its increase
COUNTER_METRICS = {
    "throttles": "Throttles",
    "dead_letter_errors": "DeadLetterErrors",
    "destination_failures": "DestinationDeliveryFailures",
    "async_received": "AsyncEventsReceived",
    "async_dropped": "AsyncEventsDropped",
}

Dimensions = tuple[tuple[str, str], ...]


@dataclass(slots=True)
class Datum:
    """One value of one metric at one time (lesson time, epoch seconds); made several times per invocation."""

    namespace: str
    name: str
    dimensions: Dimensions
    value: float
    unit: str
    timestamp: float

    def to_api(self) -> dict[str, Any]:
        return {
            "MetricName": self.name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in self.dimensions],
            "Value": float(self.value),
            "Unit": self.unit,
            "Timestamp": dt.datetime.fromtimestamp(self.timestamp, dt.timezone.utc),
        }


def invocation_data(
    name: str, error: bool, duration_ms: float, at: float, async_received_at: float | None = None
) -> list[Datum]:
    """Invocations, Errors and Duration of one invocation of function `name`; for an asynchronous
    event, AsyncEventAge too (from its acceptance to this attempt)."""
    dims: Dimensions = (("FunctionName", name),)
    data = [
        Datum(NAMESPACE, "Invocations", dims, 1, "Count", at),
        Datum(NAMESPACE, "Errors", dims, 1 if error else 0, "Count", at),
        Datum(NAMESPACE, "Duration", dims, duration_ms, "Milliseconds", at),
    ]
    if async_received_at is not None:
        data.append(Datum(NAMESPACE, "AsyncEventAge", dims, max(0.0, at - async_received_at) * 1000, "Milliseconds", at))
    return data


@dataclass
class CounterWatch:
    """Turns the service's running counters into metric data: what changed since the last look."""

    seen: dict[str, dict[str, int]] = field(default_factory=dict)
    last_sample: dict[str, float] = field(default_factory=dict)
    last_age: dict[str, float] = field(default_factory=dict)

    def data(self, metrics: FunctionMetrics, at: float) -> list[Datum]:
        name = metrics.name
        dims: Dimensions = () if name == "*" else (("FunctionName", name),)
        before = self.seen.setdefault(name, {})
        out = []
        for attribute, metric in COUNTER_METRICS.items():
            value = getattr(metrics, attribute)
            increase = value - before.get(attribute, 0)
            before[attribute] = value
            if increase > 0 and dims:
                out.append(Datum(NAMESPACE, metric, dims, increase, "Count", at))
        last = self.last_sample.get(name, -math.inf)
        out += [Datum(NAMESPACE, "ConcurrentExecutions", dims, concurrency, "Count", when)
                for when, concurrency in _newer(metrics.samples, last)]
        if metrics.samples:
            self.last_sample[name] = max(last, metrics.samples[-1][0])
        if dims:
            last = self.last_age.get(name, -math.inf)
            out += [Datum(NAMESPACE, "IteratorAge", dims, age, "Milliseconds", when)
                    for when, age in _newer(metrics.iterator_ages, last)]
            if metrics.iterator_ages:
                self.last_age[name] = max(last, metrics.iterator_ages[-1][0])
        return out


def _newer(series: list[tuple[float, Any]], last: float) -> list[tuple[float, Any]]:
    """The samples at the end of `series` (oldest first) taken after `last`: a busy function's series
    holds up to 100,000 of them, so it is read from its end."""
    start = len(series)
    while start and series[start - 1][0] > last:
        start -= 1
    return series[start:]


def emf_data(line: str, at: float) -> list[Datum]:
    """The metrics of one Embedded Metric Format line; [] for any other line (or a malformed one)."""
    if not line.startswith("{") or '"_aws"' not in line:
        return []
    try:
        document = json.loads(line)
        directives = document["_aws"]["CloudWatchMetrics"]
    except (ValueError, KeyError, TypeError):
        return []
    out = []
    for directive in directives if isinstance(directives, list) else []:
        namespace = directive.get("Namespace")
        if not isinstance(namespace, str):
            continue
        dimension_sets = directive.get("Dimensions") or [[]]
        for metric in directive.get("Metrics") or []:
            metric_name = metric.get("Name")
            values = document.get(metric_name)
            values = values if isinstance(values, list) else [values]
            for dimension_keys in dimension_sets:
                dims = tuple((key, str(document.get(key, ""))) for key in dimension_keys)
                out += [
                    Datum(namespace, metric_name, dims, value, metric.get("Unit", "None"), at)
                    for value in values
                    if isinstance(value, (int, float)) and not isinstance(value, bool)
                ]
    return out


def put_calls(data: list[Datum]) -> list[tuple[str, list[dict[str, Any]]]]:
    """PutMetricData calls for `data`: per namespace, within the call's limit.

    Values of one metric (same dimensions and unit) in the same second are sent as one entry with
    StatisticValues (SampleCount, Sum, Minimum, Maximum), as the CloudWatch agent does: the
    statistics CloudWatch answers with stay the same, and a busy function costs a few entries a
    second instead of several per invocation.
    """
    seconds: dict[tuple[str, str, Dimensions, str, int], list[float]] = {}
    for datum in data:
        key = (datum.namespace, datum.name, datum.dimensions, datum.unit, math.floor(datum.timestamp))
        seconds.setdefault(key, []).append(float(datum.value))
    by_namespace: dict[str, list[dict[str, Any]]] = {}
    for (namespace, name, dimensions, unit, second), values in seconds.items():
        entry = Datum(namespace, name, dimensions, values[0], unit, second).to_api()
        if len(values) > 1:
            del entry["Value"]
            entry["StatisticValues"] = {
                "SampleCount": float(len(values)), "Sum": math.fsum(values), "Minimum": min(values), "Maximum": max(values),
            }
        by_namespace.setdefault(namespace, []).append(entry)
    return [
        (namespace, entries[i : i + MAX_DATA_PER_CALL])
        for namespace, entries in by_namespace.items()
        for i in range(0, len(entries), MAX_DATA_PER_CALL)
    ]


def percentile(values: list[float], p: float) -> float | None:
    """The p-th percentile (0-100) by nearest rank, as CloudWatch's pNN statistics; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]
